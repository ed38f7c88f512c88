//! Request shapes: for every (API, version), the request's `Default` plus per-API scenario
//! values, each built per broker from its [`Ctx`] (topic ids and node ids differ between
//! brokers; everything else is the same bytes on both).

mod admin;
mod cluster;
mod data;
mod groups;
mod ops;
mod security;
mod shape;
mod txn_share;

pub use shape::{st, Ctx, Shape};

pub use admin::create_topic as admin_create_topic;
pub use data::{batch, produce};
pub use groups::commit;

use kafka_protocol::messages::*;

/// The shapes of `key` at version `v` (empty when the harness has none for `key`).
pub fn shapes_for(key: ApiKey, v: i16) -> Vec<Shape> {
    let mut out: Vec<Shape> = default_request(key)
        .map(|r| Shape::fixed("default", r))
        .into_iter()
        .collect();
    out.extend(
        data::shapes(key, v)
            .or_else(|| admin::shapes(key, v))
            .or_else(|| groups::shapes(key, v))
            .or_else(|| txn_share::shapes(key, v))
            .or_else(|| cluster::shapes(key, v))
            .or_else(|| ops::shapes(key, v))
            .or_else(|| security::shapes(key))
            .unwrap_or_default(),
    );
    if key == ApiKey::GetTelemetrySubscriptions {
        // The default shape asks for a new client instance id: random on both; the
        // subscription id is opaque (see `ops::SUBSCRIPTION_MASK`).
        out = out
            .into_iter()
            .map(|s| {
                if s.name == "default" {
                    s.masking(&["client_instance_id"])
                        .masking(ops::SUBSCRIPTION_MASK)
                } else {
                    s
                }
            })
            .collect();
    }
    if key == ApiKey::ApiVersions {
        // The ranges are compared one API at a time by the report's version lines.
        out = out.into_iter().map(|s| s.masking(&["api_keys"])).collect();
    }
    out
}

