//! A follower's fetcher: one task per leader broker, copying every partition this broker
//! follows from that leader with Fetch v12 (replica id set, `last_fetched_epoch` for KIP-320
//! divergence checks). Each round: fetch (long-poll at the leader), truncate where the leader
//! reports a diverging epoch, append what came back keeping its offsets, wait until it is
//! durable, then fetch again — so the fetch offset a leader sees is always durable here and a
//! leader counts only fsynced copies toward the high watermark. A partition whose answer was an
//! error, or could not be applied, sits out the next rounds for a short backoff
//! ([`super::fetch_delays`]), so that it cannot turn the long-poll into a fetch storm.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_log::{PartitionLog, TopicPartition};

use super::fetch_delays::FetchDelays;
use super::manager::{FollowTarget, ReplicaManager};
use crate::inter_broker::BrokerStream;

/// Fetch version followers send (topic names, diverging epochs).
const FETCH_VERSION: i16 = 12;
/// Largest fetch response a follower accepts.
const MAX_RESPONSE: usize = 256 << 20;

/// Why one fetch round failed (the task backs off and reconnects).
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("leader {0} has no registered endpoint")]
    NoEndpoint(i32),
    #[error("i/o with the leader: {0}")]
    Io(#[from] std::io::Error),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timed out waiting for the leader")]
    Timeout,
    /// The follow targets changed while the long-poll was parked at the leader: a partition of
    /// this leader (new, or at a new leader epoch) is not in it. The connection is dropped (its
    /// answer is still due) and the next round starts at once.
    #[error("follow targets changed during the long-poll")]
    Superseded,
}

struct Connection {
    addr: String,
    stream: BrokerStream,
    correlation: i32,
}

