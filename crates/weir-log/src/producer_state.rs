//! Idempotent-producer state of one partition (Kafka's `ProducerStateManager`): per producer id
//! its epoch and the sequence ranges and offsets of its last five batches. The leader checks every
//! batch that carries a producer id before appending it:
//!
//! * same epoch, same sequence range as a cached batch → a retry: answered with the original
//!   offsets, nothing appended;
//! * same epoch, first sequence ≠ last sequence + 1 → OUT_OF_ORDER_SEQUENCE_NUMBER;
//! * older epoch → INVALID_PRODUCER_EPOCH; a newer epoch must start at sequence 0;
//! * a producer id with no state (new, or expired after `producer.id.expiration.ms`) is accepted at
//!   any sequence, as Kafka does since KIP-360.
//!
//! The state is snapshotted in Kafka's `<offset>.snapshot` format (version 1, CRC32C) when a
//! segment rolls and on clean shutdown, and rebuilt at open from the newest snapshot plus the batch
//! headers of the log after it. The checks are sans-IO; only the snapshot helpers touch files.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::batch::BatchHeader;
use crate::LogError;

/// Batches remembered per producer (Kafka's `NUM_BATCHES_TO_RETAIN`, matching
/// `max.in.flight.requests.per.connection` ≤ 5).
pub const MAX_CACHED_BATCHES: usize = 5;

/// Sequence range and offsets of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    /// First sequence number.
    pub first_seq: i32,
    /// Last sequence number.
    pub last_seq: i32,
    /// Offset of the first record.
    pub first_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Max timestamp of the batch.
    pub timestamp: i64,
}

/// One producer's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    /// Current epoch.
    pub epoch: i16,
    /// Last batches, oldest first.
    pub batches: VecDeque<BatchMetadata>,
    /// Timestamp of the last batch (for expiry).
    pub last_timestamp: i64,
}

/// The idempotent-producer state of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

/// The last sequence of a batch: `first + last_offset_delta`, wrapping past `i32::MAX` to 0.
pub fn last_sequence(first_seq: i32, last_offset_delta: i32) -> i32 {
    let sum = i64::from(first_seq) + i64::from(last_offset_delta);
    (sum % (i64::from(i32::MAX) + 1)) as i32
}

fn in_sequence(last: i32, next: i32) -> bool {
    next == last_sequence(last, 1)
}

/// Outcome of checking one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Not idempotent, or in sequence: append it.
    Append,
    /// A retry of this already-appended batch.
    Duplicate(BatchMetadata),
}