/// `key`'s request with every field at its default (None for APIs the harness does not know).
pub fn default_request(key: ApiKey) -> Option<RequestKind> {
    use RequestKind as R;
    Some(match key {
        // acks=0 would get no answer at all; the default shape of Produce asks for acks=1.
        ApiKey::Produce => R::Produce(ProduceRequest::default().with_acks(1)),
        ApiKey::Fetch => R::Fetch(FetchRequest::default()),
        ApiKey::ListOffsets => R::ListOffsets(ListOffsetsRequest::default()),
        ApiKey::Metadata => R::Metadata(MetadataRequest::default()),
        ApiKey::FindCoordinator => R::FindCoordinator(FindCoordinatorRequest::default()),
        ApiKey::ApiVersions => R::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::CreateTopics => R::CreateTopics(CreateTopicsRequest::default()),
        ApiKey::DeleteTopics => R::DeleteTopics(DeleteTopicsRequest::default()),
        ApiKey::DeleteRecords => R::DeleteRecords(DeleteRecordsRequest::default()),
        ApiKey::DescribeConfigs => R::DescribeConfigs(DescribeConfigsRequest::default()),
        ApiKey::AlterConfigs => R::AlterConfigs(AlterConfigsRequest::default()),
        ApiKey::CreatePartitions => R::CreatePartitions(CreatePartitionsRequest::default()),
        ApiKey::AlterPartitionReassignments => {
            R::AlterPartitionReassignments(AlterPartitionReassignmentsRequest::default())
        }
        ApiKey::ListPartitionReassignments => {
            R::ListPartitionReassignments(ListPartitionReassignmentsRequest::default())
        }
        ApiKey::IncrementalAlterConfigs => {
            R::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default())
        }
        ApiKey::DescribeCluster => R::DescribeCluster(DescribeClusterRequest::default()),
        ApiKey::OffsetCommit => R::OffsetCommit(OffsetCommitRequest::default()),
        ApiKey::OffsetFetch => R::OffsetFetch(OffsetFetchRequest::default()),
        ApiKey::JoinGroup => R::JoinGroup(JoinGroupRequest::default()),
        ApiKey::Heartbeat => R::Heartbeat(HeartbeatRequest::default()),
        ApiKey::LeaveGroup => R::LeaveGroup(LeaveGroupRequest::default()),
        ApiKey::SyncGroup => R::SyncGroup(SyncGroupRequest::default()),
        ApiKey::DescribeGroups => R::DescribeGroups(DescribeGroupsRequest::default()),
        ApiKey::ListGroups => R::ListGroups(ListGroupsRequest::default()),
        ApiKey::DeleteGroups => R::DeleteGroups(DeleteGroupsRequest::default()),
        ApiKey::OffsetDelete => R::OffsetDelete(OffsetDeleteRequest::default()),
        ApiKey::ConsumerGroupHeartbeat => {
            R::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest::default())
        }
        ApiKey::ConsumerGroupDescribe => {
            R::ConsumerGroupDescribe(ConsumerGroupDescribeRequest::default())
        }
        ApiKey::InitProducerId => R::InitProducerId(InitProducerIdRequest::default()),
        ApiKey::OffsetForLeaderEpoch => {
            R::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default())
        }
        ApiKey::AddPartitionsToTxn => R::AddPartitionsToTxn(AddPartitionsToTxnRequest::default()),
        ApiKey::AddOffsetsToTxn => R::AddOffsetsToTxn(AddOffsetsToTxnRequest::default()),
        ApiKey::EndTxn => R::EndTxn(EndTxnRequest::default()),
        ApiKey::WriteTxnMarkers => R::WriteTxnMarkers(WriteTxnMarkersRequest::default()),
        ApiKey::DescribeTransactions => {
            R::DescribeTransactions(DescribeTransactionsRequest::default())
        }
        ApiKey::ListTransactions => R::ListTransactions(ListTransactionsRequest::default()),
        ApiKey::DescribeProducers => R::DescribeProducers(DescribeProducersRequest::default()),
        ApiKey::TxnOffsetCommit => R::TxnOffsetCommit(TxnOffsetCommitRequest::default()),
        ApiKey::ShareGroupHeartbeat => {
            R::ShareGroupHeartbeat(ShareGroupHeartbeatRequest::default())
        }
        ApiKey::ShareGroupDescribe => R::ShareGroupDescribe(ShareGroupDescribeRequest::default()),
        ApiKey::ShareFetch => R::ShareFetch(ShareFetchRequest::default()),
        ApiKey::ShareAcknowledge => R::ShareAcknowledge(ShareAcknowledgeRequest::default()),
        ApiKey::InitializeShareGroupState => {
            R::InitializeShareGroupState(InitializeShareGroupStateRequest::default())
        }
        ApiKey::ReadShareGroupState => {
            R::ReadShareGroupState(ReadShareGroupStateRequest::default())
        }
        ApiKey::WriteShareGroupState => {
            R::WriteShareGroupState(WriteShareGroupStateRequest::default())
        }
        ApiKey::DescribeLogDirs => R::DescribeLogDirs(DescribeLogDirsRequest::default()),
        ApiKey::DescribeAcls => R::DescribeAcls(DescribeAclsRequest::default()),
        ApiKey::DescribeClientQuotas => {
            R::DescribeClientQuotas(DescribeClientQuotasRequest::default())
        }
        ApiKey::DescribeUserScramCredentials => {
            R::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default())
        }
        ApiKey::DeleteShareGroupState => {
            R::DeleteShareGroupState(DeleteShareGroupStateRequest::default())
        }
        ApiKey::DescribeShareGroupOffsets => {
            R::DescribeShareGroupOffsets(DescribeShareGroupOffsetsRequest::default())
        }
        ApiKey::AlterShareGroupOffsets => {
            R::AlterShareGroupOffsets(AlterShareGroupOffsetsRequest::default())
        }
        ApiKey::DeleteShareGroupOffsets => {
            R::DeleteShareGroupOffsets(DeleteShareGroupOffsetsRequest::default())
        }
        ApiKey::DescribeTopicPartitions => {
            R::DescribeTopicPartitions(DescribeTopicPartitionsRequest::default())
        }
        ApiKey::DescribeQuorum => R::DescribeQuorum(DescribeQuorumRequest::default()),
        ApiKey::ElectLeaders => R::ElectLeaders(ElectLeadersRequest::default()),
        ApiKey::CreateAcls => R::CreateAcls(CreateAclsRequest::default()),
        ApiKey::DeleteAcls => R::DeleteAcls(DeleteAclsRequest::default()),
        ApiKey::AlterClientQuotas => R::AlterClientQuotas(AlterClientQuotasRequest::default()),
        ApiKey::AlterUserScramCredentials => {
            R::AlterUserScramCredentials(AlterUserScramCredentialsRequest::default())
        }
        ApiKey::AddRaftVoter => R::AddRaftVoter(AddRaftVoterRequest::default()),
        ApiKey::RemoveRaftVoter => R::RemoveRaftVoter(RemoveRaftVoterRequest::default()),
        ApiKey::UpdateFeatures => R::UpdateFeatures(UpdateFeaturesRequest::default()),
        ApiKey::UnregisterBroker => R::UnregisterBroker(UnregisterBrokerRequest::default()),
        ApiKey::AlterReplicaLogDirs => {
            R::AlterReplicaLogDirs(AlterReplicaLogDirsRequest::default())
        }
        ApiKey::GetTelemetrySubscriptions => {
            R::GetTelemetrySubscriptions(GetTelemetrySubscriptionsRequest::default())
        }
        ApiKey::PushTelemetry => R::PushTelemetry(PushTelemetryRequest::default()),
        ApiKey::SaslHandshake => R::SaslHandshake(SaslHandshakeRequest::default()),
        ApiKey::SaslAuthenticate => R::SaslAuthenticate(SaslAuthenticateRequest::default()),
        _ => return None,
    })
}
