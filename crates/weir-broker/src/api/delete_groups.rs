//! DeleteGroups (key 42): delete empty groups and their committed offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use weir_group_coordinator::GroupCoordinator;

use crate::share::groups::ShareGroupCoordinator;
use crate::share::manager::SharePartitionManager;

/// Per group: GROUP_ID_NOT_FOUND (69) if unknown, NON_EMPTY_GROUP (68) while it has members,
/// NOT_COORDINATOR (16) when another broker coordinates it, COORDINATOR_LOAD_IN_PROGRESS (14)
/// while its state loads. Deletion writes tombstones for the offsets and the group metadata.
/// A share group (KIP-932) must be empty; its share-partition states in
/// `__share_group_state` are deleted with it (those this broker's share coordinator holds).
/// v3's per-group `error_message` stays null, as Kafka 4.4 leaves it for every one of these
/// errors (it fills it only for a failure of a streams-topology plugin, which Weir has not).
pub async fn handle(
    groups: &GroupCoordinator,
    share_groups: &ShareGroupCoordinator,
    share: &SharePartitionManager,
    _version: i16,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut codes = Vec::with_capacity(req.groups_names.len());
    for g in &req.groups_names {
        if share_groups.is_share_group(g) {
            let r = match share_groups.delete(g).await {
                Ok(()) => share.delete_group(g).await,
                Err(e) => Err(e),
            };
            codes.push(r.err().map_or(0, |e| e.code()));
            continue;
        }
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
            r.error_message = None;
            r
        })
        .collect();
    resp
}
