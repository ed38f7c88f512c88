//! OffsetDelete (key 47): delete a group's committed offsets of topics it does not consume.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use weir_group_coordinator::GroupCoordinator;

use crate::metadata::view::MetadataView;

/// INVALID_GROUP_ID (24) for an empty group id, GROUP_ID_NOT_FOUND (69) for an unknown group,
/// NOT_COORDINATOR (16) when another broker coordinates the group, COORDINATOR_LOAD_IN_PROGRESS
/// (14) while its state loads (all at the top level); per partition GROUP_SUBSCRIBED_TO_TOPIC
/// (86) when a member subscribes to the topic, UNKNOWN_TOPIC_OR_PARTITION (3) for a partition
/// that does not exist (as Kafka, which leaves those out of the deletion).
pub async fn handle(
    groups: &GroupCoordinator,
    view: &MetadataView,
    _version: i16,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let exists = |name: &str, p: i32| {
        view.topic(name)
            .is_some_and(|t| (0..t.partitions).contains(&p))
    };
    let parts: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.partition_index))
        })
        .filter(|(t, p)| exists(t, *p))
        .collect();
    let mut resp = OffsetDeleteResponse::default();
    if req.group_id.is_empty() {
        resp.error_code = ResponseError::InvalidGroupId.code();
        return resp;
    }
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
                    rp.error_code = if exists(t.name.as_str(), p.partition_index) {
                        codes.next().unwrap_or(0)
                    } else {
                        ResponseError::UnknownTopicOrPartition.code()
                    };
                    rp
                })
                .collect();
            rt.name = t.name;
            rt
        })
        .collect();
    resp
}