/// Run the fetcher for partitions led by `leader` until none is left (or the broker stops).
pub async fn run(broker: Arc<ReplicaManager>, leader: i32) {
    let backoff = Duration::from_millis(broker.settings.replication.fetch_backoff_ms);
    // A partition's error is usually a metadata change in flight: retry it soon, not at once.
    let partition_backoff = backoff.min(Duration::from_millis(200));
    let mut delays = FetchDelays::default();
    let mut conn: Option<Connection> = None;
    tracing::info!(leader, "replica fetcher started");
    loop {
        // Before the targets are read: a change after that must end the round's long-poll.
        let mut changes = broker.subscribe_targets();
        let parts: Vec<(TopicPartition, FollowTarget)> = {
            let mut table = broker.fetch_table();
            let parts: Vec<_> = table
                .targets
                .iter()
                .filter(|(_, t)| t.leader == leader)
                .map(|(tp, t)| (tp.clone(), *t))
                .collect();
            if parts.is_empty() || broker.is_shutting_down() {
                table.running.remove(&leader);
                tracing::info!(leader, "replica fetcher stopped: nothing left to follow");
                return;
            }
            parts
        };
        let (parts, next_due) = delays.ready(parts, Instant::now());
        if parts.is_empty() {
            let due = next_due.unwrap_or_else(|| Instant::now() + partition_backoff);
            tokio::time::sleep_until(due.into()).await;
            continue;
        }
        let poll = Poll {
            changes: &mut changes,
            held_back_until: next_due,
        };
        match round(&broker, leader, &parts, &mut conn, poll).await {
            Ok(failed) => {
                let now = Instant::now();
                for (tp, target) in failed {
                    delays.delay(&tp, target, now, partition_backoff);
                }
            }
            Err(RoundError::Superseded) => {
                tracing::debug!(leader, "replica fetch abandoned: follow targets changed");
                conn = None;
            }
            Err(e) => {
                tracing::debug!(leader, error = %e, "replica fetch failed; backing off");
                conn = None;
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// How a round's long-poll ends early: on a follow-target change it does not cover, and by the
/// time partitions held back for a backoff may be fetched again.
struct Poll<'a> {
    changes: &'a mut tokio::sync::watch::Receiver<u64>,
    held_back_until: Option<Instant>,
}

/// One fetch round. Returns the partitions to hold back for a while: those the leader answered
/// with an error, whose answer could not be applied, or whose answer was dropped because the log
/// end moved meanwhile (a damaged copy, see below).
async fn round(
    broker: &Arc<ReplicaManager>,
    leader: i32,
    parts: &[(TopicPartition, FollowTarget)],
    conn: &mut Option<Connection>,
    poll: Poll<'_>,
) -> Result<Vec<(TopicPartition, FollowTarget)>, RoundError> {
    let addr = leader_addr(broker, leader).ok_or(RoundError::NoEndpoint(leader))?;
    if conn.as_ref().is_none_or(|c| c.addr != addr) {
        let connector = &broker.settings.connector;
        let stream = tokio::time::timeout(Duration::from_secs(3), connector.connect(&addr))
            .await
            .map_err(|_| RoundError::Timeout)??;
        *conn = Some(Connection {
            addr: addr.clone(),
            stream,
            correlation: 0,
        });
    }
    let Some(c) = conn.as_mut() else {
        return Err(RoundError::Timeout);
    };
    let cfg = &broker.settings.replication;
    let mut logs: HashMap<TopicPartition, Arc<PartitionLog>> = HashMap::new();
    let mut fetched_from: HashMap<TopicPartition, i64> = HashMap::new();
    let sent: HashMap<&TopicPartition, FollowTarget> =
        parts.iter().map(|(tp, t)| (tp, *t)).collect();
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(broker.settings.node_id);
    // Partitions held back rejoin when their backoff ends: the long-poll ends by then.
    req.max_wait_ms = poll.held_back_until.map_or(cfg.fetch_wait_max_ms, |t| {
        let ms = t.saturating_duration_since(Instant::now()).as_millis();
        cfg.fetch_wait_max_ms
            .min(i32::try_from(ms).unwrap_or(i32::MAX))
    });
    req.min_bytes = 1;
    req.max_bytes = cfg.fetch_response_max_bytes;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1;
    for (tp, target) in parts {
        let Some(log) = broker.logs.get(tp) else {
            continue;
        };
        let mut p = FetchPartition::default();
        p.partition = tp.partition;
        p.current_leader_epoch = target.leader_epoch;
        // Damaged here (`damage_repair.rs`): fetch from the damage, so that the leader never
        // counts this copy as holding the damaged records (a fetch offset overwrites what the
        // leader knew); the answer does not land (the log end is elsewhere) until the truncation.
        let leo = log.log_end_offset();
        p.fetch_offset = log.runtime_damage_at().map_or(leo, |at| at.min(leo));
        fetched_from.insert(tp.clone(), p.fetch_offset);
        p.last_fetched_epoch = log.latest_epoch().unwrap_or(-1);
        p.log_start_offset = log.log_start_offset();
        p.partition_max_bytes = cfg.fetch_max_bytes;
        match req.topics.last_mut() {
            Some(t) if t.topic.0.as_str() == tp.topic => t.partitions.push(p),
            _ => {
                let mut t = FetchTopic::default();
                t.topic = TopicName(StrBytes::from_string(tp.topic.clone()));
                t.partitions.push(p);
                req.topics.push(t);
            }
        }
        logs.insert(tp.clone(), log);
    }
    if logs.is_empty() {
        return Ok(parts.to_vec());
    }
    let in_flight = InFlight::mark(
        broker.clone(),
        fetched_from
            .iter()
            .map(|(tp, o)| (tp.clone(), *o))
            .collect(),
    );
    c.correlation = c.correlation.wrapping_add(1);
    let frame = weir_protocol::client::encode_request(
        ApiKey::Fetch,
        FETCH_VERSION,
        c.correlation,
        "weir-replica-fetcher",
        &req,
    )
    .map_err(|e| RoundError::Protocol(e.to_string()))?;
    let wait = Duration::from_millis(cfg.fetch_wait_max_ms.max(0) as u64) + Duration::from_secs(30);
    let in_request: HashMap<&TopicPartition, FollowTarget> = sent
        .iter()
        .filter(|(tp, _)| logs.contains_key(**tp))
        .map(|(tp, t)| (*tp, *t))
        .collect();
    let answer = tokio::time::timeout(wait, async {
        c.stream.write_all(&frame).await?;
        // Until the answer starts, a partition this request does not cover ends the wait.
        let mut prefix = [0u8; 4];
        tokio::select! {
            r = c.stream.read_exact(&mut prefix) => { r?; }
            () = superseded(broker, leader, &in_request, poll.changes) => return Ok(None),
        }
        let len = weir_protocol::frame::frame_length(prefix, MAX_RESPONSE)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        // Read into uninitialised capacity: a response carries megabytes of record sets, and
        // zeroing them first cost a visible share of a follower's CPU.
        let mut buf = BytesMut::with_capacity(len);
        while buf.len() < len {
            let room = len - buf.len();
            if c.stream.read_buf(&mut (&mut buf).limit(room)).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok::<_, std::io::Error>(Some(buf.freeze()))
    })
    .await
    .map_err(|_| RoundError::Timeout)??;
    let Some(body) = answer else {
        // The leader may still read the abandoned request and count its fetch offsets: keep
        // them claimed for as long as an answer could have taken.
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            drop(in_flight);
        });
        return Err(RoundError::Superseded);
    };
    let resp: FetchResponse =
        weir_protocol::client::decode_response(ApiKey::Fetch, FETCH_VERSION, c.correlation, body)
            .map_err(|e| RoundError::Protocol(e.to_string()))?;
    if resp.error_code != 0 {
        return Err(RoundError::Protocol(format!(
            "fetch error code {}",
            resp.error_code
        )));
    }
    let mut failed = Vec::new();
    let mut tickets = Vec::new();
    let mut appended = Vec::new();
    for t in resp.responses {
        for pd in t.partitions {
            let tp = TopicPartition::new(t.topic.0.as_str(), pd.partition_index);
            let Some(log) = logs.get(&tp) else {
                continue;
            };
            // Drop the answer unless the partition still follows this leader at the epoch the
            // fetch was sent for. The fetch table stays locked while the answer is applied:
            // `reconcile` removes a partition this broker starts to lead from the table before
            // its new epoch begins in the log, so nothing fetched from the old leader lands after.
            // Also dropped when the log end moved since the fetch was sent (a truncation at disk
            // damage, `damage_repair.rs`): appending it would leave a hole.
            let table = broker.fetch_table();
            let Some(&target) = sent.get(&tp) else {
                continue;
            };
            if table.targets.get(&tp) != Some(&target) {
                continue;
            }
            if fetched_from.get(&tp) != Some(&log.log_end_offset()) {
                failed.push((tp, target));
                continue;
            }
            let result = apply(log, &pd);
            drop(table);
            match result {
                Ok(Applied { ticket, hw, ok }) => {
                    if !ok {
                        failed.push((tp.clone(), target));
                    }
                    if let Some(ticket) = ticket {
                        tickets.push(ticket);
                    }
                    appended.push((log.clone(), hw, pd.log_start_offset));
                }
                Err(e) => {
                    tracing::warn!(partition = %tp.dir_name(), error = %e, "could not apply fetched data");
                    failed.push((tp, target));
                }
            }
        }
    }
    for ticket in tickets {
        if let Err(e) = broker.logs.wait_durable_async(ticket).await {
            return Err(RoundError::Protocol(format!("local fsync failed: {e}")));
        }
    }
    for (log, leader_hw, leader_log_start) in appended {
        // Advancing wakes the consumers long-polling this follower (KIP-392).
        broker.advance_high_watermark(&log, leader_hw.min(log.log_end_offset()));
        // DeleteRecords on the leader moves the followers' log start too (as in Kafka).
        let start = leader_log_start.min(log.high_watermark());
        if start > log.log_start_offset() {
            if let Err(e) = log.delete_records_before(start) {
                tracing::warn!(partition = %log.topic_partition().dir_name(), error = %e, "could not follow the leader's log start");
            }
        }
    }
    Ok(failed)
}

/// Returns once the follow targets hold a partition of `leader` (with a local log) that
/// `in_request` does not have at the same target: the long-poll in flight cannot bring it.
async fn superseded(
    broker: &ReplicaManager,
    leader: i32,
    in_request: &HashMap<&TopicPartition, FollowTarget>,
    changes: &mut tokio::sync::watch::Receiver<u64>,
) {
    loop {
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
        let candidates: Vec<TopicPartition> = broker
            .fetch_table()
            .targets
            .iter()
            .filter(|(tp, t)| t.leader == leader && in_request.get(tp) != Some(t))
            .map(|(tp, _)| tp.clone())
            .collect();
        if candidates.iter().any(|tp| broker.logs.get(tp).is_some()) {
            return;
        }
    }
}

/// The partitions of a fetch request from when it is sent until its answer was applied (or the
/// round failed, or for as long as an abandoned request could still be answered):
/// `FetchTable::in_flight`.
struct InFlight {
    broker: Arc<ReplicaManager>,
    claims: Vec<(TopicPartition, i64)>,
}

impl InFlight {
    fn mark(broker: Arc<ReplicaManager>, claims: Vec<(TopicPartition, i64)>) -> Self {
        {
            let mut table = broker.fetch_table();
            for (tp, offset) in &claims {
                table.in_flight.entry(tp.clone()).or_default().push(*offset);
            }
        }
        InFlight { broker, claims }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut table = self.broker.fetch_table();
        for (tp, offset) in &self.claims {
            if let Some(offsets) = table.in_flight.get_mut(tp) {
                if let Some(i) = offsets.iter().position(|o| o == offset) {
                    offsets.swap_remove(i);
                }
                if offsets.is_empty() {
                    table.in_flight.remove(tp);
                }
            }
        }
    }
}

/// What applying one partition's answer did.
struct Applied {
    ticket: Option<weir_log::DurabilityTicket>,
    /// The leader's high watermark (-1 when unknown).
    hw: i64,
    /// False when the leader answered with an error.
    ok: bool,
}

/// Apply one partition of a fetch response to the local log: truncate to the divergence
/// point, reset after OFFSET_OUT_OF_RANGE, or append the records.
fn apply(log: &PartitionLog, pd: &PartitionData) -> Result<Applied, weir_log::LogError> {
    let tp = log.topic_partition().dir_name();
    let none = |ok| Applied {
        ticket: None,
        hw: -1,
        ok,
    };
    if pd.error_code == ResponseError::OffsetOutOfRange.code() {
        let leo = log.log_end_offset();
        if pd.log_start_offset > leo {
            tracing::warn!(partition = %tp, leader_log_start = pd.log_start_offset, leo, "behind the leader's log start: starting over there");
            log.truncate_fully_and_start_at(pd.log_start_offset)?;
        } else if pd.high_watermark >= 0 && pd.high_watermark < leo {
            tracing::warn!(partition = %tp, leader_hw = pd.high_watermark, leo, "ahead of the leader: truncating to its high watermark");
            log.truncate_to(pd.high_watermark)?;
        }
        return Ok(none(true));
    }
    if pd.error_code != 0 {
        tracing::debug!(partition = %tp, code = pd.error_code, "leader refused the fetch");
        return Ok(none(false));
    }
    if pd.diverging_epoch.epoch >= 0 {
        let (leader_epoch, leader_end) = (pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset);
        let leo = log.log_end_offset();
        let (local_epoch, local_end) = log.end_offset_for_epoch(leader_epoch);
        // Kafka's follower truncation (AbstractFetcherThread.getOffsetTruncationState).
        let to = if local_epoch < 0 {
            leader_end.min(leo)
        } else if local_epoch != leader_epoch {
            local_end.min(leo)
        } else {
            leader_end.min(local_end).min(leo)
        };
        tracing::info!(partition = %tp, leader_epoch, leader_end, truncate_to = to, leo, "diverging log: truncating");
        log.truncate_to(to)?;
        return Ok(Applied {
            ticket: None,
            hw: pd.high_watermark,
            ok: true,
        });
    }
    let records = pd.records.as_deref().unwrap_or(&[]);
    let ticket = if records.is_empty() {
        None
    } else {
        log.append_replicated(records)?.durable
    };
    Ok(Applied {
        ticket,
        hw: pd.high_watermark,
        ok: true,
    })
}

/// `host:port` of the leader's inter-broker listener from the metadata image.
fn leader_addr(broker: &ReplicaManager, leader: i32) -> Option<String> {
    let image = broker.view.image();
    let b = image.brokers.get(&leader)?;
    let ep = crate::peers::inter_broker_endpoint(b, &broker.settings.connector.listener)?;
    Some(format!("{}:{}", ep.host, ep.port))
}
