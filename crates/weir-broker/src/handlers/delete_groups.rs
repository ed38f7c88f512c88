//! DeleteGroups (key 42): delete empty groups and their committed offsets.

use std::sync::Arc;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, RequestHeader};

use crate::broker::Broker;

/// Per group: GROUP_ID_NOT_FOUND (69) if unknown, NON_EMPTY_GROUP (68) while it has members.
/// Deletion writes tombstones for the offsets and the group metadata.
pub async fn handle(
    broker: &Arc<Broker>,
    _header: &RequestHeader,
    _version: i16,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let ids: Vec<String> = req.groups_names.iter().map(|g| g.to_string()).collect();
    let codes = broker.groups.delete_groups(broker, &ids).await;
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
