//! More per-API checks (offsets, configs, listings, share-group offsets, DescribeTopicPartitions,
//! SCRAM credentials) and the guarantee that every API Weir serves has a row in the gate.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::tests::{as_user, config, passed, refused, view};
use super::*;

#[test]
fn offsets_configs_and_listings() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    // OffsetCommit to a group without READ: every partition GROUP_AUTHORIZATION_FAILED.
    let mut oc = OffsetCommitRequest::default();
    oc.group_id = GroupId(StrBytes::from_static_str("h"));
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = TopicName(StrBytes::from_static_str("q-1"));
    t.partitions
        .push(offset_commit_request::OffsetCommitRequestPartition::default());
    oc.topics.push(t);
    let ResponseKind::OffsetCommit(resp) = refused(gate(
        &alice,
        &v,
        true,
        9,
        RequestKind::OffsetCommit(oc.clone()),
    )) else {
        panic!()
    };
    assert_eq!(resp.topics[0].partitions[0].error_code, 30);
    // ...with READ on the group: READ on the topic decides (q-1 yes, p-1 no).
    oc.group_id = GroupId(StrBytes::from_static_str("g"));
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = TopicName(StrBytes::from_static_str("p-1"));
    t.partitions
        .push(offset_commit_request::OffsetCommitRequestPartition::default());
    oc.topics.push(t);
    let (body, post) = passed(gate(&alice, &v, true, 9, RequestKind::OffsetCommit(oc)));
    assert!(matches!(body, RequestKind::OffsetCommit(r) if r.topics.len() == 1));
    let ResponseKind::OffsetCommit(resp) =
        post.unwrap()(ResponseKind::OffsetCommit(OffsetCommitResponse::default()))
    else {
        panic!()
    };
    assert_eq!(
        (
            resp.topics[0].name.0.as_str(),
            resp.topics[0].partitions[0].error_code
        ),
        ("p-1", 29)
    );
    // DescribeConfigs: a topic needs DESCRIBE_CONFIGS on it, a broker on the cluster.
    let mut dc = DescribeConfigsRequest::default();
    for (kind, name) in [(2i8, "q-1"), (4, "1")] {
        let mut res = describe_configs_request::DescribeConfigsResource::default();
        res.resource_type = kind;
        res.resource_name = StrBytes::from_static_str(name);
        dc.resources.push(res);
    }
    let (body, post) = passed(gate(&alice, &v, true, 4, RequestKind::DescribeConfigs(dc)));
    assert!(matches!(body, RequestKind::DescribeConfigs(r) if r.resources.is_empty()));
    let ResponseKind::DescribeConfigs(resp) = post.unwrap()(ResponseKind::DescribeConfigs(
        DescribeConfigsResponse::default(),
    )) else {
        panic!()
    };
    let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![29, 31]);
    // ListGroups shows the groups with DESCRIBE only.
    let (_, post) = passed(gate(
        &alice,
        &v,
        true,
        5,
        RequestKind::ListGroups(ListGroupsRequest::default()),
    ));
    let mut all = ListGroupsResponse::default();
    for g in ["g", "h"] {
        let mut l = list_groups_response::ListedGroup::default();
        l.group_id = GroupId(StrBytes::from_static_str(g));
        all.groups.push(l);
    }
    let ResponseKind::ListGroups(resp) = post.unwrap()(ResponseKind::ListGroups(all)) else {
        panic!()
    };
    assert_eq!(resp.groups.len(), 1);
    assert_eq!(resp.groups[0].group_id.0.as_str(), "g");
}

#[test]
fn share_group_offsets_check_the_group_and_the_topics() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    let mut alter = AlterShareGroupOffsetsRequest::default();
    alter.group_id = GroupId(StrBytes::from_static_str("g"));
    for n in ["q-1", "p-1"] {
        let mut t =
            alter_share_group_offsets_request::AlterShareGroupOffsetsRequestTopic::default();
        t.topic_name = TopicName(StrBytes::from_static_str(n));
        t.partitions.push(
            alter_share_group_offsets_request::AlterShareGroupOffsetsRequestPartition::default(),
        );
        alter.topics.push(t);
    }
    let (body, post) = passed(gate(
        &alice,
        &v,
        true,
        0,
        RequestKind::AlterShareGroupOffsets(alter.clone()),
    ));
    assert!(matches!(body, RequestKind::AlterShareGroupOffsets(r) if r.topics.len() == 1));
    let ResponseKind::AlterShareGroupOffsets(resp) = post.unwrap()(
        ResponseKind::AlterShareGroupOffsets(AlterShareGroupOffsetsResponse::default()),
    ) else {
        panic!()
    };
    assert_eq!(resp.responses[0].topic_name.0.as_str(), "p-1");
    assert_eq!(resp.responses[0].partitions[0].error_code, 29);
    alter.group_id = GroupId(StrBytes::from_static_str("h"));
    let ResponseKind::AlterShareGroupOffsets(resp) = refused(gate(
        &alice,
        &v,
        true,
        0,
        RequestKind::AlterShareGroupOffsets(alter),
    )) else {
        panic!()
    };
    assert_eq!(resp.error_code, 30);
}

