//! The request pipeline and dispatch table: the only code that sees every service. Each API's
//! handler gets just the services it uses.
//!
//! Every request passes [`dispatch_ordered`] in arrival order. Cross-cutting steps belong here,
//! in this order, around the table: authentication state and the principal are in the
//! [`RequestContext`]; authorization (ACLs) and quotas/throttling go before the table (a
//! refused request is answered without reaching its handler); per-API metrics: the request
//! queue and local times here (`crate::metrics::stages`; a fetch's long-poll wait is its remote
//! time, not local), the rest when the connection writes the response, and a `trace` event with
//! the API and its latency.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{RequestKind, ResponseKind};

use super::context::RequestContext;
use super::*;
use crate::authz::{self, Authz, Gate};
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::quota::hook::{produce_bytes, QuotaClient};

/// The part of a request's work that may finish after later requests on the same connection
/// have started (only a produce's wait for fsync and replication); resolves to the response.
pub type Pending = Pin<Box<dyn Future<Output = Result<ResponseKind, BrokerError>> + Send>>;

/// Run one request through the pipeline. The returned future's creation performs every side
/// effect whose order matters (for a produce: the appends), so a connection can call this for
/// each request in order and let the returned futures finish concurrently while it reads the
/// next request. Everything except Produce completes fully before this returns, which matches
/// Kafka's one-request-at-a-time processing per connection. A request kind that is decoded but
/// not routed (should not happen: every API in `weir_protocol::versions::SUPPORTED` has an arm)
/// is an `Err` and the connection closes.
pub async fn dispatch_ordered(b: &Broker, ctx: RequestContext, body: RequestKind) -> Pending {
    let started = Instant::now();
    let api_key = ctx.header.request_api_key;
    crate::metrics::stages::dispatched(api_key, ctx.received, started);
    // Authorization (ACLs): refused requests are answered here, partly refused ones reach
    // their handler without the refused parts, which `post` merges back into the response.
    let principal = (ctx.principal.kind.as_str(), ctx.principal.name.as_str());
    let authz = Authz::new(
        &b.config.authorizer,
        &b.view,
        principal,
        ctx.client_addr.ip(),
    );
    let auto_create = b.config.auto_create_topics_enable;
    let (body, post) = match authz::gate(&authz, &b.view, auto_create, ctx.api_version, body) {
        Gate::Pass(body, post) => (body, post),
        Gate::Refuse(resp) => return Box::pin(async move { Ok(resp) }),
        Gate::Close(why) => {
            let err = BrokerError::kafka(ResponseError::ClusterAuthorizationFailed, why);
            return Box::pin(async move { Err(err) });
        }
    };
    let (who, produce_bytes) = (
        QuotaClient::of(
            &ctx.principal.name,
            ctx.client_id(),
            ctx.connection_id,
            ctx.api_version,
            &body,
        ),
        produce_bytes(&body),
    );
    let mut remote = Duration::ZERO;
    let pending = route(b, &ctx, body, &mut remote).await;
    crate::metrics::stages::local(api_key, started.elapsed().saturating_sub(remote));
    let throttle = b
        .quotas
        .charge_request(&who, produce_bytes, started.elapsed().as_nanos());
    let quotas = b.quotas.clone();
    Box::pin(async move {
        let out = match post {
            Some(merge) => pending.await.map(merge),
            None => pending.await,
        };
        let out = out.map(|mut resp| {
            quotas.finish_response(&who, &mut resp, throttle);
            resp
        });
        tracing::trace!(
            api_key,
            latency_us = started.elapsed().as_micros() as u64,
            "request done"
        );
        out
    })
}

