//! DeleteRecords (key 21): move each partition's log start offset; -1 means the high watermark.
//! The new log start offsets are checkpointed before the response is sent.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use weir_log::TopicPartition;

use crate::error::log_error_code;
use crate::replica::manager::ReplicaManager;

/// Delete records below the requested offsets; returns the new low watermarks.
pub async fn handle(
    replicas: &ReplicaManager,
    _version: i16,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut resp = DeleteRecordsResponse::default();
    for t in req.topics {
        let mut tr = DeleteRecordsTopicResult::default();
        tr.name = t.name.clone();
        for p in t.partitions {
            let mut pr = DeleteRecordsPartitionResult::default();
            pr.partition_index = p.partition_index;
            pr.low_watermark = -1;
            match replicas.log(&TopicPartition::new(
                t.name.0.to_string(),
                p.partition_index,
            )) {
                None => pr.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(log) => {
                    let target = if p.offset == -1 {
                        log.high_watermark()
                    } else {
                        p.offset
                    };
                    match log.delete_records_before(target) {
                        Ok(low) => pr.low_watermark = low,
                        Err(e) => pr.error_code = log_error_code(&e),
                    }
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    // Make the new log start offsets durable before answering (Kafka only checkpoints them
    // periodically; Weir does not acknowledge what a crash could undo).
    if let Err(e) = replicas.logs().checkpoint() {
        tracing::error!(error = %e, "cannot write checkpoints after DeleteRecords");
        for t in &mut resp.topics {
            for p in &mut t.partitions {
                if p.error_code == 0 {
                    p.error_code = ResponseError::KafkaStorageError.code();
                }
            }
        }
    }
    resp
}
