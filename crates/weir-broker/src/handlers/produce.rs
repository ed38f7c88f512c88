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
/// * `acks=-1` with an ISR smaller than the topic's `min.insync.replicas` →
///   NOT_ENOUGH_REPLICAS (19), nothing appended. Otherwise acks=-1 waits (up to the request's
///   `timeout_ms`, then REQUEST_TIMED_OUT) until every ISR member has the batch (the high
///   watermark passed it); NOT_ENOUGH_REPLICAS_AFTER_APPEND (20) when the ISR shrank below
///   `min.insync.replicas` meanwhile, NOT_LEADER_OR_FOLLOWER when leadership moved.
///   `acks=1` answers once the leader's own copy is durable.
/// * Idempotent batches (producer id ≥ 0) are checked against the partition's producer state
///   (`weir_log::producer_state`): a retry of one of the producer's last five batches is answered
///   with its original offsets and not appended again; a sequence gap is
///   OUT_OF_ORDER_SEQUENCE_NUMBER (45), an old epoch INVALID_PRODUCER_EPOCH (47). Transactional
///   batches are not tracked (Weir has no transaction coordinator).
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
    acks: i16,
    timeout: std::time::Duration,
}

struct PendingTopic {
    name: TopicName,
    topic_id: Uuid,
    partitions: Vec<PendingPartition>,
}

struct PendingPartition {
    index: i32,
    outcome: Result<Appended, BrokerError>,
}

/// A successful append and what acks=all must check once it is durable.
struct Appended {
    log: Arc<PartitionLog>,
    res: AppendResult,
    leader_epoch: i32,
    min_isr: usize,
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
    let timeout = std::time::Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0));
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
    if topics
        .iter()
        .any(|t| t.partitions.iter().any(|p| p.outcome.is_ok()))
    {
        broker.notify_new_appends();
    }
    PendingProduce {
        broker: broker.clone(),
        topics,
        acks,
        timeout,
    }
}

impl PendingProduce {
    /// Wait for every append's durability ticket (one group-commit pass covers them all),
    /// count the leader's copies toward the high watermarks, then — for acks=all — wait for the
    /// ISR on every partition at once, and build the response.
    pub async fn finish(self) -> ProduceResponse {
        let broker = self.broker;
        let mut staged = Vec::with_capacity(self.topics.len());
        for t in self.topics {
            let mut parts = Vec::with_capacity(t.partitions.len());
            for p in t.partitions {
                let outcome = match p.outcome {
                    Ok(a) => {
                        let durable = match a.res.durable {
                            Some(ticket) => broker
                                .logs
                                .wait_durable_async(ticket)
                                .await
                                .map_err(BrokerError::from),
                            None => Ok(()),
                        };
                        durable.map(|()| {
                            broker.on_local_durable(&a.log, a.res.last_offset + 1);
                            a
                        })
                    }
                    Err(e) => Err(e),
                };
                parts.push((p.index, outcome));
            }
            staged.push((t.name, t.topic_id, parts));
        }
        let mut resp = ProduceResponse::default();
        for (name, topic_id, parts) in staged {
            let mut tr = TopicProduceResponse::default();
            tr.name = name;
            tr.topic_id = topic_id;
            // acks=all: one replication wait per partition, all running at once.
            let waits: Vec<_> = parts
                .into_iter()
                .map(|(index, outcome)| {
                    let waiting = match outcome {
                        // Already committed (a single-replica ISR, a retried batch): check the
                        // ISR size without a task.
                        Ok(a) if self.acks == -1 && a.log.high_watermark() > a.res.last_offset => {
                            Err(broker
                                .check_min_isr_after_append(&a.log, a.min_isr)
                                .map(|()| a.res))
                        }
                        Ok(a) if self.acks == -1 => {
                            let b = broker.clone();
                            let timeout = self.timeout;
                            Ok(tokio::spawn(async move {
                                b.await_replication(
                                    &a.log,
                                    a.res.last_offset + 1,
                                    a.leader_epoch,
                                    a.min_isr,
                                    timeout,
                                )
                                .await
                                .map(|()| a.res)
                            }))
                        }
                        Ok(a) => Err(Ok(a.res)),
                        Err(e) => Err(Err(e)),
                    };
                    (index, waiting)
                })
                .collect();
            for (index, waiting) in waits {
                let outcome = match waiting {
                    Ok(handle) => handle.await.unwrap_or_else(|e| {
                        Err(BrokerError::kafka(
                            ResponseError::UnknownServerError,
                            format!("replication wait failed: {e}"),
                        ))
                    }),
                    Err(done) => done,
                };
                let mut pr = PartitionProduceResponse::default();
                pr.index = index;
                match outcome {
                    Ok(res) => {
                        pr.error_code = 0;
                        pr.base_offset = res.base_offset;
                        pr.log_append_time_ms = res.log_append_time;
                        pr.log_start_offset = res.log_start_offset;
                    }
                    Err(e) => {
                        pr.error_code = e.code();
                        if pr.error_code == ResponseError::OutOfOrderSequenceNumber.code() {
                            // Fatal for an idempotent producer: worth an operator's attention.
                            tracing::warn!(topic = %tr.name.0, partition = index, error = %e, "produce refused");
                        }
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
) -> Result<Appended, BrokerError> {
    if !matches!(acks, -1..=1) {
        return Err(BrokerError::kafka(
            ResponseError::InvalidRequiredAcks,
            format!("acks must be -1, 0 or 1, got {acks}"),
        ));
    }
    let log = broker.require_log(topic, partition)?;
    let leader_epoch = broker.check_leader(topic, partition, -1)?;
    let records = records.unwrap_or(&[]);
    if version >= 3 {
        check_single_batch(records)?;
    }
    let min_isr = min_insync_replicas(broker, topic).max(1) as usize;
    if acks == -1 {
        let isr = broker
            .partition_info(topic, partition)
            .map(|p| p.isr)
            .unwrap_or_default();
        if isr.len() < min_isr {
            return Err(BrokerError::kafka(
                ResponseError::NotEnoughReplicas,
                format!(
                    "The size of the current ISR {isr:?} is insufficient to satisfy the min.isr \
                     requirement of {min_isr} for partition {topic}-{partition}"
                ),
            ));
        }
    }
    let res = log.append(records)?;
    Ok(Appended {
        log,
        res,
        leader_epoch,
        min_isr,
    })
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