/// The dispatch table. A handler that waited for others before answering (a fetch's long
/// poll) adds that wait to `remote`.
async fn route(
    b: &Broker,
    ctx: &RequestContext,
    body: RequestKind,
    remote: &mut Duration,
) -> Pending {
    let v = ctx.api_version;
    let (view, replicas, admin, groups) = (&*b.view, &b.replicas, &*b.admin, &*b.groups);
    let txn = &*b.txn;
    let config = &*b.config;
    let resp = match body {
        RequestKind::Produce(r) => {
            let verified = produce::verify_phase(&b.verifier, view, v, &r).await;
            let pending = produce::append_phase(replicas, view, v, r, &verified);
            return Box::pin(async move { Ok(ResponseKind::Produce(pending.finish().await)) });
        }
        RequestKind::ApiVersions(r) => ResponseKind::ApiVersions(
            api_versions::handle(
                config.transaction_version,
                &view.image(),
                &b.cluster_id,
                view.node_id(),
                v,
                r,
            )
            .await,
        ),
        RequestKind::Metadata(r) => ResponseKind::Metadata(
            metadata::handle(view, admin, config, &b.cluster_id, &ctx.listener, v, r).await,
        ),
        RequestKind::Fetch(r) => {
            let (resp, waited) =
                fetch::handle(replicas, view, &b.fetch_sessions, v, r, ctx.send_files).await;
            *remote = waited;
            ResponseKind::Fetch(resp)
        }
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(list_offsets::handle(replicas, view, v, r).await)
        }
        RequestKind::FindCoordinator(r) => ResponseKind::FindCoordinator(
            find_coordinator::handle(groups, txn, b.share.state(), view, &ctx.listener, v, r).await,
        ),
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(create_topics::handle(admin, config, v, r).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(delete_topics::handle(admin, view, v, r).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(create_partitions::handle(admin, v, r).await)
        }
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(delete_records::handle(replicas, v, r).await)
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(describe_configs::handle(view, config, v, r).await)
        }
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(alter_configs::handle(admin, config, v, r).await)
        }
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            incremental_alter_configs::handle(admin, view, config, v, r).await,
        ),
        RequestKind::AlterPartitionReassignments(r) => ResponseKind::AlterPartitionReassignments(
            alter_partition_reassignments::handle(admin, v, r).await,
        ),
        RequestKind::ListPartitionReassignments(r) => ResponseKind::ListPartitionReassignments(
            list_partition_reassignments::handle(admin, v, r).await,
        ),
        RequestKind::DescribeUserScramCredentials(r) => ResponseKind::DescribeUserScramCredentials(
            describe_user_scram_credentials::handle(view, v, r).await,
        ),
        RequestKind::AlterUserScramCredentials(r) => ResponseKind::AlterUserScramCredentials(
            alter_user_scram_credentials::handle(admin, view, v, r).await,
        ),
        RequestKind::DescribeCluster(r) => ResponseKind::DescribeCluster(
            describe_cluster::handle(view, config, &b.cluster_id, &ctx.listener, v, r).await,
        ),
        RequestKind::ElectLeaders(r) => {
            ResponseKind::ElectLeaders(elect_leaders::handle(admin, v, r).await)
        }
        RequestKind::DescribeQuorum(r) => ResponseKind::DescribeQuorum(
            describe_quorum::handle(&b.quorum, &config.controller_quorum_voters, v, r).await,
        ),
        RequestKind::AddRaftVoter(r) => {
            ResponseKind::AddRaftVoter(add_raft_voter::handle(&b.quorum, &b.cluster_id, r).await)
        }
        RequestKind::RemoveRaftVoter(r) => ResponseKind::RemoveRaftVoter(
            remove_raft_voter::handle(&b.quorum, &b.cluster_id, r).await,
        ),
        RequestKind::DescribeTopicPartitions(r) => ResponseKind::DescribeTopicPartitions(
            describe_topic_partitions::handle(view, config.max_request_partition_size_limit, r),
        ),
        RequestKind::DescribeLogDirs(r) => {
            ResponseKind::DescribeLogDirs(describe_log_dirs::handle(replicas, v, r).await)
        }
        RequestKind::AlterReplicaLogDirs(r) => ResponseKind::AlterReplicaLogDirs(
            alter_replica_log_dirs::handle(replicas, view, v, r).await,
        ),
        RequestKind::OffsetForLeaderEpoch(r) => ResponseKind::OffsetForLeaderEpoch(
            offset_for_leader_epoch::handle(replicas, view, v, r).await,
        ),
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(init_producer_id::handle(&b.producer_ids, txn, v, r).await)
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(join_group::handle(groups, ctx, v, r).await)
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(sync_group::handle(groups, v, r).await)
        }
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(heartbeat::handle(groups, v, r).await),
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(leave_group::handle(groups, v, r).await)
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(offset_commit::handle(groups, view, v, r).await)
        }
        RequestKind::TxnOffsetCommit(r) => ResponseKind::TxnOffsetCommit(
            txn_offset_commit::handle(groups, &b.verifier, view, v, r).await,
        ),
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(offset_fetch::handle(groups, view, v, r).await)
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(offset_delete::handle(groups, view, v, r).await)
        }
        RequestKind::ListGroups(r) => {
            ResponseKind::ListGroups(list_groups::handle(groups, &b.share_groups, v, r).await)
        }
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(describe_groups::handle(groups, v, r).await)
        }
        RequestKind::DeleteGroups(r) => ResponseKind::DeleteGroups(
            delete_groups::handle(groups, &b.share_groups, &b.share, v, r).await,
        ),
        RequestKind::ConsumerGroupHeartbeat(r) => ResponseKind::ConsumerGroupHeartbeat(
            consumer_group_heartbeat::handle(groups, view, ctx, v, r).await,
        ),
        RequestKind::ConsumerGroupDescribe(r) => ResponseKind::ConsumerGroupDescribe(
            consumer_group_describe::handle(groups, view, v, r).await,
        ),
        RequestKind::AddPartitionsToTxn(r) => {
            ResponseKind::AddPartitionsToTxn(add_partitions_to_txn::handle(txn, view, v, r).await)
        }
        RequestKind::AddOffsetsToTxn(r) => {
            ResponseKind::AddOffsetsToTxn(add_offsets_to_txn::handle(txn, v, r).await)
        }
        RequestKind::EndTxn(r) => ResponseKind::EndTxn(end_txn::handle(txn, v, r).await),
        RequestKind::WriteTxnMarkers(r) => {
            ResponseKind::WriteTxnMarkers(write_txn_markers::handle(&b.markers, v, r).await)
        }
        RequestKind::DescribeTransactions(r) => {
            ResponseKind::DescribeTransactions(describe_transactions::handle(txn, v, r).await)
        }
        RequestKind::ListTransactions(r) => {
            ResponseKind::ListTransactions(list_transactions::handle(txn, v, r).await)
        }
        RequestKind::DescribeProducers(r) => {
            ResponseKind::DescribeProducers(describe_producers::handle(replicas, view, v, r).await)
        }
        RequestKind::ShareGroupHeartbeat(r) => ResponseKind::ShareGroupHeartbeat(
            share_group_heartbeat::handle(&b.share_groups, ctx, v, r).await,
        ),
        RequestKind::ShareGroupDescribe(r) => ResponseKind::ShareGroupDescribe(
            share_group_describe::handle(&b.share_groups, view, v, r).await,
        ),
        RequestKind::ShareFetch(r) => ResponseKind::ShareFetch(
            share_fetch::handle(&b.share, replicas, view, v, ctx.connection_id, r).await,
        ),
        RequestKind::ShareAcknowledge(r) => {
            ResponseKind::ShareAcknowledge(share_acknowledge::handle(&b.share, view, v, r).await)
        }
        RequestKind::InitializeShareGroupState(r) => ResponseKind::InitializeShareGroupState(
            share_group_state::initialize(b.share.state(), v, r).await,
        ),
        RequestKind::ReadShareGroupState(r) => {
            ResponseKind::ReadShareGroupState(share_group_state::read(b.share.state(), v, r).await)
        }
        RequestKind::WriteShareGroupState(r) => ResponseKind::WriteShareGroupState(
            share_group_state::write(b.share.state(), v, r).await,
        ),
        RequestKind::DeleteShareGroupState(r) => ResponseKind::DeleteShareGroupState(
            share_group_state::delete(b.share.state(), v, r).await,
        ),
        RequestKind::DescribeShareGroupOffsets(r) => ResponseKind::DescribeShareGroupOffsets(
            describe_share_group_offsets::handle(&b.share_groups, &b.share, view, v, r).await,
        ),
        RequestKind::AlterShareGroupOffsets(r) => ResponseKind::AlterShareGroupOffsets(
            alter_share_group_offsets::handle(&b.share_groups, &b.share, view, v, r).await,
        ),
        RequestKind::DeleteShareGroupOffsets(r) => ResponseKind::DeleteShareGroupOffsets(
            delete_share_group_offsets::handle(&b.share_groups, &b.share, view, v, r).await,
        ),
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(
            create_acls::handle(admin, config.authorizer.enabled, v, r).await,
        ),
        RequestKind::DescribeAcls(r) => ResponseKind::DescribeAcls(
            describe_acls::handle(view, config.authorizer.enabled, v, r).await,
        ),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(
            delete_acls::handle(admin, config.authorizer.enabled, v, r).await,
        ),
        RequestKind::DescribeClientQuotas(r) => {
            ResponseKind::DescribeClientQuotas(describe_client_quotas::handle(view, v, r).await)
        }
        RequestKind::AlterClientQuotas(r) => {
            ResponseKind::AlterClientQuotas(alter_client_quotas::handle(admin, v, r).await)
        }
        RequestKind::UpdateFeatures(r) => ResponseKind::UpdateFeatures(
            update_features::handle(admin, config.transaction_version, v, r).await,
        ),
        RequestKind::UnregisterBroker(r) => {
            ResponseKind::UnregisterBroker(unregister_broker::handle(admin, v, r).await)
        }
        RequestKind::GetTelemetrySubscriptions(r) => {
            ResponseKind::GetTelemetrySubscriptions(get_telemetry_subscriptions::handle(v, r).await)
        }
        RequestKind::PushTelemetry(r) => {
            ResponseKind::PushTelemetry(push_telemetry::handle(v, r).await)
        }
        _ => {
            let key = ctx.header.request_api_key;
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
