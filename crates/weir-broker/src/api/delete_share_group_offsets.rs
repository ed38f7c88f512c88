//! DeleteShareGroupOffsets (key 92, v0): delete the share-partition state of an empty share
//! group for whole topics (`kafka-share-groups.sh --delete-offsets`), as
//! DeleteShareGroupState does; the group's next consumer starts from
//! `share.auto.offset.reset`. A group id no group has is no error (as
//! Kafka: whatever state exists is removed). Group errors (top level): INVALID_GROUP_ID (empty),
//! NON_EMPTY_GROUP,
//! NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS; topic errors:
//! UNKNOWN_TOPIC_OR_PARTITION and the share coordinator's. A topic without state is no error.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic as Topic;
use kafka_protocol::messages::{
    DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::share::groups::ShareGroupCoordinator;
use crate::share::manager::{share_key, SharePartitionManager};
use crate::share::offsets::require_group;

/// Delete the requested topics' share state (see the module docs).
pub async fn handle(
    groups: &ShareGroupCoordinator,
    share: &SharePartitionManager,
    view: &MetadataView,
    _version: i16,
    req: DeleteShareGroupOffsetsRequest,
) -> DeleteShareGroupOffsetsResponse {
    let mut resp = DeleteShareGroupOffsetsResponse::default();
    let group = req.group_id.as_str();
    if let Err(e) = require_group(groups, group, true).await {
        resp.error_code = e.code();
        resp.error_message = Some(StrBytes::from_string(e.message()));
        return resp;
    }
    for t in req.topics {
        let name = t.topic_name.as_str();
        let mut topic = Topic::default();
        topic.topic_name = TopicName(StrBytes::from_string(name.to_string()));
        let r = match view.topic(name) {
            Some(meta) => {
                topic.topic_id = meta.id;
                delete_topic(share, group, meta.id, meta.partitions).await
            }
            None => Err(BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("no topic {name}"),
            )),
        };
        if let Err(e) = r {
            topic.error_code = e.code();
            topic.error_message = Some(StrBytes::from_string(e.message()));
        }
        resp.responses.push(topic);
    }
    resp
}

async fn delete_topic(
    share: &SharePartitionManager,
    group: &str,
    id: uuid::Uuid,
    partitions: i32,
) -> Result<(), BrokerError> {
    for p in 0..partitions {
        share.delete_offset(&share_key(group, id, p)).await?;
    }
    Ok(())
}
