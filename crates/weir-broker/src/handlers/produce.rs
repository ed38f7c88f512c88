//! Produce (key 0): append record batches, wait for durability, advance the high watermark.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, RequestHeader, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;
use weir_log::{AppendResult, PartitionLog};

use crate::broker::Broker;
use crate::error::BrokerError;

/// Produce: for each partition, validate and append (`PartitionLog::append`), then — for every
/// partition at once, so one group-commit fsync covers the whole request — wait until the data
/// is on disk, advance the high watermark past it (consumers never see data that is not
/// durable) and wake long-polling fetches.
///
/// * `acks` ∉ {-1, 0, 1} → INVALID_REQUIRED_ACKS (21) for every partition, nothing appended.
/// * Unknown topic or partition → UNKNOWN_TOPIC_OR_PARTITION (3); unknown topic id (v13+) →
///   UNKNOWN_TOPIC_ID (100).
/// * v3+: the records of a partition must be exactly one record batch, else INVALID_RECORD (87),
///   as Kafka requires.
/// * `acks=-1` with the topic's `min.insync.replicas` > 1 → NOT_ENOUGH_REPLICAS (19) (the ISR of
///   a single node is 1).
/// * Idempotent batches (producer id ≥ 0) are checked against the partition's producer state
///   (`weir_log::producer_state`): a retry of one of the producer's last five batches is answered
///   with its original offsets and not appended again; a sequence gap is
///   OUT_OF_ORDER_SEQUENCE_NUMBER (45), an old epoch INVALID_PRODUCER_EPOCH (47). Transactional
///   batches are not tracked (Weir has no transaction coordinator).
/// * `timeout_ms` is not applied: a single node has no replication to wait for; the local fsync
///   is always awaited.
pub async fn handle(
    broker: &Arc<Broker>,
    header: &RequestHeader,
    version: i16,
    req: ProduceRequest,
) -> ProduceResponse {
    append_phase(broker, header, version, req)
        .await
        .finish()
        .await
}

/// A produce whose appends are done and whose durability wait is not.
pub struct PendingProduce {
    broker: Arc<Broker>,
    topics: Vec<PendingTopic>,
}

struct PendingTopic {
    name: TopicName,
    topic_id: Uuid,
    partitions: Vec<PendingPartition>,
}

struct PendingPartition {
    index: i32,
    outcome: Result<(Arc<PartitionLog>, AppendResult), BrokerError>,
}

/// Perform the appends of a produce request in request order (the part whose order matters
/// across pipelined requests on one connection).
pub async fn append_phase(
    broker: &Arc<Broker>,
    _header: &RequestHeader,
    version: i16,
    req: ProduceRequest,
) -> PendingProduce {
    let acks = req.acks;
    let mut topics = Vec::with_capacity(req.topic_data.len());
    for t in req.topic_data {
        let resolved = resolve_topic(broker, &t.name, t.topic_id, version);
        let mut partitions = Vec::with_capacity(t.partition_data.len());
        for p in t.partition_data {
            let outcome = match &resolved {
                Err(e) => Err(BrokerError::kafka(error_kind(e), e.to_string())),
                Ok(name) => append_one(broker, name, p.index, acks, version, p.records.as_deref()),
            };
            partitions.push(PendingPartition {
                index: p.index,
                outcome,
            });
        }
        topics.push(PendingTopic {
            name: t.name,
            topic_id: t.topic_id,
            partitions,
        });
    }
    PendingProduce {
        broker: broker.clone(),
        topics,
    }
}

impl PendingProduce {
    /// Wait for every append's durability ticket, advance high watermarks, wake fetchers, and
    /// build the response.
    pub async fn finish(self) -> ProduceResponse {
        let broker = self.broker;
        let mut resp = ProduceResponse::default();
        let mut advanced = false;
        for t in self.topics {
            let mut tr = TopicProduceResponse::default();
            tr.name = t.name;
            tr.topic_id = t.topic_id;
            for p in t.partitions {
                let mut pr = PartitionProduceResponse::default();
                pr.index = p.index;
                let outcome = match p.outcome {
                    Ok((log, res)) => match res.durable {
                        Some(ticket) => match broker.logs.wait_durable_async(ticket).await {
                            Ok(()) => Ok((log, res)),
                            Err(e) => Err(BrokerError::from(e)),
                        },
                        None => Ok((log, res)),
                    },
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok((log, res)) => {
                        broker.advance_high_watermark(&log, res.last_offset + 1);
                        advanced = true;
                        pr.error_code = 0;
                        pr.base_offset = res.base_offset;
                        pr.log_append_time_ms = res.log_append_time;
                        pr.log_start_offset = res.log_start_offset;
                    }
                    Err(e) => {
                        pr.error_code = e.code();
                        pr.error_message = Some(StrBytes::from_string(e.to_string()));
                        pr.base_offset = -1;
                        pr.log_append_time_ms = -1;
                        pr.log_start_offset = -1;
                    }
                }
                tr.partition_responses.push(pr);
            }
            resp.responses.push(tr);
        }
        if advanced {
            broker.notify_new_data();
        }
        resp
    }
}