/// A default request of `key` (every API Weir serves must be listed here).
fn default_request(key: ApiKey) -> RequestKind {
    match key {
        ApiKey::Produce => RequestKind::Produce(ProduceRequest::default()),
        ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default()),
        ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default()),
        ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default()),
        ApiKey::FindCoordinator => RequestKind::FindCoordinator(FindCoordinatorRequest::default()),
        ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default()),
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(DeleteTopicsRequest::default()),
        ApiKey::DeleteRecords => RequestKind::DeleteRecords(DeleteRecordsRequest::default()),
        ApiKey::DescribeConfigs => RequestKind::DescribeConfigs(DescribeConfigsRequest::default()),
        ApiKey::AlterConfigs => RequestKind::AlterConfigs(AlterConfigsRequest::default()),
        ApiKey::CreatePartitions => {
            RequestKind::CreatePartitions(CreatePartitionsRequest::default())
        }
        ApiKey::AlterPartitionReassignments => {
            RequestKind::AlterPartitionReassignments(AlterPartitionReassignmentsRequest::default())
        }
        ApiKey::ListPartitionReassignments => {
            RequestKind::ListPartitionReassignments(ListPartitionReassignmentsRequest::default())
        }
        ApiKey::IncrementalAlterConfigs => {
            RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default())
        }
        ApiKey::DescribeCluster => RequestKind::DescribeCluster(DescribeClusterRequest::default()),
        ApiKey::DescribeLogDirs => RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default()),
        ApiKey::AlterReplicaLogDirs => {
            RequestKind::AlterReplicaLogDirs(AlterReplicaLogDirsRequest::default())
        }
        ApiKey::DescribeTopicPartitions => {
            RequestKind::DescribeTopicPartitions(DescribeTopicPartitionsRequest::default())
        }
        ApiKey::DescribeQuorum => RequestKind::DescribeQuorum(DescribeQuorumRequest::default()),
        ApiKey::ElectLeaders => RequestKind::ElectLeaders(ElectLeadersRequest::default()),
        ApiKey::AddRaftVoter => RequestKind::AddRaftVoter(AddRaftVoterRequest::default()),
        ApiKey::RemoveRaftVoter => RequestKind::RemoveRaftVoter(RemoveRaftVoterRequest::default()),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default()),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(OffsetFetchRequest::default()),
        ApiKey::JoinGroup => RequestKind::JoinGroup(JoinGroupRequest::default()),
        ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
        ApiKey::SyncGroup => RequestKind::SyncGroup(SyncGroupRequest::default()),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(DescribeGroupsRequest::default()),
        ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(DeleteGroupsRequest::default()),
        ApiKey::OffsetDelete => RequestKind::OffsetDelete(OffsetDeleteRequest::default()),
        ApiKey::ConsumerGroupHeartbeat => {
            RequestKind::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest::default())
        }
        ApiKey::ConsumerGroupDescribe => {
            RequestKind::ConsumerGroupDescribe(ConsumerGroupDescribeRequest::default())
        }
        ApiKey::InitProducerId => RequestKind::InitProducerId(InitProducerIdRequest::default()),
        ApiKey::OffsetForLeaderEpoch => {
            RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default())
        }
        ApiKey::AddPartitionsToTxn => {
            RequestKind::AddPartitionsToTxn(AddPartitionsToTxnRequest::default())
        }
        ApiKey::AddOffsetsToTxn => RequestKind::AddOffsetsToTxn(AddOffsetsToTxnRequest::default()),
        ApiKey::EndTxn => RequestKind::EndTxn(EndTxnRequest::default()),
        ApiKey::WriteTxnMarkers => RequestKind::WriteTxnMarkers(WriteTxnMarkersRequest::default()),
        ApiKey::DescribeTransactions => {
            RequestKind::DescribeTransactions(DescribeTransactionsRequest::default())
        }
        ApiKey::ListTransactions => {
            RequestKind::ListTransactions(ListTransactionsRequest::default())
        }
        ApiKey::DescribeProducers => {
            RequestKind::DescribeProducers(DescribeProducersRequest::default())
        }
        ApiKey::TxnOffsetCommit => RequestKind::TxnOffsetCommit(TxnOffsetCommitRequest::default()),
        ApiKey::ShareGroupHeartbeat => {
            RequestKind::ShareGroupHeartbeat(ShareGroupHeartbeatRequest::default())
        }
        ApiKey::ShareGroupDescribe => {
            RequestKind::ShareGroupDescribe(ShareGroupDescribeRequest::default())
        }
        ApiKey::ShareFetch => RequestKind::ShareFetch(ShareFetchRequest::default()),
        ApiKey::ShareAcknowledge => {
            RequestKind::ShareAcknowledge(ShareAcknowledgeRequest::default())
        }
        ApiKey::InitializeShareGroupState => {
            RequestKind::InitializeShareGroupState(InitializeShareGroupStateRequest::default())
        }
        ApiKey::ReadShareGroupState => {
            RequestKind::ReadShareGroupState(ReadShareGroupStateRequest::default())
        }
        ApiKey::WriteShareGroupState => {
            RequestKind::WriteShareGroupState(WriteShareGroupStateRequest::default())
        }
        ApiKey::DeleteShareGroupState => {
            RequestKind::DeleteShareGroupState(DeleteShareGroupStateRequest::default())
        }
        ApiKey::DescribeShareGroupOffsets => {
            RequestKind::DescribeShareGroupOffsets(DescribeShareGroupOffsetsRequest::default())
        }
        ApiKey::AlterShareGroupOffsets => {
            RequestKind::AlterShareGroupOffsets(AlterShareGroupOffsetsRequest::default())
        }
        ApiKey::DeleteShareGroupOffsets => {
            RequestKind::DeleteShareGroupOffsets(DeleteShareGroupOffsetsRequest::default())
        }
        ApiKey::DescribeAcls => RequestKind::DescribeAcls(DescribeAclsRequest::default()),
        ApiKey::CreateAcls => RequestKind::CreateAcls(CreateAclsRequest::default()),
        ApiKey::DeleteAcls => RequestKind::DeleteAcls(DeleteAclsRequest::default()),
        ApiKey::DescribeClientQuotas => {
            RequestKind::DescribeClientQuotas(DescribeClientQuotasRequest::default())
        }
        ApiKey::AlterClientQuotas => {
            RequestKind::AlterClientQuotas(AlterClientQuotasRequest::default())
        }
        ApiKey::UpdateFeatures => RequestKind::UpdateFeatures(UpdateFeaturesRequest::default()),
        ApiKey::UnregisterBroker => {
            RequestKind::UnregisterBroker(UnregisterBrokerRequest::default())
        }
        ApiKey::GetTelemetrySubscriptions => {
            RequestKind::GetTelemetrySubscriptions(GetTelemetrySubscriptionsRequest::default())
        }
        ApiKey::PushTelemetry => RequestKind::PushTelemetry(PushTelemetryRequest::default()),
        // Served by the SASL / SCRAM work (issue 21), checked here already.
        ApiKey::SaslHandshake => RequestKind::SaslHandshake(SaslHandshakeRequest::default()),
        ApiKey::SaslAuthenticate => {
            RequestKind::SaslAuthenticate(SaslAuthenticateRequest::default())
        }
        ApiKey::DescribeUserScramCredentials => {
            RequestKind::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default())
        }
        ApiKey::AlterUserScramCredentials => {
            RequestKind::AlterUserScramCredentials(AlterUserScramCredentialsRequest::default())
        }
        other => panic!("add {other:?} here and its checks to authz/gate.rs"),
    }
}

