//! ConsumerGroupHeartbeat (key 68): KIP-848 membership, subscription and assignment in one call.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafka_protocol::protocol::StrBytes;

use crate::api::context::RequestContext;
use crate::metadata::view::MetadataView;
use weir_group_coordinator::assignment::TopicPartitions as Assigned;
use weir_group_coordinator::consumer::HeartbeatParams;
use weir_group_coordinator::GroupCoordinator;

/// Topic ids in the request are mapped to names (unknown ids are ignored: the topic was
/// deleted) and back in the answer. Errors: UNKNOWN_MEMBER_ID (25), FENCED_MEMBER_EPOCH (110),
/// UNSUPPORTED_ASSIGNOR (112), INVALID_REQUEST (42) for a join without subscription,
/// INVALID_REQUEST (42) for an empty group id (as Kafka), GROUP_ID_NOT_FOUND (69) for a heartbeat
/// other than a join naming a group that does not exist, NOT_COORDINATOR (16) when another broker
/// coordinates the group, COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads (refusals
/// carry member epoch -1). `subscribed_topic_regex` is not supported yet (INVALID_REQUEST when
/// set).
pub async fn handle(
    groups: &GroupCoordinator,
    view: &MetadataView,
    ctx: &RequestContext,
    _version: i16,
    req: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let mut resp = ConsumerGroupHeartbeatResponse::default();
    resp.heartbeat_interval_ms = groups.config().consumer_heartbeat_interval_ms;
    let refuse = |code: ResponseError, msg: &str| {
        let mut r = ConsumerGroupHeartbeatResponse::default();
        r.error_code = code.code();
        r.error_message = Some(StrBytes::from_string(msg.to_string()));
        r.member_epoch = -1;
        r
    };
    if req.group_id.is_empty() {
        // Kafka's request validation refuses an empty group id as an invalid request.
        return refuse(ResponseError::InvalidRequest, "GroupId can't be empty.");
    }
    if let Err(e) = groups.check_coordinator(&req.group_id) {
        let mut r = ConsumerGroupHeartbeatResponse::default();
        r.error_code = e.code();
        r.error_message = Some(StrBytes::from_string(e.message()));
        r.member_epoch = -1;
        return r;
    }
    if req
        .subscribed_topic_regex
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        return refuse(
            ResponseError::InvalidRequest,
            "Weir does not support SubscribedTopicRegex yet",
        );
    }
    // As Kafka: only a join (epoch 0) may create the group; any other heartbeat naming a group
    // that does not exist is GROUP_ID_NOT_FOUND (and creates nothing).
    if req.member_epoch != 0 {
        let id = req.group_id.to_string();
        if let Some(Ok(None)) = groups.describe_groups(std::slice::from_ref(&id)).pop() {
            return refuse(
                ResponseError::GroupIdNotFound,
                &format!("group {id} not found"),
            );
        }
    }
    let owned = req.topic_partitions.as_ref().map(|tps| {
        let mut out = Assigned::new();
        for tp in tps {
            if let Some(meta) = view.topic_by_id(tp.topic_id) {
                out.entry(meta.name)
                    .or_default()
                    .extend(tp.partitions.iter().copied());
            }
        }
        out
    });
    let params = HeartbeatParams {
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(|s| s.to_string()),
        rack: req.rack_id.as_ref().map(|s| s.to_string()),
        client_id: ctx.client_id().to_string(),
        client_host: ctx.client_host(),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed: req
            .subscribed_topic_names
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.to_string()).collect::<BTreeSet<_>>()),
        assignor: req.server_assignor.as_ref().map(|s| s.to_string()),
        owned,
    };
    let o = groups.consumer_heartbeat(&req.group_id, params).await;
    resp.error_code = o.error;
    resp.error_message = o.message.map(StrBytes::from_string);
    resp.member_id = Some(StrBytes::from_string(o.member_id));
    resp.member_epoch = o.member_epoch;
    resp.assignment = o.assignment.map(|a| to_wire(view, &a));
    resp
}

fn to_wire(view: &MetadataView, a: &BTreeMap<String, BTreeSet<i32>>) -> Assignment {
    let mut out = Assignment::default();
    out.topic_partitions = a
        .iter()
        .filter_map(|(t, ps)| {
            let meta = view.topic(t)?;
            let mut tp = TopicPartitions::default();
            tp.topic_id = meta.id;
            tp.partitions = ps.iter().copied().collect();
            Some(tp)
        })
        .collect();
    out
}
