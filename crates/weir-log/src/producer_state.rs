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
//! Transactions (KIP-98, Kafka's `ProducerStateEntry.currentTxnFirstOffset`): the first
//! transactional batch of a producer starts its ongoing transaction at that batch's offset; a
//! non-transactional batch while one is ongoing is INVALID_TXN_STATE. A COMMIT or ABORT marker
//! ([`ProducerStateManager::apply_marker`], checked first by
//! [`ProducerStateManager::check_marker`]) ends it and yields a [`CompletedTxn`]; a marker for a
//! producer with no ongoing transaction here is written but completes nothing. The first offset
//! of the earliest ongoing transaction, and of completed ones whose marker is not yet below the
//! high watermark, is the partition's first unstable offset.
//!
//! The state is snapshotted in `<offset>.snapshot` files (Kafka's layout extended to keep every
//! cached batch and the transaction state, see [`ProducerStateManager::to_snapshot`]) when a
//! segment rolls and on clean shutdown, and rebuilt at open from the newest snapshot plus the
//! batches of the log after it. The checks are sans-IO; only the snapshot helpers touch files.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::batch::BatchHeader;
use crate::txn_marker::{is_transactional, EndTxnMarker, TxnMarker, TxnResult};
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
    /// Timestamp of the last batch or marker (for expiry).
    pub last_timestamp: i64,
    /// Epoch of the coordinator that wrote this producer's last marker (-1: none yet).
    pub coordinator_epoch: i32,
    /// First offset of the producer's ongoing transaction in this partition (Kafka's
    /// `currentTxnFirstOffset`); `None` when no transaction is ongoing.
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    fn empty(epoch: i16, last_timestamp: i64) -> ProducerEntry {
        ProducerEntry {
            epoch,
            batches: VecDeque::new(),
            last_timestamp,
            coordinator_epoch: -1,
            current_txn_first_offset: None,
        }
    }
}

/// A transaction ended by a marker (Kafka's `CompletedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    /// The producer.
    pub producer_id: i64,
    /// Offset of the transaction's first batch here.
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    /// True for ABORT.
    pub aborted: bool,
}

/// The idempotent-producer and transaction state of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Ongoing transactions: first offset → producer id (derived from `producers`).
    ongoing: BTreeMap<i64, i64>,
    /// Completed transactions whose marker may not be below the high watermark yet: first offset
    /// → marker offset (Kafka's `unreplicatedTxns`; not snapshotted).
    unreplicated: BTreeMap<i64, i64>,
    /// KIP-890 verification guards: producer id → the guard of a verification started while it
    /// had no ongoing transaction here (Kafka's `VerificationGuard`; not snapshotted).
    verifications: HashMap<i64, Verification>,
    /// The last guard handed out.
    last_guard: u64,
}