#[test]
fn every_served_api_has_a_row_in_the_gate() {
    let (v, cfg) = (view(), config(true));
    let nobody = as_user(&cfg, &v, "User:nobody");
    for &(key, _, hi) in weir_protocol::versions::SUPPORTED {
        let outcome = gate(&nobody, &v, true, hi, default_request(key));
        assert!(
            !matches!(outcome, Gate::Close(_)),
            "{key:?} has no authorization row"
        );
    }
    // An API the table does not know closes the connection of anyone but a super user.
    let unknown = RequestKind::DescribeDelegationToken(DescribeDelegationTokenRequest::default());
    assert!(matches!(
        gate(&nobody, &v, true, 2, unknown.clone()),
        Gate::Close(_)
    ));
    let admin = as_user(&cfg, &v, "User:admin");
    assert!(matches!(
        gate(&admin, &v, true, 2, unknown),
        Gate::Pass(_, None)
    ));
}

#[test]
fn voter_changes_need_alter_on_the_cluster() {
    let (v, cfg) = (view(), config(true));
    let nobody = as_user(&cfg, &v, "User:nobody");
    let add = RequestKind::AddRaftVoter(AddRaftVoterRequest::default());
    let ResponseKind::AddRaftVoter(resp) = refused(gate(&nobody, &v, true, 0, add)) else {
        panic!("not an AddRaftVoter response");
    };
    assert_eq!(resp.error_code, 31);
    let remove = RequestKind::RemoveRaftVoter(RemoveRaftVoterRequest::default());
    let ResponseKind::RemoveRaftVoter(resp) = refused(gate(&nobody, &v, true, 0, remove)) else {
        panic!("not a RemoveRaftVoter response");
    };
    assert_eq!(resp.error_code, 31);
}

