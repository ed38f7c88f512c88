//! Heartbeat (key 12): a classic member shows it is alive and learns of rebalances.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use weir_group_coordinator::GroupCoordinator;

/// Errors: INVALID_GROUP_ID (24) for an empty group id (as Kafka, before anything else),
/// NOT_COORDINATOR (16) when another broker coordinates the group,
/// COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads, UNKNOWN_MEMBER_ID (25),
/// ILLEGAL_GENERATION (22), REBALANCE_IN_PROGRESS (27, rejoin), FENCED_INSTANCE_ID (82).
pub async fn handle(
    groups: &GroupCoordinator,
    _version: i16,
    req: HeartbeatRequest,
) -> HeartbeatResponse {
    let mut resp = HeartbeatResponse::default();
    if req.group_id.is_empty() {
        resp.error_code = ResponseError::InvalidGroupId.code();
        return resp;
    }
    if let Err(e) = groups.check_coordinator(&req.group_id) {
        resp.error_code = e.code();
        return resp;
    }
    let instance = req.group_instance_id.as_ref().map(|s| s.to_string());
    resp.error_code = groups.heartbeat(
        &req.group_id,
        &req.member_id,
        instance.as_deref(),
        req.generation_id,
    );
    resp
}
