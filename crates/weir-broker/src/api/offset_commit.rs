//! OffsetCommit (key 8): store committed offsets in `__consumer_offsets`.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use weir_group_coordinator::offsets::Committer;
use weir_group_coordinator::GroupCoordinator;

use crate::metadata::view::MetadataView;

/// Offsets are acknowledged only once durable. Classic groups check member and generation
/// (UNKNOWN_MEMBER_ID 25, ILLEGAL_GENERATION 22, REBALANCE_IN_PROGRESS 27 while the assignment is
/// being distributed, FENCED_INSTANCE_ID 82); KIP-848 groups check the member epoch
/// (STALE_MEMBER_EPOCH 113). A commit with generation -1 and no member id is accepted only for a
/// group without members. Per partition: UNKNOWN_TOPIC_OR_PARTITION (3),
/// OFFSET_METADATA_TOO_LARGE (12). Every partition gets the group-level refusals (the response
/// has no top-level error code): INVALID_GROUP_ID (24), NOT_COORDINATOR (16) when another broker
/// coordinates the group or leadership moved during the write, COORDINATOR_LOAD_IN_PROGRESS (14)
/// while its state loads, COORDINATOR_NOT_AVAILABLE (15) when the write did not reach the ISR.
/// `retention_time_ms` (v2–v4) is ignored, as since Kafka 2.1. v10 (KIP-848) names topics by
/// id, resolved through the metadata image: every partition of an unknown id answers
/// UNKNOWN_TOPIC_ID (100), and the answer names each topic by the id it was asked with.
pub async fn handle(
    groups: &GroupCoordinator,
    view: &MetadataView,
    version: i16,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    // The topics' names: from the request (v2–v9) or the image (v10; None: unknown id).
    let names: Vec<Option<String>> = req
        .topics
        .iter()
        .map(|t| {
            if version >= 10 {
                view.topic_by_id(t.topic_id).map(|m| m.name)
            } else {
                Some(t.name.to_string())
            }
        })
        .collect();
    let who = Committer {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        generation_or_epoch: req.generation_id_or_member_epoch,
    };
    let entries: Vec<(String, i32, i64, i32, String)> = req
        .topics
        .iter()
        .zip(&names)
        .filter_map(|(t, name)| Some((t, name.clone()?)))
        .flat_map(|(t, name)| {
            t.partitions.iter().map(move |p| {
                (
                    name.clone(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata
                        .as_ref()
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                )
            })
        })
        .collect();
    // OffsetCommit has no group-level error field: a refusal goes to every partition.
    let refused = if req.group_id.is_empty() {
        Some(ResponseError::InvalidGroupId.code())
    } else {
        groups
            .check_coordinator(&req.group_id)
            .err()
            .map(|e| e.code())
    };
    let codes = if let Some(code) = refused {
        vec![code; entries.len()]
    } else {
        groups.commit(&req.group_id, &who, entries).await
    };
    let mut codes = codes.into_iter();
    let mut resp = OffsetCommitResponse::default();
    resp.topics = req
        .topics
        .into_iter()
        .zip(names)
        .map(|(t, name)| {
            let mut rt = OffsetCommitResponseTopic::default();
            rt.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut rp = OffsetCommitResponsePartition::default();
                    rp.partition_index = p.partition_index;
                    rp.error_code = match name {
                        Some(_) => codes.next().unwrap_or(0),
                        None => ResponseError::UnknownTopicId.code(),
                    };
                    rp
                })
                .collect();
            rt.name = t.name;
            rt.topic_id = t.topic_id;
            rt
        })
        .collect();
    resp
}
