//! DeleteGroups (key 42): delete empty groups and their committed offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use weir_group_coordinator::GroupCoordinator;

/// Per group: GROUP_ID_NOT_FOUND (69) if unknown, NON_EMPTY_GROUP (68) while it has members,
/// NOT_COORDINATOR (16) when another broker coordinates it, COORDINATOR_LOAD_IN_PROGRESS (14)
/// while its state loads. Deletion writes tombstones for the offsets and the group metadata.
pub async fn handle(
    groups: &GroupCoordinator,
    _version: i16,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut codes = Vec::with_capacity(req.groups_names.len());
    for g in &req.groups_names {
        let code = match groups.check_coordinator(g) {
            Err(e) => e.code(),
            Ok(()) => groups
                .delete_groups(&[g.to_string()])
                .await
                .first()
                .copied()
                .unwrap_or(0),
        };
        codes.push(code);
    }
    let mut resp = DeleteGroupsResponse::default();
    resp.results = req
        .groups_names
        .into_iter()
        .zip(codes)
        .map(|(g, code)| {
            let mut r = DeletableGroupResult::default();
            r.group_id = g;
            r.error_code = code;
            r
        })
        .collect();
    resp
}