/// A KIP-890 verification in progress (Kafka's `VerificationStateEntry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verification {
    guard: u64,
    /// The epoch of the write being verified.
    epoch: i16,
    /// Transaction version 2 (Produce v12+).
    tv2: bool,
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

    /// Every tracked producer with its state, by producer id.
    pub fn snapshot_entries(&self) -> Vec<(i64, ProducerEntry)> {
        let mut v: Vec<_> = self
            .producers
            .iter()
            .map(|(&id, e)| (id, e.clone()))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
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
            if h.base_sequence > 0 {
                // Rare (the producer's state expired, or its batches were deleted): worth a line,
                // since a retry accepted this way cannot be recognised as one.
                tracing::info!(
                    producer_id = h.producer_id,
                    epoch = h.producer_epoch,
                    sequence = h.base_sequence,
                    "no state for this producer: accepting its batch at any sequence"
                );
            }
            return Ok(Check::Append);
        };
        let check = Self::check_sequence(e, h)?;
        if check == Check::Append && e.current_txn_first_offset.is_some() && !is_transactional(h) {
            return Err(LogError::InvalidTxnState(format!(
                "producer {} wrote a non-transactional batch while its transaction starting at \
                 offset {} is ongoing",
                h.producer_id,
                e.current_txn_first_offset.unwrap_or(-1)
            )));
        }
        Ok(check)
    }

    /// The check of a batch a coordinator writes to its own topic (Kafka's
    /// `AppendOrigin.COORDINATOR`): only the producer epoch (older than the current one →
    /// INVALID_PRODUCER_EPOCH) and the transaction state (as [`Self::check`]); sequences are
    /// not checked and nothing is a duplicate.
    pub fn check_coordinator(
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
        if h.producer_epoch < e.epoch {
            return Err(LogError::InvalidProducerEpoch(format!(
                "producer {} epoch {} is older than the current epoch {}",
                h.producer_id, h.producer_epoch, e.epoch
            )));
        }
        if e.current_txn_first_offset.is_some() && !is_transactional(h) {
            return Err(LogError::InvalidTxnState(format!(
                "producer {} wrote a non-transactional batch while its transaction is ongoing",
                h.producer_id
            )));
        }
        Ok(Check::Append)
    }

    fn check_sequence(e: &ProducerEntry, h: &BatchHeader) -> Result<Check, LogError> {
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
                .unwrap_or_else(|| ProducerEntry::empty(h.producer_epoch, h.max_timestamp))
        });
        push(e, h);
    }

    /// Install the staged entries of a successful append.
    pub fn commit(&mut self, pending: HashMap<i64, ProducerEntry>) {
        for (&id, e) in &pending {
            if let Some(first) = e.current_txn_first_offset {
                self.ongoing.insert(first, id);
            }
        }
        self.producers.extend(pending);
    }

    /// Apply a data batch read back from the log or copied from the leader, unchecked (Kafka's
    /// replication origin). Control batches go to [`ProducerStateManager::apply_marker`].
    pub fn replay(&mut self, h: &BatchHeader) {
        if h.producer_id < 0 {
            return;
        }
        let e = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry::empty(h.producer_epoch, h.max_timestamp));
        push(e, h);
        if let Some(first) = e.current_txn_first_offset {
            self.ongoing.insert(first, h.producer_id);
        }
    }

    /// The leader's checks of a marker before it is written (Kafka's `appendEndTxnMarker`):
    /// an older producer epoch (under transaction version 2: not a newer one, unless it is an
    /// idempotent retry) is INVALID_PRODUCER_EPOCH, an older coordinator epoch than the
    /// producer's last marker is TRANSACTION_COORDINATOR_FENCED.
    pub fn check_marker(&self, m: &TxnMarker) -> Result<(), LogError> {
        let Some(e) = self.producers.get(&m.producer_id) else {
            return Ok(());
        };
        let stale = if m.transaction_version >= 2 {
            m.producer_epoch < e.epoch
                || (m.producer_epoch == e.epoch && e.current_txn_first_offset.is_some())
        } else {
            m.producer_epoch < e.epoch
        };
        if stale {
            return Err(LogError::InvalidProducerEpoch(format!(
                "marker of producer {} has epoch {}, the last seen epoch is {} (transaction \
                 version {})",
                m.producer_id, m.producer_epoch, e.epoch, m.transaction_version
            )));
        }
        if e.coordinator_epoch > m.coordinator_epoch {
            return Err(LogError::TransactionCoordinatorFenced(format!(
                "marker of producer {} has coordinator epoch {}, older than {}",
                m.producer_id, m.coordinator_epoch, e.coordinator_epoch
            )));
        }
        Ok(())
    }

    /// Apply a marker written at `offset` (leader, follower and replay alike): the producer's
    /// ongoing transaction, if any, ends; its epoch, coordinator epoch and timestamp are the
    /// marker's. Returns the completed transaction (`None` for a marker without transaction
    /// data here, which changes neither the last stable offset nor the transaction index).
    /// `high_watermark` decides whether the completed transaction still bounds the first
    /// unstable offset until the high watermark passes the marker.
    pub fn apply_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        marker: EndTxnMarker,
        offset: i64,
        timestamp: i64,
        high_watermark: i64,
    ) -> Option<CompletedTxn> {
        // A marker of the transaction the verified write belongs to (or a later one) voids the
        // guard: same epoch under the original protocol, a bumped one under version 2, whose
        // previous transaction's markers carry the epoch of the next transaction's writes.
        if self
            .verifications
            .get(&producer_id)
            .is_some_and(|v| producer_epoch > v.epoch || (producer_epoch == v.epoch && !v.tv2))
        {
            self.verifications.remove(&producer_id);
        }
        let e = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry::empty(producer_epoch, timestamp));
        let completed = e.current_txn_first_offset.take().map(|first| CompletedTxn {
            producer_id,
            first_offset: first,
            last_offset: offset,
            aborted: marker.result == TxnResult::Abort,
        });
        if e.epoch != producer_epoch {
            e.epoch = producer_epoch;
            e.batches.clear();
        }
        e.coordinator_epoch = marker.coordinator_epoch;
        e.last_timestamp = timestamp;
        if let Some(c) = completed {
            self.ongoing.remove(&c.first_offset);
            if offset >= high_watermark {
                self.unreplicated.insert(c.first_offset, offset);
            }
        }
        completed
    }

    /// The last stable offset recorded with an aborted transaction that just completed (Kafka's
    /// `lastStableOffset(completedTxn)`): the first offset of the earliest ongoing transaction,
    /// else the marker's offset + 1.
    pub fn last_stable_offset_after(&self, completed: &CompletedTxn) -> i64 {
        self.ongoing
            .iter()
            .find(|&(_, &id)| id != completed.producer_id)
            .map_or(completed.last_offset + 1, |(&first, _)| first)
    }

    /// The first offset that is not yet stable: the earliest first offset of an ongoing
    /// transaction or of a completed one whose marker is at or above `high_watermark`.
    pub fn first_unstable_offset(&self, high_watermark: i64) -> Option<i64> {
        let ongoing = self.ongoing.keys().next().copied();
        let unreplicated = self
            .unreplicated
            .iter()
            .find(|&(_, &marker)| marker >= high_watermark)
            .map(|(&first, _)| first);
        match (ongoing, unreplicated) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Forget completed transactions whose marker is below the new high watermark.
    pub fn on_high_watermark(&mut self, high_watermark: i64) {
        self.unreplicated
            .retain(|_, &mut marker| marker >= high_watermark);
    }

    /// Ongoing transactions as (producer id, first offset), by first offset.
    pub fn ongoing_transactions(&self) -> Vec<(i64, i64)> {
        self.ongoing
            .iter()
            .map(|(&first, &id)| (id, first))
            .collect()
    }

    /// Forget producers whose last batch is older than `expiration_ms` (`producer.id.expiration.ms`);
    /// a producer with an ongoing transaction never expires (as in Kafka).
    pub fn expire(&mut self, now: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// True when `producer_id` has an ongoing transaction here at exactly `epoch` (Kafka's
    /// `hasOngoingTransaction(producerId, producerEpoch)`): a write at another epoch — under
    /// transaction version 2 every transaction has its own epoch — belongs to another
    /// transaction, even while the previous one's marker has not reached this partition yet.
    fn ongoing_at(&self, producer_id: i64, epoch: i16) -> bool {
        self.producers
            .get(&producer_id)
            .is_some_and(|e| e.current_txn_first_offset.is_some() && e.epoch == epoch)
    }

    /// Start verifying a transactional write of `producer_id` at `epoch` (KIP-890): None when
    /// its transaction at that epoch is ongoing here (no verification needed), else a new guard
    /// that stays valid until a marker of that write's transaction (or a later one) is applied:
    /// one at `epoch` or above, or — `tv2`, transaction version 2, where a transaction's
    /// markers carry the next transaction's epoch — above `epoch`.
    pub fn begin_verification(&mut self, producer_id: i64, epoch: i16, tv2: bool) -> Option<u64> {
        if self.ongoing_at(producer_id, epoch) {
            return None;
        }
        self.last_guard += 1;
        self.verifications.insert(
            producer_id,
            Verification {
                guard: self.last_guard,
                epoch,
                tv2,
            },
        );
        Some(self.last_guard)
    }

    /// True when a transactional write of `producer_id` at `epoch` verified with `guard` may be
    /// appended: its transaction at that epoch is ongoing here, or no marker ended a
    /// transaction of the producer since the verification started.
    pub fn verified(&self, producer_id: i64, epoch: i16, guard: u64) -> bool {
        self.ongoing_at(producer_id, epoch)
            || self
                .verifications
                .get(&producer_id)
                .is_some_and(|v| v.guard == guard && v.epoch == epoch)
    }

    /// Every producer's entry (snapshots).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&i64, &ProducerEntry)> {
        self.producers.iter()
    }

    /// A manager holding `producers` (snapshots), its ongoing transactions derived from them.
    pub(crate) fn from_entries(producers: HashMap<i64, ProducerEntry>) -> Self {
        let mut m = ProducerStateManager {
            producers,
            ..Self::default()
        };
        m.rebuild_ongoing();
        m
    }

    fn rebuild_ongoing(&mut self) {
        self.ongoing = self
            .producers
            .iter()
            .filter_map(|(&id, e)| e.current_txn_first_offset.map(|f| (f, id)))
            .collect();
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
    if e.current_txn_first_offset.is_none() && is_transactional(h) {
        e.current_txn_first_offset = Some(h.base_offset);
    }
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
