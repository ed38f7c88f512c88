//! Produce (key 0): append record batches through the replica manager, wait for durability
//! (and for acks=all the ISR), answer per partition.

use std::sync::Arc;
use std::time::Instant;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;
use weir_log::{LogError, TopicPartition};

use crate::coordinators::verification::{transactional_producer, TxnVerifier, Verified};
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::replica::append::{AppendOrigin, Appended};
use crate::replica::manager::ReplicaManager;

/// Produce: for each partition, validate and append (`PartitionLog::append`), then — for every
/// partition at once, so one group-commit fsync covers the whole request — wait until the data
/// is on disk, advance the high watermark past it (consumers never see data that is not
/// durable) and wake long-polling fetches.
///
/// * `acks` ∉ {-1, 0, 1} → INVALID_REQUIRED_ACKS (21) for every partition, nothing appended.
/// * Unknown topic or partition → UNKNOWN_TOPIC_OR_PARTITION (3). v13+ (KIP-516) names each
///   topic by its id (the answer carries the id back): an unknown id → UNKNOWN_TOPIC_ID (100).
/// * v3+: the records of a partition must be exactly one record batch, else INVALID_RECORD (87),
///   as Kafka requires.
/// * A batch with records Kafka refuses one by one (records without a key on a compacted topic)
///   fails as a whole with INVALID_RECORD (87), `error_message` Kafka's summary and (v8+) each
///   bad record's index in `record_errors` (KIP-467), so clients fail exactly those records.
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
///   batches start or continue their producer's transaction in the partition (last stable
///   offset, READ_COMMITTED).
///
/// Transactional batches: the first one of a transaction in a partition is verified with the
/// transaction coordinator before it is appended (KIP-890, [`verify_phase`]); a write whose
/// transaction is not ongoing is refused (INVALID_TXN_STATE), never opens a new transaction.
pub async fn handle(
    replicas: &Arc<ReplicaManager>,
    view: &MetadataView,
    verifier: &TxnVerifier,
    version: i16,
    req: ProduceRequest,
) -> ProduceResponse {
    let verified = verify_phase(verifier, view, version, &req).await;
    append_phase(replicas, view, version, req, &verified)
        .finish()
        .await
}

/// Verify the transactional partitions of `req` with their transaction coordinator (nothing to
/// do, without awaiting anything, for a produce without transactional batches).
pub async fn verify_phase(
    verifier: &TxnVerifier,
    view: &MetadataView,
    version: i16,
    req: &ProduceRequest,
) -> Verified {
    let mut parts = Vec::new();
    for t in &req.topic_data {
        let Ok(name) = resolve_topic(view, &t.name, t.topic_id, version) else {
            continue;
        };
        for p in &t.partition_data {
            let records = p.records.as_deref().unwrap_or(&[]);
            if transactional_producer(records).is_some() {
                parts.push((TopicPartition::new(name.as_str(), p.index), records));
            }
        }
    }
    if parts.is_empty() {
        return Verified::new();
    }
    let id = req.transactional_id.as_ref().map(|t| t.0.as_str());
    verifier.verify(id, &parts, version >= 12).await
}

/// A produce whose appends are done and whose durability wait is not.
pub struct PendingProduce {
    replicas: Arc<ReplicaManager>,
    topics: Vec<PendingTopic>,
    timeout: std::time::Duration,
    /// When the appends were done (the start of the fsync wait).
    appended: Instant,
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

/// Perform the appends of a produce request in request order (the part whose order matters
/// across pipelined requests on one connection).
pub fn append_phase(
    replicas: &Arc<ReplicaManager>,
    view: &MetadataView,
    version: i16,
    req: ProduceRequest,
    verified: &Verified,
) -> PendingProduce {
    let origin = AppendOrigin::Client {
        acks: req.acks,
        produce_version: version,
    };
    let timeout = std::time::Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0));
    let mut topics = Vec::with_capacity(req.topic_data.len());
    for t in req.topic_data {
        let resolved = resolve_topic(view, &t.name, t.topic_id, version);
        let mut partitions = Vec::with_capacity(t.partition_data.len());
        for p in t.partition_data {
            let bytes = p.records.as_ref().map_or(0, |r| r.len() as u64);
            let outcome = match &resolved {
                Err(e) => Err(BrokerError::kafka(error_kind(e), e.to_string())),
                Ok(name) => {
                    let tp = TopicPartition::new(name.as_str(), p.index);
                    match verified.get(&tp) {
                        Some(Err(e)) => Err(BrokerError::kafka(
                            ResponseError::try_from_code(e.code())
                                .unwrap_or(ResponseError::UnknownServerError),
                            e.message(),
                        )),
                        Some(Ok(guard)) => replicas.append_verified(
                            &tp,
                            p.records.as_deref().unwrap_or(&[]),
                            origin,
                            Some(*guard),
                        ),
                        None => replicas.append(&tp, p.records.as_deref().unwrap_or(&[]), origin),
                    }
                }
            };
            if let (Ok(a), Ok(name)) = (&outcome, &resolved) {
                let records = (a.res.last_offset - a.res.base_offset + 1).max(0) as u64;
                crate::metrics::produced(name, records, bytes);
            }
            partitions.push(PendingPartition {
                index: p.index,
                outcome,
            });
        }
        topics.push(PendingTopic {
            // v13 names the topic by id only: keep the resolved name (for logs; not encoded).
            name: match resolved {
                Ok(name) if t.name.0.is_empty() => TopicName(StrBytes::from_string(name)),
                _ => t.name,
            },
            topic_id: t.topic_id,
            partitions,
        });
    }
    PendingProduce {
        replicas: replicas.clone(),
        topics,
        timeout,
        appended: Instant::now(),
    }
}

