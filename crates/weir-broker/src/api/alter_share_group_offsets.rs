//! AlterShareGroupOffsets (key 91, v0): set the start offset of share-partitions of an empty
//! share group (`kafka-share-groups.sh --reset-offsets`). Each share-partition's state is
//! re-initialized at the new start offset with the next state epoch; in-flight and
//! acknowledged record states are discarded (`share/offsets.rs`). A group id no group has is
//! no error (as Kafka: the state is initialized for the group's first consumers). Group errors
//! (top level, and on every partition): INVALID_GROUP_ID (empty), NON_EMPTY_GROUP, NOT_COORDINATOR,
//! COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS; partition errors:
//! UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST (a negative offset), the share coordinator's.

use kafka_protocol::messages::alter_share_group_offsets_response::{
    AlterShareGroupOffsetsResponsePartition as Partition,
    AlterShareGroupOffsetsResponseTopic as Topic,
};
use kafka_protocol::messages::{
    AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::share::groups::ShareGroupCoordinator;
use crate::share::manager::{share_key, SharePartitionManager};
use crate::share::offsets::{check_partition, require_group};

/// Alter the requested share-partitions (see the module docs).
pub async fn handle(
    groups: &ShareGroupCoordinator,
    share: &SharePartitionManager,
    view: &MetadataView,
    _version: i16,
    req: AlterShareGroupOffsetsRequest,
) -> AlterShareGroupOffsetsResponse {
    let mut resp = AlterShareGroupOffsetsResponse::default();
    let group = req.group_id.as_str();
    let group_error = require_group(groups, group, true)
        .await
        .err()
        .map(|e| (e.code(), e.message()));
    if let Some((code, message)) = &group_error {
        resp.error_code = *code;
        resp.error_message = Some(StrBytes::from_string(message.clone()));
    }
    for t in req.topics {
        let name = t.topic_name.as_str();
        let meta = view.topic(name);
        let mut topic = Topic::default();
        topic.topic_name = TopicName(StrBytes::from_string(name.to_string()));
        topic.topic_id = meta.as_ref().map(|m| m.id).unwrap_or_default();
        for p in t.partitions {
            let r = match &group_error {
                Some((code, message)) => Err(BrokerError::kafka(
                    kafka_protocol::error::ResponseError::try_from_code(*code)
                        .unwrap_or(kafka_protocol::error::ResponseError::UnknownServerError),
                    message.clone(),
                )),
                None => match check_partition(meta.as_ref(), name, p.partition_index) {
                    Ok(()) => {
                        let key = share_key(group, topic.topic_id, p.partition_index);
                        share.alter_offset(&key, p.start_offset).await
                    }
                    Err(e) => Err(e),
                },
            };
            let mut out = Partition::default();
            out.partition_index = p.partition_index;
            if let Err(e) = r {
                out.error_code = e.code();
                out.error_message = Some(StrBytes::from_string(e.message()));
            }
            topic.partitions.push(out);
        }
        resp.responses.push(topic);
    }
    resp
}
