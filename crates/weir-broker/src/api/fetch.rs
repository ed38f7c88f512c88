//! Fetch (key 1): read record batches, long-poll for `min_bytes`, fetch sessions (KIP-227).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;
use weir_protocol::placeholder::placeholder;

use crate::error::{log_error_code, BrokerError};
use crate::fetch_sessions::FetchSessionCache;
use crate::fetch_sessions::{FetchContext, PartKey, PartOutcome, PartRequest, TopicRef};
use crate::metadata::view::MetadataView;
use crate::replica::manager::ReplicaManager;

/// Fetch: for every partition of the fetch (the request's, or the session's for incremental
/// fetches), read whole batches from `fetch_offset`, at most `partition_max_bytes` per partition
/// and `max_bytes` in total — except that the first partition with data returns at least one
/// batch even if it is larger, as Kafka does. Consumers (`replica_id < 0`) read below the high
/// watermark; `READ_COMMITTED` consumers (isolation level 1) read below the last stable offset
/// and get the aborted transactions overlapping what they read (producer id, first offset), so
/// they drop aborted records; every answer carries the partition's last stable offset.
///
/// If fewer than `min_bytes` are available (and no partition has an error), the request waits
/// up to `max_wait_ms`, re-reading every time a produce advances a high watermark (a follower's
/// fetch: every leader append) and answering as soon as `min_bytes` are there; when the broker
/// shuts down it answers at once with what is available. Returns the response and how long the
/// request was parked (its `RemoteTimeMs`; the wait and the wake-up delay are recorded in
/// `crate::metrics::stages`).
///
/// Errors per partition: unknown topic/partition → UNKNOWN_TOPIC_OR_PARTITION, unknown topic
/// id (v13+) → UNKNOWN_TOPIC_ID, offset outside [log start, log end] → OFFSET_OUT_OF_RANGE
/// (with the high watermark and log start offset filled in), a `current_leader_epoch` newer
/// than the leader epoch → UNKNOWN_LEADER_EPOCH, older → FENCED_LEADER_EPOCH, a partition this
/// broker does not lead → NOT_LEADER_OR_FOLLOWER. Session errors are top-level (see `fetch_session`).
///
/// With `send_files` (a plaintext connection) every record set of at least
/// `weir_protocol::segmented::MIN_SHARED_BYTES` is a placeholder for its file region, which the
/// connection sends with `sendfile` straight from the page cache (zero-copy fetch, see
/// `weir_protocol::placeholder`); otherwise (TLS, small record sets) records are read from the
/// segment file into memory (`FileSlice::to_bytes`, one copy) and written as pieces of the
/// response frame (not copied again, see `weir_protocol::segmented`).
pub async fn handle(
    replicas: &Arc<ReplicaManager>,
    view: &MetadataView,
    sessions: &FetchSessionCache,
    version: i16,
    req: FetchRequest,
    send_files: bool,
) -> (FetchResponse, Duration) {
    let replica_id = if version >= 15 {
        i32::from(req.replica_state.replica_id)
    } else {
        i32::from(req.replica_id)
    };
    let is_consumer = replica_id < 0;
    let by_id = version >= 13;
    let topic_ref = |name: &TopicName, id: Uuid| {
        if by_id {
            TopicRef::Id(id)
        } else {
            TopicRef::Name(name.0.as_str().to_string())
        }
    };
    let mut requested = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            requested.push((
                PartKey {
                    topic: topic_ref(&t.topic, t.topic_id),
                    partition: p.partition,
                },
                PartRequest {
                    fetch_offset: p.fetch_offset,
                    max_bytes: p.partition_max_bytes,
                    current_leader_epoch: p.current_leader_epoch,
                    last_fetched_epoch: if version >= 12 {
                        p.last_fetched_epoch
                    } else {
                        -1
                    },
                },
            ));
        }
    }
    let mut forgotten = Vec::new();
    for f in &req.forgotten_topics_data {
        for p in &f.partitions {
            forgotten.push(PartKey {
                topic: topic_ref(&f.topic, f.topic_id),
                partition: *p,
            });
        }
    }
    let (session_id, epoch) = if version >= 7 {
        (req.session_id, req.session_epoch)
    } else {
        (0, -1)
    };
    let ctx = sessions.new_context(session_id, epoch, requested, forgotten, Instant::now());

    let mut resp = FetchResponse::default();
    resp.throttle_time_ms = 0;
    if let FetchContext::Error(code) = ctx {
        resp.error_code = code.code();
        resp.session_id = 0;
        return (resp, Duration::ZERO);
    }
    resp.error_code = 0;
    resp.session_id = ctx.response_session_id();

    let limits = Limits {
        max_bytes: usize::try_from(req.max_bytes).unwrap_or(0),
        is_consumer,
        follower_reads: is_consumer && version >= 11,
        read_committed: is_consumer && req.isolation_level == 1,
        rack: if version >= 11 {
            req.rack_id.as_str()
        } else {
            ""
        },
        send_files,
    };
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let max_wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let deadline = tokio::time::Instant::now() + max_wait;
    // Followers wake on every leader append, consumers only when a high watermark moves.
    let mut wake = if is_consumer {
        replicas.subscribe_new_data()
    } else {
        replicas.subscribe_new_appends()
    };
    // A follower's fetch offsets count toward the ISR and the high watermark only after the
    // first read, for partitions answered without an error or a diverging epoch (as Kafka): a
    // follower with a divergent tail must truncate first, or the leader would count records it
    // does not have (found by weir-sim, seed 290).
    let mut recorded = is_consumer;
    // When the fetch first parked; the data event that last woke it.
    let mut parked: Option<Instant> = None;
    let results = loop {
        let notified = *wake.borrow_and_update();
        let resumed = Instant::now();
        let results = read_all(replicas, view, ctx.parts(), limits);
        if !recorded {
            recorded = true;
            record_follower_fetches(replicas, view, replica_id, ctx.parts(), &results);
            // Recording may have moved the high watermark: read again before answering.
            if wake.has_changed().unwrap_or(false) {
                continue;
            }
        }
        let bytes: usize = results.iter().map(|r| r.1.record_bytes).sum();
        let any_error = results
            .iter()
            .any(|r| r.1.error_code != 0 || r.2.diverging_epoch.epoch >= 0);
        if parked.is_some() && bytes >= min_bytes && bytes > 0 {
            crate::metrics::stages::fetch_woken(!is_consumer, notified, resumed);
        }
        if max_wait.is_zero()
            || ctx.parts().is_empty()
            || bytes >= min_bytes
            || any_error
            || replicas.is_shutting_down()
        {
            break results;
        }
        parked.get_or_insert_with(Instant::now);
        match tokio::time::timeout_at(deadline, wake.changed()).await {
            Ok(Ok(())) => continue,
            // Deadline reached (or the broker is going away): answer with what we have.
            _ => break results,
        }
    };

    let waited = parked.map_or(Duration::ZERO, |p| p.elapsed());
    crate::metrics::stages::remote(kafka_protocol::messages::ApiKey::Fetch as i16, waited);

    let outcomes: Vec<(PartKey, PartOutcome)> =
        results.iter().map(|(k, o, _)| (k.clone(), *o)).collect();
    let include = sessions.record_outcomes(&ctx, &outcomes);
    for ((key, _, data), keep) in results.into_iter().zip(include) {
        if !keep {
            continue;
        }
        let same_topic = resp.responses.last().is_some_and(|t| match &key.topic {
            TopicRef::Name(n) => t.topic.0.as_str() == n,
            TopicRef::Id(id) => t.topic_id == *id,
        });
        if !same_topic {
            let mut t = FetchableTopicResponse::default();
            match &key.topic {
                TopicRef::Name(n) => t.topic = TopicName(StrBytes::from_string(n.clone())),
                TopicRef::Id(id) => {
                    t.topic_id = *id;
                    if let Some(meta) = view.topic_by_id(*id) {
                        t.topic = TopicName(StrBytes::from_string(meta.name));
                    }
                }
            }
            resp.responses.push(t);
        }
        if let Some(t) = resp.responses.last_mut() {
            t.partitions.push(data);
        }
    }
    (resp, waited)
}