#[test]
fn describe_topic_partitions_never_widens_to_all_topics() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    let bob = as_user(&cfg, &v, "User:bob");
    let all = DescribeTopicPartitionsRequest::default();
    // All topics = the visible ones, named (so an emptied list never means "all").
    let (body, post) = passed(gate(
        &alice,
        &v,
        true,
        0,
        RequestKind::DescribeTopicPartitions(all.clone()),
    ));
    let RequestKind::DescribeTopicPartitions(r) = body else {
        panic!()
    };
    let names: Vec<&str> = r.topics.iter().map(|t| t.name.0.as_str()).collect();
    assert_eq!(names, vec!["p-1", "p-secret", "q-1"]);
    // The answer carries alice's operations on each topic (at least DESCRIBE, bit 8).
    let mut described =
        describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic::default();
    described.name = Some(TopicName(StrBytes::from_static_str("p-1")));
    let mut resp = DescribeTopicPartitionsResponse::default();
    resp.topics = vec![described];
    let post = post.expect("a merge that fills in the authorized operations");
    let ResponseKind::DescribeTopicPartitions(resp) =
        post(ResponseKind::DescribeTopicPartitions(resp))
    else {
        panic!()
    };
    let ops = resp.topics[0].topic_authorized_operations;
    assert!(ops != i32::MIN && ops & (1 << 8) != 0, "{ops}");
    let ResponseKind::DescribeTopicPartitions(resp) = refused(gate(
        &bob,
        &v,
        true,
        0,
        RequestKind::DescribeTopicPartitions(all),
    )) else {
        panic!()
    };
    assert!(resp.topics.is_empty(), "bob sees nothing");
    // Named topics bob may not describe: refused without running the handler.
    let mut named = DescribeTopicPartitionsRequest::default();
    for n in ["q-1", "p-1"] {
        let mut t = describe_topic_partitions_request::TopicRequest::default();
        t.name = TopicName(StrBytes::from_static_str(n));
        named.topics.push(t);
    }
    let ResponseKind::DescribeTopicPartitions(resp) = refused(gate(
        &bob,
        &v,
        true,
        0,
        RequestKind::DescribeTopicPartitions(named),
    )) else {
        panic!()
    };
    assert_eq!(
        resp.topics.iter().map(|t| t.error_code).collect::<Vec<_>>(),
        vec![29, 29]
    );
}

#[test]
fn scram_credential_apis_need_the_cluster_and_sasl_is_not_checked() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    let ResponseKind::DescribeUserScramCredentials(resp) = refused(gate(
        &alice,
        &v,
        true,
        0,
        RequestKind::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default()),
    )) else {
        panic!()
    };
    assert_eq!(resp.error_code, 31);
    let mut alter = AlterUserScramCredentialsRequest::default();
    let mut d = alter_user_scram_credentials_request::ScramCredentialDeletion::default();
    d.name = StrBytes::from_static_str("bob");
    alter.deletions.push(d);
    let ResponseKind::AlterUserScramCredentials(resp) = refused(gate(
        &alice,
        &v,
        true,
        0,
        RequestKind::AlterUserScramCredentials(alter.clone()),
    )) else {
        panic!()
    };
    assert_eq!(
        (resp.results[0].user.as_str(), resp.results[0].error_code),
        ("bob", 31)
    );
    let ops = as_user(&cfg, &v, "User:ops");
    passed(gate(
        &ops,
        &v,
        true,
        0,
        RequestKind::AlterUserScramCredentials(alter),
    ));
    passed(gate(
        &alice,
        &v,
        true,
        1,
        RequestKind::SaslHandshake(SaslHandshakeRequest::default()),
    ));
}
