//! One module per Kafka API; `dispatch` routes a decoded request to its handler.
//!
//! Every handler has the signature
//! `pub async fn handle(broker: &Arc<Broker>, header: &RequestHeader, version: i16, req: XxxRequest) -> XxxResponse`
//! and reports failures as Kafka error codes inside the response (mapped in `crate::error`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use weir_protocol::request::DecodedRequest;

use crate::broker::Broker;
use crate::error::BrokerError;

pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod api_versions;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod fetch;
pub mod fetch_session;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;

tokio::task_local! {
    /// The peer address of the connection serving the current request, as Kafka reports it in
    /// group descriptions (`/127.0.0.1`).
    pub static CLIENT_HOST: String;
}

/// The current request's client host, or "/unknown" outside a connection.
pub fn client_host() -> String {
    CLIENT_HOST
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "/unknown".to_string())
}

/// The part of a request's work that may finish after later requests on the same connection
/// have started (only a produce's wait for fsync); resolves to the response.
pub type Pending = Pin<Box<dyn Future<Output = Result<ResponseKind, BrokerError>> + Send>>;

/// Route a decoded request to its handler and return the response. Every API in
/// `weir_protocol::versions::SUPPORTED` has an arm; a request kind that is decoded but not
/// routed (should not happen) is an `Err` and the connection closes.
pub async fn dispatch(
    broker: &Arc<Broker>,
    req: DecodedRequest,
) -> Result<ResponseKind, BrokerError> {
    dispatch_ordered(broker, req).await.await
}

/// Like [`dispatch`], but split in two: the returned future's creation performs every side
/// effect whose order matters (for a produce: the appends), so a connection can call this for
/// each request in order and let the returned futures (the produce's durability wait) finish
/// concurrently while it reads the next request. Everything except Produce completes fully
/// before this returns, which matches Kafka's one-request-at-a-time processing per connection.
pub async fn dispatch_ordered(broker: &Arc<Broker>, req: DecodedRequest) -> Pending {
    let DecodedRequest {
        header,
        api_version: v,
        body,
        ..
    } = req;
    let b = broker;
    let h = &header;
    let resp = match body {
        RequestKind::Produce(r) => {
            let pending = produce::append_phase(b, h, v, r).await;
            return Box::pin(async move { Ok(ResponseKind::Produce(pending.finish().await)) });
        }
        RequestKind::ApiVersions(r) => {
            ResponseKind::ApiVersions(api_versions::handle(b, h, v, r).await)
        }
        RequestKind::Metadata(r) => ResponseKind::Metadata(metadata::handle(b, h, v, r).await),
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::handle(b, h, v, r).await),
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(list_offsets::handle(b, h, v, r).await)
        }
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(find_coordinator::handle(b, h, v, r).await)
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(create_topics::handle(b, h, v, r).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(delete_topics::handle(b, h, v, r).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(create_partitions::handle(b, h, v, r).await)
        }
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(delete_records::handle(b, h, v, r).await)
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(describe_configs::handle(b, h, v, r).await)
        }
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(alter_configs::handle(b, h, v, r).await)
        }
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            incremental_alter_configs::handle(b, h, v, r).await,
        ),
        RequestKind::AlterPartitionReassignments(r) => ResponseKind::AlterPartitionReassignments(
            alter_partition_reassignments::handle(b, h, v, r).await,
        ),
        RequestKind::ListPartitionReassignments(r) => ResponseKind::ListPartitionReassignments(
            list_partition_reassignments::handle(b, h, v, r).await,
        ),
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(describe_cluster::handle(b, h, v, r).await)
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(offset_for_leader_epoch::handle(b, h, v, r).await)
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(init_producer_id::handle(b, h, v, r).await)
        }
        RequestKind::JoinGroup(r) => ResponseKind::JoinGroup(join_group::handle(b, h, v, r).await),
        RequestKind::SyncGroup(r) => ResponseKind::SyncGroup(sync_group::handle(b, h, v, r).await),
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(heartbeat::handle(b, h, v, r).await),
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(leave_group::handle(b, h, v, r).await)
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(offset_commit::handle(b, h, v, r).await)
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(offset_fetch::handle(b, h, v, r).await)
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(offset_delete::handle(b, h, v, r).await)
        }
        RequestKind::ListGroups(r) => {
            ResponseKind::ListGroups(list_groups::handle(b, h, v, r).await)
        }
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(describe_groups::handle(b, h, v, r).await)
        }
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(delete_groups::handle(b, h, v, r).await)
        }
        RequestKind::ConsumerGroupHeartbeat(r) => {
            ResponseKind::ConsumerGroupHeartbeat(consumer_group_heartbeat::handle(b, h, v, r).await)
        }
        RequestKind::ConsumerGroupDescribe(r) => {
            ResponseKind::ConsumerGroupDescribe(consumer_group_describe::handle(b, h, v, r).await)
        }
        _ => {
            let key = header.request_api_key;
            return Box::pin(async move {
                Err(BrokerError::kafka(
                    kafka_protocol::error::ResponseError::UnsupportedVersion,
                    format!("no handler for api key {key}"),
                ))
            });
        }
    };
    Box::pin(async move { Ok(resp) })
}