/// A follower's fetch offsets are its log end offsets: tell the replication state of every
/// partition it fetched that this broker leads at the follower's epoch and that was answered
/// without an error or a diverging epoch (`answers`, in the order of `parts`).
fn record_follower_fetches(
    replicas: &Arc<ReplicaManager>,
    view: &MetadataView,
    replica_id: i32,
    parts: &[(PartKey, PartRequest)],
    answers: &[(PartKey, PartOutcome, PartitionData)],
) {
    for ((key, preq), (_, outcome, data)) in parts.iter().zip(answers) {
        if outcome.error_code != 0 || data.diverging_epoch.epoch >= 0 {
            continue;
        }
        let Some(name) = topic_name(view, &key.topic) else {
            continue;
        };
        let Ok(log) = replicas.require_log(&name, key.partition) else {
            continue;
        };
        if view
            .check_leader(&name, key.partition, preq.current_leader_epoch)
            .is_ok()
        {
            replicas.on_follower_fetch(log.topic_partition(), &log, replica_id, preq.fetch_offset);
        }
    }
}

fn topic_name(view: &MetadataView, topic: &TopicRef) -> Option<String> {
    match topic {
        TopicRef::Name(n) => Some(n.clone()),
        TopicRef::Id(id) => view.topic_by_id(*id).map(|m| m.name),
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits<'a> {
    max_bytes: usize,
    is_consumer: bool,
    /// Fetch v11+ consumers may read from followers (KIP-392).
    follower_reads: bool,
    /// The consumer's `client.rack` ("" = none).
    rack: &'a str,
    /// READ_COMMITTED: read below the last stable offset, with the aborted transactions.
    read_committed: bool,
    /// The connection sends record sets from files: large ones become placeholders.
    send_files: bool,
}

/// Read every partition once, honouring the response-wide byte limit.
fn read_all(
    replicas: &ReplicaManager,
    view: &MetadataView,
    parts: &[(PartKey, PartRequest)],
    limits: Limits,
) -> Vec<(PartKey, PartOutcome, PartitionData)> {
    let mut remaining = limits.max_bytes;
    let mut any_data = false;
    parts
        .iter()
        .map(|(key, preq)| {
            let data = match read_partition(replicas, view, key, preq, limits, remaining, any_data)
            {
                Ok(d) => d,
                Err((e, hw, start)) => {
                    // A consumer gets Kafka's unknown offsets (-1) with OFFSET_OUT_OF_RANGE;
                    // Weir's followers use the leader's to truncate or restart their log.
                    let oor = e == ResponseError::OffsetOutOfRange.code();
                    let (hw, start) = if oor && limits.is_consumer {
                        (-1, -1)
                    } else {
                        (hw, start)
                    };
                    let mut d = PartitionData::default();
                    d.partition_index = key.partition;
                    d.error_code = e;
                    d.high_watermark = hw;
                    d.last_stable_offset = hw;
                    d.log_start_offset = start;
                    // As Kafka: no aborted-transaction list when the log read failed.
                    if oor {
                        d.aborted_transactions = None;
                    }
                    d.records = Some(Bytes::new());
                    d
                }
            };
            let record_bytes = data.records.as_ref().map_or(0, Bytes::len);
            if record_bytes > 0 {
                if limits.is_consumer {
                    if let Some(topic) = topic_name(view, &key.topic) {
                        crate::metrics::fetched(&topic, record_bytes as u64);
                    }
                }
                any_data = true;
                remaining = remaining.saturating_sub(record_bytes);
            }
            let outcome = PartOutcome {
                error_code: data.error_code,
                high_watermark: data.high_watermark,
                last_stable_offset: data.last_stable_offset,
                log_start_offset: data.log_start_offset,
                record_bytes,
            };
            (key.clone(), outcome, data)
        })
        .collect()
}

/// Error code plus the high watermark and log start offset to report with it (-1 = unknown).
type PartErr = (i16, i64, i64);

fn read_partition(
    replicas: &ReplicaManager,
    view: &MetadataView,
    key: &PartKey,
    preq: &PartRequest,
    limits: Limits,
    remaining: usize,
    any_data: bool,
) -> Result<PartitionData, PartErr> {
    let Some(name) = topic_name(view, &key.topic) else {
        return Err((ResponseError::UnknownTopicId.code(), -1, -1));
    };
    let log = replicas
        .require_log(&name, key.partition)
        .map_err(|e| (e.code(), -1, -1))?;
    let leads = match view.check_leader(&name, key.partition, preq.current_leader_epoch) {
        Ok(_) => true,
        Err(e)
            if limits.follower_reads && e.code() == ResponseError::NotLeaderOrFollower.code() =>
        {
            view.check_follower_read(&name, key.partition, preq.current_leader_epoch)
                .map_err(|e| (e.code(), -1, -1))?;
            false
        }
        Err(e) => return Err((e.code(), -1, -1)),
    };
    let hw = log.high_watermark();
    let log_start = log.log_start_offset();
    let leo = log.log_end_offset();
    let offset = preq.fetch_offset;
    if preq.last_fetched_epoch >= 0 {
        // KIP-320: the fetcher's last epoch must end at or after its fetch offset here, else
        // tell it where our logs diverge (it truncates and fetches again).
        let (epoch, end) = log.end_offset_for_epoch(preq.last_fetched_epoch);
        if epoch >= 0 && (epoch < preq.last_fetched_epoch || end < offset) {
            let mut data = PartitionData::default();
            data.partition_index = key.partition;
            data.error_code = 0;
            data.high_watermark = hw;
            data.last_stable_offset = hw;
            data.log_start_offset = log_start;
            data.diverging_epoch.epoch = epoch;
            data.diverging_epoch.end_offset = end;
            data.records = Some(Bytes::new());
            return Ok(data);
        }
    }
    if offset < log_start || offset > leo {
        return Err((ResponseError::OffsetOutOfRange.code(), hw, log_start));
    }
    let lso = log.last_stable_offset();
    let max_offset = match (limits.is_consumer, limits.read_committed) {
        (true, true) => lso,
        (true, false) => hw,
        _ => leo,
    };
    let mut data = PartitionData::default();
    data.partition_index = key.partition;
    data.error_code = 0;
    data.high_watermark = hw;
    data.last_stable_offset = lso;
    data.log_start_offset = log_start;
    data.diverging_epoch.epoch = -1;
    data.diverging_epoch.end_offset = -1;
    // As Kafka: a READ_COMMITTED fetch gets a (possibly empty) list of aborted transactions,
    // any other fetch none (null on the wire).
    data.aborted_transactions = limits.read_committed.then(Vec::new);
    data.preferred_read_replica = (-1).into();
    data.records = Some(Bytes::new());
    if leads && limits.is_consumer {
        if let Some(replica) = view.preferred_read_replica(&name, key.partition, limits.rack) {
            // KIP-392: no records; the consumer fetches from `replica` from now on.
            data.preferred_read_replica = replica.into();
            return Ok(data);
        }
    }
    let limit = usize::try_from(preq.max_bytes).unwrap_or(0).min(remaining);
    if offset >= max_offset || (limit == 0 && any_data) {
        return Ok(data);
    }
    let (read, aborted) = if limits.read_committed {
        log.read_committed(offset, limit)
    } else {
        log.read(offset, limit, max_offset).map(|r| (r, Vec::new()))
    }
    .map_err(|e| (log_error_code(&e), hw, log_start))?;
    // Only the first partition with data may exceed the limits (one whole batch).
    if read.records.len == 0 || (any_data && read.records.len > limit) {
        return Ok(data);
    }
    let sent_from_file = if limits.send_files {
        placeholder(read.records.len, Arc::new(read.records.clone()))
    } else {
        None
    };
    let bytes = match sent_from_file {
        Some(p) => p,
        None => read
            .records
            .to_bytes()
            .map_err(|e| (BrokerError::from(e).code(), hw, log_start))?,
    };
    data.high_watermark = read.high_watermark;
    data.last_stable_offset = lso.min(read.high_watermark);
    data.log_start_offset = read.log_start_offset;
    data.aborted_transactions = limits.read_committed.then(|| {
        aborted
            .into_iter()
            .map(|a| {
                let mut t = AbortedTransaction::default();
                t.producer_id = a.producer_id.into();
                t.first_offset = a.first_offset;
                t
            })
            .collect()
    });
    data.records = Some(bytes);
    Ok(data)
}