impl ProducerStateManager {
    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// True when no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// The state of one producer.
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Check a batch against the state (`pending` holds entries updated by earlier batches of the
    /// same append, which take precedence).
    pub fn check(
        &self,
        pending: &HashMap<i64, ProducerEntry>,
        h: &BatchHeader,
    ) -> Result<Check, LogError> {
        if h.producer_id < 0 {
            return Ok(Check::Append);
        }
        let Some(e) = pending
            .get(&h.producer_id)
            .or_else(|| self.producers.get(&h.producer_id))
        else {
            return Ok(Check::Append);
        };
        let first = h.base_sequence;
        let last = last_sequence(first, h.last_offset_delta);
        if h.producer_epoch < e.epoch {
            return Err(LogError::InvalidProducerEpoch(format!(
                "producer {} epoch {} is older than the current epoch {}",
                h.producer_id, h.producer_epoch, e.epoch
            )));
        }
        if h.producer_epoch == e.epoch {
            if let Some(d) = e
                .batches
                .iter()
                .find(|b| b.first_seq == first && b.last_seq == last)
            {
                return Ok(Check::Duplicate(*d));
            }
            if let Some(prev) = e.batches.back() {
                if !in_sequence(prev.last_seq, first) {
                    return Err(LogError::OutOfOrderSequence(format!(
                        "producer {} epoch {}: expected sequence {}, got {first}",
                        h.producer_id,
                        e.epoch,
                        last_sequence(prev.last_seq, 1)
                    )));
                }
            }
            return Ok(Check::Append);
        }
        if first != 0 {
            return Err(LogError::OutOfOrderSequence(format!(
                "producer {} new epoch {} must start at sequence 0, got {first}",
                h.producer_id, h.producer_epoch
            )));
        }
        Ok(Check::Append)
    }

    /// Record an appended batch (`h.base_offset` already assigned) into `pending`.
    pub fn stage(&self, pending: &mut HashMap<i64, ProducerEntry>, h: &BatchHeader) {
        if h.producer_id < 0 {
            return;
        }
        let e = pending.entry(h.producer_id).or_insert_with(|| {
            self.producers
                .get(&h.producer_id)
                .cloned()
                .unwrap_or(ProducerEntry {
                    epoch: h.producer_epoch,
                    batches: VecDeque::new(),
                    last_timestamp: h.max_timestamp,
                })
        });
        push(e, h);
    }

    /// Install the staged entries of a successful append.
    pub fn commit(&mut self, pending: HashMap<i64, ProducerEntry>) {
        self.producers.extend(pending);
    }

    /// Apply a batch read back from the log (rebuild after open).
    pub fn replay(&mut self, h: &BatchHeader) {
        if h.producer_id < 0 {
            return;
        }
        let e = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: h.producer_epoch,
                batches: VecDeque::new(),
                last_timestamp: h.max_timestamp,
            });
        push(e, h);
    }

    /// Forget producers whose last batch is older than `expiration_ms` (`producer.id.expiration.ms`).
    pub fn expire(&mut self, now: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, e| now.saturating_sub(e.last_timestamp) < expiration_ms);
        before - self.producers.len()
    }

    /// Kafka's snapshot format, version 1: `i16 version, u32 crc32c(rest), i32 count,
    /// [i64 producer_id, i16 epoch, i32 last_sequence, i64 last_offset, i32 offset_delta,
    /// i64 timestamp, i32 coordinator_epoch, i64 current_txn_first_offset]`.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut ids: Vec<&i64> = self.producers.keys().collect();
        ids.sort();
        body.extend_from_slice(&(ids.len() as i32).to_be_bytes());
        for id in ids {
            let e = &self.producers[id];
            let Some(b) = e.batches.back() else { continue };
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&b.last_seq.to_be_bytes());
            body.extend_from_slice(&b.last_offset.to_be_bytes());
            body.extend_from_slice(&((b.last_offset - b.first_offset) as i32).to_be_bytes());
            body.extend_from_slice(&e.last_timestamp.to_be_bytes());
            body.extend_from_slice(&(-1i32).to_be_bytes());
            body.extend_from_slice(&(-1i64).to_be_bytes());
        }
        let mut out = Vec::with_capacity(body.len() + 6);
        out.extend_from_slice(&1i16.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parse a snapshot; a wrong version, CRC or length is `CorruptFile`-worthy garbage.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 10 {
            return Err("snapshot shorter than its header".into());
        }
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if version != 1 {
            return Err(format!("snapshot version {version} unknown"));
        }
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let body = &bytes[6..];
        if crc32c::crc32c(body) != crc {
            return Err("snapshot CRC mismatch".into());
        }
        let count = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        const ENTRY: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;
        if count < 0 || body.len() != 4 + count as usize * ENTRY {
            return Err(format!("snapshot length does not match {count} entries"));
        }
        let mut m = ProducerStateManager::default();
        for e in body[4..].chunks_exact(ENTRY) {
            let i64_at = |o: usize| i64::from_be_bytes(e[o..o + 8].try_into().unwrap_or([0; 8]));
            let i32_at = |o: usize| i32::from_be_bytes(e[o..o + 4].try_into().unwrap_or([0; 4]));
            let id = i64_at(0);
            let epoch = i16::from_be_bytes([e[8], e[9]]);
            let last_seq = i32_at(10);
            let last_offset = i64_at(14);
            let delta = i32_at(22);
            let timestamp = i64_at(26);
            let first_seq =
                (i64::from(last_seq) - i64::from(delta)).rem_euclid(i64::from(i32::MAX) + 1) as i32;
            let mut batches = VecDeque::new();
            batches.push_back(BatchMetadata {
                first_seq,
                last_seq,
                first_offset: last_offset - i64::from(delta),
                last_offset,
                timestamp,
            });
            m.producers.insert(
                id,
                ProducerEntry {
                    epoch,
                    batches,
                    last_timestamp: timestamp,
                },
            );
        }
        Ok(m)
    }
}

fn push(e: &mut ProducerEntry, h: &BatchHeader) {
    if h.producer_epoch != e.epoch {
        e.epoch = h.producer_epoch;
        e.batches.clear();
    }
    e.batches.push_back(BatchMetadata {
        first_seq: h.base_sequence,
        last_seq: last_sequence(h.base_sequence, h.last_offset_delta),
        first_offset: h.base_offset,
        last_offset: h.last_offset(),
        timestamp: h.max_timestamp,
    });
    while e.batches.len() > MAX_CACHED_BATCHES {
        e.batches.pop_front();
    }
    e.last_timestamp = e.last_timestamp.max(h.max_timestamp);
}

/// `<dir>/<20-digit offset>.snapshot`.
pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}.snapshot"))
}

/// Snapshot files in `dir`, by offset, ascending.
pub fn list_snapshots(dir: &Path) -> Vec<i64> {
    let mut out: Vec<i64> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_suffix(".snapshot")?.parse::<i64>().ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// Write the snapshot for `offset` atomically and delete all but the two newest.
pub fn write_snapshot(
    dir: &Path,
    offset: i64,
    state: &ProducerStateManager,
) -> Result<(), LogError> {
    crate::checkpoint::write_atomic(&snapshot_path(dir, offset), &state.to_snapshot())?;
    let all = list_snapshots(dir);
    for old in all.iter().take(all.len().saturating_sub(2)) {
        let _ = std::fs::remove_file(snapshot_path(dir, *old));
    }
    Ok(())
}

/// Load the newest valid snapshot at or below `log_end_offset` (deleting snapshots above it, left
/// by a truncation): returns the state and the offset to replay the log from.
pub fn load_snapshot(dir: &Path, log_end_offset: i64) -> (ProducerStateManager, Option<i64>) {
    for off in list_snapshots(dir).into_iter().rev() {
        let path = snapshot_path(dir, off);
        if off > log_end_offset {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| ProducerStateManager::from_snapshot(&b))
        {
            Ok(s) => return (s, Some(off)),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "ignoring bad producer snapshot");
            }
        }
    }
    (ProducerStateManager::default(), None)
}

#[cfg(test)]
#[path = "producer_state_tests.rs"]
mod tests;