impl PendingProduce {
    /// Wait for every append's durability ticket (one group-commit pass covers them all),
    /// count the leader's copies toward the high watermarks, then — for acks=all — wait for the
    /// ISR on every partition at once, and build the response. The two waits are recorded as
    /// the fsync wait and the remote time (`crate::metrics::stages`).
    pub async fn finish(self) -> ProduceResponse {
        let replicas = self.replicas;
        let mut staged = Vec::with_capacity(self.topics.len());
        for t in self.topics {
            let mut parts = Vec::with_capacity(t.partitions.len());
            for p in t.partitions {
                let outcome = match p.outcome {
                    Ok(a) => replicas.await_durable(&a).await.map(|()| a),
                    Err(e) => Err(e),
                };
                parts.push((p.index, outcome));
            }
            staged.push((t.name, t.topic_id, parts));
        }
        let durable = Instant::now();
        crate::metrics::stages::fsync_wait(self.appended, durable);
        let mut resp = ProduceResponse::default();
        for (name, topic_id, parts) in staged {
            let mut tr = TopicProduceResponse::default();
            tr.name = name;
            tr.topic_id = topic_id;
            // acks=all: one replication wait per partition, all running at once (an append
            // already committed is answered without a task).
            let waits: Vec<_> = parts
                .into_iter()
                .map(|(index, outcome)| {
                    let waiting = match outcome {
                        Ok(a) if a.needs_replication_wait() => {
                            let r = replicas.clone();
                            let timeout = self.timeout;
                            Ok(tokio::spawn(async move {
                                r.await_acks(&a, timeout).await.map(|()| a.res)
                            }))
                        }
                        Ok(a) => Err(replicas.acks_done(&a).map(|()| a.res)),
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
                tr.partition_responses
                    .push(partition_response(&tr.name, index, outcome));
            }
            resp.responses.push(tr);
        }
        crate::metrics::stages::remote(ApiKey::Produce as i16, durable.elapsed());
        resp
    }
}

/// One partition's answer.
fn partition_response(
    topic: &TopicName,
    index: i32,
    outcome: Result<weir_log::AppendResult, BrokerError>,
) -> PartitionProduceResponse {
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
                tracing::warn!(topic = %topic.0, partition = index, error = %e, "produce refused");
            }
            pr.error_message = Some(StrBytes::from_string(e.to_string()));
            if let BrokerError::Log(LogError::InvalidRecords { record_errors, .. }) = &e {
                // KIP-467 (v8+; older versions do not encode the field).
                pr.record_errors = record_errors
                    .iter()
                    .map(|r| {
                        let mut b = BatchIndexAndErrorMessage::default();
                        b.batch_index = r.batch_index;
                        b.batch_index_error_message =
                            Some(StrBytes::from_string(r.message.clone()));
                        b
                    })
                    .collect();
            }
            pr.base_offset = -1;
            pr.log_append_time_ms = -1;
            pr.log_start_offset = -1;
        }
    }
    pr
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
    view: &MetadataView,
    name: &TopicName,
    id: Uuid,
    version: i16,
) -> Result<String, TopicLookup> {
    if version >= 13 || (name.0.is_empty() && !id.is_nil()) {
        return view
            .topic_by_id(id)
            .map(|m| m.name)
            .ok_or(TopicLookup::UnknownId(id));
    }
    let name = name.0.as_str();
    view.topic(name)
        .map(|m| m.name)
        .ok_or_else(|| TopicLookup::UnknownName(name.to_string()))
}
