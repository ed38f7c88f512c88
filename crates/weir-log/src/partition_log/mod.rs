//! One partition's log: an ordered set of segments plus its offsets, behind one mutex.
//!
//! The state ([`PartitionLog`] and its locked `Inner`) and the plain accessors live here; each
//! responsibility has its own file:
//! * `lifecycle`: opening (with crash recovery), closing and deleting the partition directory;
//! * `append`: validated leader appends with offset assignment;
//! * `roll`: sealing the active segment and starting a new one;
//! * `read`: reads by offset and by timestamp;
//! * `retention`: DeleteRecords and deleting the oldest segments;
//! * `maintenance`: the periodic pass (roll by age, retention, compaction, flush);
//! * `producers`: the idempotent-producer state;
//! * `txn`: transaction markers, transaction indexes, the last stable offset;
//! * `replica`: the follower side of replication and the leader-epoch cache.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::damage::{DeferredCheck, DeferredPrefix};
use crate::fd_cache::FdCache;
use crate::group_commit::{DurabilityTicket, GroupCommit};
use crate::producer_state::ProducerStateManager;
use crate::segment::Segment;
use crate::{Clock, FileSlice, LogConfig, TopicPartition};

pub use verify::VerifyOutcome;

mod append;
mod lifecycle;
mod maintenance;
mod producers;
mod read;
mod replica;
#[cfg(test)]
pub(crate) use replica::race_hook;
mod retention;
mod roll;
mod txn;
mod verify;

pub use replica::ReplicaAppend;

/// Result of a read by offset.
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// Whole batches starting at the batch that contains the requested offset.
    pub records: FileSlice,
    /// Log start offset at read time.
    pub log_start_offset: i64,
    /// High watermark at read time.
    pub high_watermark: i64,
    /// Last stable offset at read time ([`PartitionLog::last_stable_offset`]).
    pub last_stable_offset: i64,
    /// Log end offset at read time.
    pub log_end_offset: i64,
}

/// Result of a leader append.
#[derive(Debug, Clone)]
pub struct AppendResult {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Broker append time when `LogAppendTime`, else -1.
    pub log_append_time: i64,
    /// Log start offset after the append.
    pub log_start_offset: i64,
    /// `Some` when the append must be awaited with `LogManager::wait_durable` before acking.
    pub durable: Option<DurabilityTicket>,
}

/// Offsets recorded in the log dir's checkpoint files for one partition.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckpointedOffsets {
    /// From `recovery-point-offset-checkpoint`.
    pub recovery_point: Option<i64>,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: Option<i64>,
    /// From `replication-offset-checkpoint`.
    pub high_watermark: Option<i64>,
    /// What was not checked when the log dir was opened (verified later: `verify.rs`); `None`
    /// when everything was.
    pub deferred: Option<DeferredCheck>,
    /// From `cleaner-offset-checkpoint` (the gap rule of the deferred verification).
    pub cleaned_to: Option<i64>,
}

/// Segments left unchecked when the log dir was opened: reads from them check every batch they
/// return until the background verification has checked them.
#[derive(Debug, Clone, Copy)]
struct Unverified {
    /// Segments with a base offset below this are not verified.
    below: i64,
    /// Nor are the first bytes of this segment.
    prefix: Option<DeferredPrefix>,
    /// The checkpointed cleaner offset read at open.
    cleaned_to: Option<i64>,
}

/// Damage found in a segment at run time: reads of `[at, end)` are refused until the log is
/// truncated at `at` ([`PartitionLog::truncate_to`]).
#[derive(Debug, Clone)]
struct RuntimeDamage {
    at: i64,
    /// Base offset of the damaged segment.
    base: i64,
    /// Base offset of the next segment (`i64::MAX` when the damaged one is the last).
    end: i64,
    segment: PathBuf,
    position: u64,
    reason: String,
}

#[derive(Debug)]
struct Inner {
    segments: BTreeMap<i64, Segment>,
    config: LogConfig,
    log_start_offset: i64,
    log_end_offset: i64,
    high_watermark: i64,
    recovery_point: i64,
    unflushed_messages: u64,
    last_flush_ms: i64,
    /// Bumped whenever the log end moves back (a truncation): a flush prepared before it must
    /// not advance the recovery point over data written after it.
    truncations: u64,
    epochs: Vec<(i32, i64)>,
    deleted: bool,
    /// First offset not yet cleaned (cleaner-offset-checkpoint), once the cleaner has run.
    cleaner_offset: Option<i64>,
    /// Segments not verified yet (`verify.rs`); `None` when all are.
    unverified: Option<Unverified>,
    /// Disk damage found at run time (`verify.rs`), not yet repaired by a truncation.
    damage: Option<RuntimeDamage>,
    /// Idempotent-producer and transaction state.
    producers: ProducerStateManager,
}

/// One partition's log. All methods take `&self` (internally locked). Appends are atomic per
/// call: either every batch is stored or none.
pub struct PartitionLog {
    tp: TopicPartition,
    dir: PathBuf,
    commit: Arc<GroupCommit>,
    clock: Arc<dyn Clock>,
    /// The log directory's cache of open segment files.
    files: Arc<FdCache>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartitionLog({})", self.tp.dir_name())
    }
}

impl PartitionLog {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below keeps Inner consistent before any fallible step, so a poisoned lock
        // still guards valid state.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// Log start offset.
    pub fn log_start_offset(&self) -> i64 {
        self.lock().log_start_offset
    }
    /// Log end offset (next offset to assign).
    pub fn log_end_offset(&self) -> i64 {
        self.lock().log_end_offset
    }
    /// High watermark (set by the owner).
    pub fn high_watermark(&self) -> i64 {
        self.lock().high_watermark
    }
    /// Set the high watermark (clamped to [log start, LEO]); it never moves backwards here.
    pub fn set_high_watermark(&self, hw: i64) {
        let mut inner = self.lock();
        let v = hw.clamp(inner.log_start_offset, inner.log_end_offset);
        inner.high_watermark = inner.high_watermark.max(v);
        let hw = inner.high_watermark;
        inner.producers.on_high_watermark(hw);
    }
    /// Offset up to which data is known flushed.
    pub fn recovery_point(&self) -> i64 {
        self.lock().recovery_point
    }

    /// Apply a changed config to the open log (takes effect on the next append/maintenance).
    pub fn update_config(&self, config: LogConfig) {
        self.lock().config = config;
    }
    /// Current config.
    pub fn config(&self) -> LogConfig {
        self.lock().config.clone()
    }
    /// Total bytes in all segments.
    pub fn size_bytes(&self) -> u64 {
        self.lock().segments.values().map(Segment::size).sum()
    }
    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.lock().segments.len()
    }

    /// (recovery point, log start, high watermark, cleaner offset) for the checkpoint files.
    pub(crate) fn checkpoint_offsets(&self) -> (i64, i64, i64, Option<i64>) {
        let inner = self.lock();
        (
            inner.recovery_point,
            inner.log_start_offset,
            inner.high_watermark,
            inner.cleaner_offset,
        )
    }

    /// True once deleted.
    pub fn is_deleted(&self) -> bool {
        self.lock().deleted
    }
}
