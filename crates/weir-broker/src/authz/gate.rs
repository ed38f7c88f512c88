//! The one table of authorization checks per API key, run before the dispatch table.

use kafka_protocol::messages::RequestKind;

use super::merge::Gate;
use super::{admin_apis, group_apis, share_apis, topic_apis, txn_apis, Authz};
use crate::metadata::view::MetadataView;

/// Apply Kafka's checks for `body` (decoded at `version`). `auto_create` is
/// `auto.create.topics.enable`. Every API Weir serves has a row; ApiVersions and
/// DescribeCluster are not checked (as in Kafka); an API without a row is refused to everyone
/// but super users by closing the connection.
pub fn gate(
    a: &Authz,
    view: &MetadataView,
    auto_create: bool,
    version: i16,
    body: RequestKind,
) -> Gate {
    if !a.enabled() {
        return Gate::Pass(body, None);
    }
    use RequestKind as K;
    match body {
        K::Produce(r) => topic_apis::produce(a, view, r),
        K::Fetch(r) => topic_apis::fetch(a, view, r),
        K::ListOffsets(r) => topic_apis::list_offsets(a, r),
        K::Metadata(r) => topic_apis::metadata(a, view, auto_create, r),
        K::OffsetForLeaderEpoch(r) => topic_apis::offset_for_leader_epoch(a, r),
        K::DeleteRecords(r) => topic_apis::delete_records(a, r),
        K::DescribeProducers(r) => topic_apis::describe_producers(a, r),
        K::CreateTopics(r) => topic_apis::create_topics(a, r),
        K::DeleteTopics(r) => topic_apis::delete_topics(a, view, r),
        K::CreatePartitions(r) => topic_apis::create_partitions(a, r),
        b @ (K::JoinGroup(_) | K::SyncGroup(_) | K::Heartbeat(_) | K::LeaveGroup(_)) => {
            group_apis::membership(a, b)
        }
        K::OffsetCommit(r) => group_apis::offset_commit(a, view, r),
        K::OffsetFetch(r) => group_apis::offset_fetch(a, view, version, r),
        K::OffsetDelete(r) => group_apis::offset_delete(a, r),
        K::ListGroups(r) => group_apis::list_groups(a, r),
        K::DeleteGroups(r) => group_apis::delete_groups(a, r),
        b @ (K::DescribeGroups(_) | K::ConsumerGroupDescribe(_) | K::ShareGroupDescribe(_)) => {
            group_apis::describe_groups(a, b)
        }
        b @ (K::ConsumerGroupHeartbeat(_) | K::ShareGroupHeartbeat(_)) => {
            group_apis::heartbeat(a, b)
        }
        b @ (K::ShareFetch(_) | K::ShareAcknowledge(_)) => group_apis::share(a, view, b),
        K::FindCoordinator(r) => txn_apis::find_coordinator(a, version, r),
        K::InitProducerId(r) => txn_apis::init_producer_id(a, r),
        K::AddPartitionsToTxn(r) => txn_apis::add_partitions_to_txn(a, version, r),
        K::AddOffsetsToTxn(r) => txn_apis::add_offsets_to_txn(a, r),
        K::EndTxn(r) => txn_apis::end_txn(a, r),
        K::TxnOffsetCommit(r) => txn_apis::txn_offset_commit(a, r),
        K::WriteTxnMarkers(r) => txn_apis::write_txn_markers(a, r),
        K::DescribeTransactions(r) => txn_apis::describe_transactions(a, r),
        K::ListTransactions(r) => txn_apis::list_transactions(a, r),
        K::DescribeConfigs(r) => admin_apis::describe_configs(a, r),
        b @ (K::AlterConfigs(_) | K::IncrementalAlterConfigs(_)) => admin_apis::alter_configs(a, b),
        b @ (K::AlterPartitionReassignments(_)
        | K::ListPartitionReassignments(_)
        | K::DescribeLogDirs(_)
        | K::AlterReplicaLogDirs(_)
        | K::CreateAcls(_)
        | K::DescribeAcls(_)
        | K::DeleteAcls(_)
        | K::DescribeQuorum(_)
        | K::AddRaftVoter(_)
        | K::RemoveRaftVoter(_)
        | K::ElectLeaders(_)
        | K::UnregisterBroker(_)
        | K::UpdateFeatures(_)) => admin_apis::cluster_admin(a, b),
        b @ (K::DescribeClientQuotas(_) | K::AlterClientQuotas(_)) => {
            admin_apis::client_quotas(a, b)
        }
        K::DescribeTopicPartitions(r) => topic_apis::describe_topic_partitions(a, view, r),
        b @ (K::InitializeShareGroupState(_)
        | K::ReadShareGroupState(_)
        | K::WriteShareGroupState(_)
        | K::DeleteShareGroupState(_)) => admin_apis::share_state(a, b),
        b @ (K::DescribeShareGroupOffsets(_)
        | K::AlterShareGroupOffsets(_)
        | K::DeleteShareGroupOffsets(_)) => share_apis::share_offsets(a, view, b),
        b @ (K::DescribeUserScramCredentials(_) | K::AlterUserScramCredentials(_)) => {
            admin_apis::scram_credentials(a, b)
        }
        K::DescribeCluster(r) => topic_apis::describe_cluster(a, r),
        // Not authorized, as in Kafka (the SASL exchange comes before any principal; client
        // telemetry is any client's).
        b @ (K::ApiVersions(_)
        | K::SaslHandshake(_)
        | K::SaslAuthenticate(_)
        | K::GetTelemetrySubscriptions(_)
        | K::PushTelemetry(_)) => Gate::Pass(b, None),
        // An API without a row here is not authorized by anyone but a super user: the
        // connection of anyone else is closed (fail closed; every served API needs a row).
        other if a.is_super_user() => Gate::Pass(other, None),
        _ => Gate::Close("no authorization checks for this API".into()),
    }
}
