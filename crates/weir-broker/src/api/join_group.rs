//! JoinGroup (key 11): join a classic group; answers when the join phase completes.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::StrBytes;

use crate::api::context::RequestContext;
use weir_group_coordinator::classic::JoinParams;
use weir_group_coordinator::GroupCoordinator;

/// Join: a new dynamic member (v4+) first gets MEMBER_ID_REQUIRED (79) with its id; the answer
/// to a complete join waits until every known member rejoined or the rebalance timeout passed.
/// The leader gets every member's subscription. Errors: INVALID_GROUP_ID (24) for an empty id,
/// NOT_COORDINATOR (16) when another broker coordinates the group (also when this broker stops
/// coordinating it while the member waits), COORDINATOR_LOAD_IN_PROGRESS (14) while its state
/// loads, INVALID_SESSION_TIMEOUT (26), INCONSISTENT_GROUP_PROTOCOL (23), UNKNOWN_MEMBER_ID (25),
/// FENCED_INSTANCE_ID (82), GROUP_MAX_SIZE_REACHED (81).
pub async fn handle(
    groups: &GroupCoordinator,
    ctx: &RequestContext,
    version: i16,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let mut resp = JoinGroupResponse::default();
    let group = req.group_id.to_string();
    // Refusals echo the member id with generation -1 and leave the group untouched (a session
    // timeout out of bounds creates no group, as in Kafka).
    let cfg = groups.config();
    let refused = if group.is_empty() {
        Some(ResponseError::InvalidGroupId.code())
    } else if req.session_timeout_ms < cfg.min_session_timeout_ms
        || req.session_timeout_ms > cfg.max_session_timeout_ms
    {
        Some(ResponseError::InvalidSessionTimeout.code())
    } else {
        groups.check_coordinator(&group).err().map(|e| e.code())
    };
    let outcome = if let Some(error) = refused {
        weir_group_coordinator::classic::JoinOutcome {
            error,
            generation: -1,
            member_id: req.member_id.to_string(),
            ..Default::default()
        }
    } else {
        let params = JoinParams {
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
            client_id: ctx.client_id().to_string(),
            client_host: ctx.client_host(),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: if version >= 1 {
                req.rebalance_timeout_ms
            } else {
                req.session_timeout_ms
            },
            protocol_type: req.protocol_type.to_string(),
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.to_string(), p.metadata.clone()))
                .collect(),
            require_known_member_id: version >= 4,
        };
        groups.join(&group, params).await
    };
    resp.error_code = outcome.error;
    resp.generation_id = outcome.generation;
    resp.protocol_type = outcome.protocol_type.map(StrBytes::from_string);
    resp.protocol_name = match outcome.protocol {
        Some(p) => Some(StrBytes::from_string(p)),
        None if version < 7 => Some(StrBytes::from_static_str("")),
        None => None,
    };
    resp.leader = StrBytes::from_string(outcome.leader);
    resp.member_id = StrBytes::from_string(outcome.member_id);
    resp.members = outcome
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = StrBytes::from_string(id);
            m.group_instance_id = instance.map(StrBytes::from_string);
            m.metadata = metadata;
            m
        })
        .collect();
    resp
}