/// Why a topic could not be resolved.
#[derive(Debug, thiserror::Error)]
enum TopicLookup {
    #[error("This server does not host this topic: {0}")]
    UnknownName(String),
    #[error("This server does not host this topic ID: {0}")]
    UnknownId(Uuid),
}

fn error_kind(e: &TopicLookup) -> ResponseError {
    match e {
        TopicLookup::UnknownName(_) => ResponseError::UnknownTopicOrPartition,
        TopicLookup::UnknownId(_) => ResponseError::UnknownTopicId,
    }
}

/// The topic's name: from the request (v0–12) or looked up by id (v13+).
fn resolve_topic(
    broker: &Broker,
    name: &TopicName,
    id: Uuid,
    version: i16,
) -> Result<String, TopicLookup> {
    if version >= 13 || (name.0.is_empty() && !id.is_nil()) {
        return broker
            .topics
            .get_by_id(id)
            .map(|m| m.name)
            .ok_or(TopicLookup::UnknownId(id));
    }
    let name = name.0.as_str();
    broker
        .topics
        .get(name)
        .map(|m| m.name)
        .ok_or_else(|| TopicLookup::UnknownName(name.to_string()))
}

fn append_one(
    broker: &Broker,
    topic: &str,
    partition: i32,
    acks: i16,
    version: i16,
    records: Option<&[u8]>,
) -> Result<(Arc<PartitionLog>, AppendResult), BrokerError> {
    if !matches!(acks, -1..=1) {
        return Err(BrokerError::kafka(
            ResponseError::InvalidRequiredAcks,
            format!("acks must be -1, 0 or 1, got {acks}"),
        ));
    }
    let log = broker.require_log(topic, partition)?;
    broker.check_leader(topic, partition, -1)?;
    let records = records.unwrap_or(&[]);
    if version >= 3 {
        check_single_batch(records)?;
    }
    if acks == -1 {
        let min_isr = min_insync_replicas(broker, topic);
        if min_isr > 1 {
            return Err(BrokerError::kafka(
                ResponseError::NotEnoughReplicas,
                format!(
                    "The size of the current ISR [{}] is insufficient to satisfy the min.isr \
                     requirement of {min_isr} for partition {topic}-{partition}",
                    broker.config.node_id
                ),
            ));
        }
    }
    let res = log.append(records)?;
    Ok((log, res))
}

fn min_insync_replicas(broker: &Broker, topic: &str) -> i32 {
    broker
        .topics
        .get(topic)
        .and_then(|m| {
            m.configs
                .get("min.insync.replicas")
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(broker.config.min_insync_replicas)
}

/// Kafka (produce v3+) requires exactly one record batch per partition.
fn check_single_batch(records: &[u8]) -> Result<(), BrokerError> {
    const LOG_OVERHEAD: usize = 12; // base offset (8) + batch length (4)
    let invalid = |why: &str| {
        BrokerError::kafka(
            ResponseError::InvalidRecord,
            format!(
                "Produce requests with version 3+ must contain exactly one record batch: {why}"
            ),
        )
    };
    let Some(len_bytes) = records.get(8..LOG_OVERHEAD) else {
        return Err(invalid("no record batch"));
    };
    let mut len = [0u8; 4];
    len.copy_from_slice(len_bytes);
    let batch_len = i32::from_be_bytes(len);
    let total = usize::try_from(batch_len)
        .ok()
        .and_then(|l| l.checked_add(LOG_OVERHEAD))
        .ok_or_else(|| invalid("negative batch length"))?;
    if total < records.len() {
        return Err(invalid("more than one batch"));
    }
    // A shorter-than-declared batch is left to the log's validation (CORRUPT_MESSAGE).
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(len_field: i32, total: usize) -> Vec<u8> {
        let mut v = vec![0u8; total];
        v[8..12].copy_from_slice(&len_field.to_be_bytes());
        v
    }

    #[test]
    fn single_batch_rule() {
        assert!(check_single_batch(&batch(49, 61)).is_ok());
        let two = [batch(49, 61), batch(49, 61)].concat();
        assert_eq!(
            check_single_batch(&two).unwrap_err().code(),
            ResponseError::InvalidRecord.code()
        );
        assert!(check_single_batch(&[]).is_err());
        assert!(check_single_batch(&batch(-5, 61)).is_err());
    }
}
