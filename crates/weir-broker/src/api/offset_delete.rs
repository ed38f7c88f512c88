//! OffsetDelete (key 47): delete a group's committed offsets of topics it does not consume.

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use weir_group_coordinator::GroupCoordinator;

/// GROUP_ID_NOT_FOUND (69) for an unknown group, NOT_COORDINATOR (16) when another broker
/// coordinates the group, COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads (all at the
/// top level); per partition GROUP_SUBSCRIBED_TO_TOPIC (86) when a member subscribes to the
/// topic.
pub async fn handle(
    groups: &GroupCoordinator,
    _version: i16,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let parts: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    let mut resp = OffsetDeleteResponse::default();
    if let Err(e) = groups.check_coordinator(&req.group_id) {
        resp.error_code = e.code();
        return resp;
    }
    let codes = match groups.delete_offsets(&req.group_id, parts).await {
        Ok(c) => c,
        Err(e) => {
            resp.error_code = e.code();
            return resp;
        }
    };
    let mut codes = codes.into_iter();
    resp.topics = req
        .topics
        .into_iter()
        .map(|t| {
            let mut rt = OffsetDeleteResponseTopic::default();
            rt.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut rp = OffsetDeleteResponsePartition::default();
                    rp.partition_index = p.partition_index;
                    rp.error_code = codes.next().unwrap_or(0);
                    rp
                })
                .collect();
            rt.name = t.name;
            rt
        })
        .collect();
    resp
}
