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
//! The state is snapshotted in `<offset>.snapshot` files (Kafka's layout extended to keep every
//! cached batch, see [`ProducerStateManager::to_snapshot`]) when a segment rolls and on clean shutdown, and rebuilt at open from the newest snapshot plus the batch
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
                    let cached: Vec<String> = e
                        .batches
                        .iter()
                        .map(|b| format!("{}..={}@{}", b.first_seq, b.last_seq, b.first_offset))
                        .collect();
                    return Err(LogError::OutOfOrderSequence(format!(
                        "producer {} epoch {}: expected sequence {}, got {first}..={last} \
                         (last batches: {})",
                        h.producer_id,
                        e.epoch,
                        last_sequence(prev.last_seq, 1),
                        cached.join(", ")
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

    /// The snapshot file: `i16 version, u32 crc32c(rest), i32 count` and `count` producer
    /// entries. Written as version 2, weir's extension of Kafka's layout that keeps every cached
    /// batch: `[i64 producer_id, i16 epoch, i64 last_timestamp, i8 n, n × [i32 first_sequence,
    /// i32 last_sequence, i64 first_offset, i64 last_offset, i64 timestamp]]`. Kafka's version 1
    /// keeps only the last batch per producer, so after a restart a retry of any earlier in-flight
    /// batch would be refused as OUT_OF_ORDER_SEQUENCE_NUMBER (fatal for the producer) instead of
    /// being answered as a duplicate. Version 1 files (`[i64 producer_id, i16 epoch,
    /// i32 last_sequence, i64 last_offset, i32 offset_delta, i64 timestamp, i32 coordinator_epoch,
    /// i64 current_txn_first_offset]`) are still read.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut ids: Vec<&i64> = self.producers.keys().collect();
        ids.sort();
        let entries: Vec<(&i64, &ProducerEntry)> = ids
            .into_iter()
            .map(|id| (id, &self.producers[id]))
            .filter(|(_, e)| !e.batches.is_empty())
            .collect();
        body.extend_from_slice(&(entries.len() as i32).to_be_bytes());
        for (id, e) in entries {
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&e.last_timestamp.to_be_bytes());
            let n = e.batches.len().min(MAX_CACHED_BATCHES);
            body.push(n as u8);
            for b in e.batches.iter().skip(e.batches.len() - n) {
                body.extend_from_slice(&b.first_seq.to_be_bytes());
                body.extend_from_slice(&b.last_seq.to_be_bytes());
                body.extend_from_slice(&b.first_offset.to_be_bytes());
                body.extend_from_slice(&b.last_offset.to_be_bytes());
                body.extend_from_slice(&b.timestamp.to_be_bytes());
            }
        }
        let mut out = Vec::with_capacity(body.len() + 6);
        out.extend_from_slice(&2i16.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parse a snapshot (version 2, or Kafka's version 1); a wrong version, CRC or length is
    /// `CorruptFile`-worthy garbage.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 10 {
            return Err("snapshot shorter than its header".into());
        }
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if version != 1 && version != 2 {
            return Err(format!("snapshot version {version} unknown"));
        }
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let body = &bytes[6..];
        if crc32c::crc32c(body) != crc {
            return Err("snapshot CRC mismatch".into());
        }
        let count = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        if count < 0 {
            return Err(format!("snapshot claims {count} entries"));
        }
        let mut r = Reader {
            bytes: &body[4..],
            pos: 0,
        };
        let mut m = ProducerStateManager::default();
        for _ in 0..count {
            let (id, entry) = if version == 1 {
                read_v1_entry(&mut r)?
            } else {
                read_v2_entry(&mut r)?
            };
            m.producers.insert(id, entry);
        }
        if r.pos != r.bytes.len() {
            return Err(format!("snapshot length does not match {count} entries"));
        }
        Ok(m)
    }
}

/// A bounds-checked big-endian reader over a snapshot body.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let out = self
            .bytes
            .get(self.pos..self.pos + N)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| "snapshot ends inside an entry".to_string())?;
        self.pos += N;
        Ok(out)
    }
    fn i8(&mut self) -> Result<i8, String> {
        self.take::<1>().map(i8::from_be_bytes)
    }
    fn i16(&mut self) -> Result<i16, String> {
        self.take::<2>().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.take::<4>().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Result<i64, String> {
        self.take::<8>().map(i64::from_be_bytes)
    }
}

fn read_v1_entry(r: &mut Reader<'_>) -> Result<(i64, ProducerEntry), String> {
    let id = r.i64()?;
    let epoch = r.i16()?;
    let last_seq = r.i32()?;
    let last_offset = r.i64()?;
    let delta = r.i32()?;
    let timestamp = r.i64()?;
    let _coordinator_epoch = r.i32()?;
    let _txn_first_offset = r.i64()?;
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
    Ok((
        id,
        ProducerEntry {
            epoch,
            batches,
            last_timestamp: timestamp,
        },
    ))
}

fn read_v2_entry(r: &mut Reader<'_>) -> Result<(i64, ProducerEntry), String> {
    let id = r.i64()?;
    let epoch = r.i16()?;
    let last_timestamp = r.i64()?;
    let n = r.i8()?;
    if !(1..=MAX_CACHED_BATCHES as i8).contains(&n) {
        return Err(format!("snapshot entry for producer {id} has {n} batches"));
    }
    let mut batches = VecDeque::with_capacity(n as usize);
    for _ in 0..n {
        batches.push_back(BatchMetadata {
            first_seq: r.i32()?,
            last_seq: r.i32()?,
            first_offset: r.i64()?,
            last_offset: r.i64()?,
            timestamp: r.i64()?,
        });
    }
    Ok((
        id,
        ProducerEntry {
            epoch,
            batches,
            last_timestamp,
        },
    ))
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
