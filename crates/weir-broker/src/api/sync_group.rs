//! SyncGroup (key 14): the leader sends the assignment; every member receives its own.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;

use weir_group_coordinator::GroupCoordinator;

/// Members wait until the leader's SyncGroup arrives and the group metadata (with the
/// assignment) is durably stored in `__consumer_offsets`. Errors: NOT_COORDINATOR (16) when
/// another broker coordinates the group (also when this broker stops coordinating it while the
/// member waits), COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads, UNKNOWN_MEMBER_ID (25),
/// ILLEGAL_GENERATION (22), REBALANCE_IN_PROGRESS (27), FENCED_INSTANCE_ID (82). Checked first, as
/// Kafka: INCONSISTENT_GROUP_PROTOCOL (23) for a v5+ request without protocol type and name,
/// then INVALID_GROUP_ID (24) for an empty group id.
pub async fn handle(
    groups: &GroupCoordinator,
    version: i16,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let mut resp = SyncGroupResponse::default();
    if version >= 5 && (req.protocol_type.is_none() || req.protocol_name.is_none()) {
        resp.error_code = ResponseError::InconsistentGroupProtocol.code();
        return resp;
    }
    if req.group_id.is_empty() {
        resp.error_code = ResponseError::InvalidGroupId.code();
        return resp;
    }
    if let Err(e) = groups.check_coordinator(&req.group_id) {
        resp.error_code = e.code();
        return resp;
    }
    let assignments = req
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
        .collect();
    let instance = req.group_instance_id.as_ref().map(|s| s.to_string());
    let o = groups
        .sync(
            &req.group_id,
            &req.member_id,
            instance.as_deref(),
            req.generation_id,
            assignments,
        )
        .await;
    resp.error_code = o.error;
    resp.protocol_type = o.protocol_type.map(StrBytes::from_string);
    resp.protocol_name = o.protocol.map(StrBytes::from_string);
    resp.assignment = o.assignment;
    resp
}
