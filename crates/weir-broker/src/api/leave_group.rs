//! LeaveGroup (key 13): members leave a classic group (v3+: several, by member or instance id).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use weir_group_coordinator::GroupCoordinator;

/// The remaining members rebalance. Per-member errors (v3+): UNKNOWN_MEMBER_ID (25),
/// FENCED_INSTANCE_ID (82); v0–v2 report the single member's error at the top level. Group-level
/// errors, at the top level with no members (as Kafka): NOT_COORDINATOR (16) when another broker
/// coordinates the group, COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads,
/// INVALID_GROUP_ID (24) for an empty group id.
pub async fn handle(
    groups: &GroupCoordinator,
    version: i16,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    if req.group_id.is_empty() {
        let mut resp = LeaveGroupResponse::default();
        resp.error_code = ResponseError::InvalidGroupId.code();
        return resp;
    }
    if let Err(e) = groups.check_coordinator(&req.group_id) {
        let mut resp = LeaveGroupResponse::default();
        resp.error_code = e.code();
        return resp;
    }
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let codes = groups.leave(&req.group_id, &members).await;
    let mut resp = LeaveGroupResponse::default();
    if version >= 3 {
        resp.members = req
            .members
            .into_iter()
            .zip(codes)
            .map(|(m, code)| {
                let mut r = MemberResponse::default();
                r.member_id = m.member_id;
                r.group_instance_id = m.group_instance_id;
                r.error_code = code;
                r
            })
            .collect();
    } else {
        resp.error_code = codes.first().copied().unwrap_or(0);
    }
    resp
}
