//! The replication side of [`PartitionLog`]: the leader-epoch cache (Kafka's
//! `LeaderEpochFileCache`), appending batches copied from the leader (`UnifiedLog.appendAsFollower`)
//! and the two follower truncations (`truncateTo`, `truncateFullyAndStartAt`).

use super::append::write_to_active_segment;
use super::{txn, Inner, PartitionLog};
use crate::batch::{self, BatchHeader, HEADER_LEN, LOG_OVERHEAD};
use crate::checkpoint::{self, fsync_dir};
use crate::group_commit::DurabilityTicket;
use crate::producer_state::{self, ProducerStateManager};
use crate::segment::Segment;
use crate::LogError;

/// Outcome of [`PartitionLog::append_replicated`].
#[derive(Debug, Clone)]
pub struct ReplicaAppend {
    /// Offset of the last record appended; `None` when `records` held no whole batch (nothing was
    /// appended).
    pub last_offset: Option<i64>,
    /// Log end offset after the append.
    pub log_end_offset: i64,
    /// `Some` when the caller must await `LogManager::wait_durable_async` (or `wait_durable`)
    /// before reporting the new end offset to the leader: the same rule as
    /// [`PartitionLog::append`] (a config with `durable_acks()`).
    pub durable: Option<DurabilityTicket>,
}

/// Kafka's `LeaderEpochFileCache.assign`: record that `epoch` starts at `start` when it is newer
/// than the latest epoch. Entries starting at or after `start` (epochs that never got a batch)
/// are replaced. Negative epochs are ignored. Returns whether the cache changed.
fn record_epoch(epochs: &mut Vec<(i32, i64)>, epoch: i32, start: i64) -> bool {
    if epoch < 0 || epochs.last().is_some_and(|&(e, _)| e >= epoch) {
        return false;
    }
    epochs.retain(|&(_, s)| s < start);
    epochs.push((epoch, start));
    true
}

/// The whole v2 batches at the start of `records` (a Fetch response's records field), with their
/// positions, and the byte length they cover. A trailing partial batch (too short for its length
/// field, or cut off after it) is left out. Every batch is CRC-checked and must start at or after
/// `log_end_offset` and after the previous batch's last offset (gaps are allowed). With
/// `allow_straddle` the first batch may instead contain `log_end_offset`.
fn whole_batches(
    records: &[u8],
    log_end_offset: i64,
    allow_straddle: bool,
) -> Result<(Vec<(usize, BatchHeader)>, usize), LogError> {
    let mut out: Vec<(usize, BatchHeader)> = Vec::new();
    let mut pos = 0usize;
    let mut expected = log_end_offset;
    while records.len() - pos >= LOG_OVERHEAD {
        let rest = &records[pos..];
        let len = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if len < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(LogError::CorruptMessage(format!(
                "replicated record batch at byte {pos} has length {len}, shorter than a batch header"
            )));
        }
        let total = len as usize + LOG_OVERHEAD;
        if rest.len() < total {
            break;
        }
        let h = batch::check_integrity(&rest[..total])?;
        if h.compression() > 4 || h.last_offset_delta < 0 || h.records_count < 0 {
            return Err(LogError::InvalidRecord(format!(
                "replicated record batch at offset {} has codec {}, last offset delta {}, {} records",
                h.base_offset,
                h.compression(),
                h.last_offset_delta,
                h.records_count
            )));
        }
        if h.base_offset > i64::MAX - 1 - i64::from(i32::MAX) {
            return Err(LogError::InvalidRecord(format!(
                "replicated record batch base offset {} is out of range",
                h.base_offset
            )));
        }
        let straddles = allow_straddle && out.is_empty() && h.last_offset() >= expected;
        if h.base_offset < expected && !straddles {
            return Err(LogError::InvalidRecord(if out.is_empty() {
                format!(
                    "replicated record batch at offsets {}..={} starts below the log end offset {log_end_offset}",
                    h.base_offset,
                    h.last_offset()
                )
            } else {
                format!(
                    "replicated record batch at offsets {}..={} overlaps the previous batch, which ends at {}",
                    h.base_offset,
                    h.last_offset(),
                    expected - 1
                )
            }));
        }
        expected = h.next_offset();
        out.push((pos, h));
        pos += total;
    }
    Ok((out, pos))
}

impl PartitionLog {
    /// Append batches copied from the leader (a Fetch response's `records`, Kafka's
    /// `appendAsFollower`). Guarantees:
    /// * batches are stored byte for byte: offsets, partition leader epochs and timestamps are the
    ///   leader's; a trailing partial batch is ignored (`last_offset` is `None` when nothing whole
    ///   was there);
    /// * all or nothing on invalid input: a batch failing its CRC (`CorruptMessage`), or starting
    ///   below the log end offset or below the previous batch's end (`InvalidRecord`), rejects the
    ///   whole call with nothing stored. One exception, as in Kafka: when the log is empty (log
    ///   start = log end, e.g. after [`PartitionLog::truncate_fully_and_start_at`] at a leader's log
    ///   start inside a batch) and the first batch contains the log end offset, the log restarts
    ///   empty at that batch's base offset and the batches are appended;
    /// * a batch whose leader epoch is newer than the latest cached epoch starts that epoch in the
    ///   leader-epoch cache (persisted before the data is written), and every batch updates the
    ///   idempotent-producer and transaction state as on the leader (unchecked): transactional
    ///   batches open transactions, markers complete them and ABORT markers add their
    ///   `.txnindex` entries;
    /// * segments roll as for [`PartitionLog::append`]; a new segment starts at the first appended
    ///   offset, which may lie past the log end offset (the leader's log may be compacted);
    /// * the log end offset becomes the last batch's last offset + 1;
    /// * refused on a deleted partition or after a failed fsync, as `append` is.
    ///
    /// `max.message.bytes` and the compacted-topic key rule are not checked (the leader did).
    pub fn append_replicated(&self, records: &[u8]) -> Result<ReplicaAppend, LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        if self.commit.failed() {
            return Err(LogError::Io(std::io::Error::other(
                "log dir failed (a write or an fsync); refusing writes",
            )));
        }
        let mut leo = inner.log_end_offset;
        let empty = leo == inner.log_start_offset;
        let (headers, len) = whole_batches(records, leo, empty)?;
        let (Some(&(_, first)), Some(&(_, last))) = (headers.first(), headers.last()) else {
            return Ok(ReplicaAppend {
                last_offset: None,
                log_end_offset: leo,
                durable: None,
            });
        };
        if first.base_offset < leo {
            // Kafka's Partition.appendRecordsToFollowerOrFutureReplica: the leader's log start
            // (where this empty log was started) fell inside a batch; restart at the batch.
            self.start_fresh_at(&mut inner, first.base_offset)?;
            leo = first.base_offset;
        }
        let bytes = &records[..len];
        let now = self.clock.now_ms();
        self.maybe_roll(
            &mut inner,
            len as u64,
            first.base_offset,
            last.last_offset(),
            now,
        )
        .map_err(|e| self.dir_failed(e))?;
        // Epochs first, as Kafka does: open() drops entries past a log end offset lost in a crash.
        let previous_epochs = inner.epochs.clone();
        let mut changed = false;
        for (_, h) in &headers {
            changed |= record_epoch(&mut inner.epochs, h.partition_leader_epoch, h.base_offset);
        }
        if changed {
            if let Err(e) = self.write_epochs(&inner) {
                inner.epochs = previous_epochs;
                return Err(self.dir_failed(e));
            }
        }
        let file = match write_to_active_segment(&mut inner, &[bytes], &headers) {
            Ok(f) => f,
            Err(e) => {
                self.undo_failed_replica_append(&mut inner, leo, previous_epochs);
                return Err(self.dir_failed(e));
            }
        };
        let next = last.next_offset();
        inner.log_end_offset = next;
        let mut count = 0u64;
        for (pos, h) in &headers {
            txn::apply_batch(&mut inner, &bytes[*pos..*pos + h.total_len], h)?;
            count += u64::try_from(h.records_count).unwrap_or(0);
        }
        let durable = self.count_unflushed(&mut inner, &file, count);
        Ok(ReplicaAppend {
            last_offset: Some(last.last_offset()),
            log_end_offset: next,
            durable,
        })
    }

    /// After a failed segment write: restore the epoch cache and drop an empty segment rolled past
    /// the log end offset `leo` for this append (best effort; the write error is what is reported).
    fn undo_failed_replica_append(
        &self,
        inner: &mut Inner,
        leo: i64,
        previous_epochs: Vec<(i32, i64)>,
    ) {
        if inner.epochs != previous_epochs {
            inner.epochs = previous_epochs;
            let _ = self.write_epochs(inner);
        }
        let rolled_past_end = inner
            .segments
            .iter()
            .next_back()
            .is_some_and(|(&b, s)| b > leo && s.size() == 0 && inner.segments.len() > 1);
        if rolled_past_end {
            if let Some((_, s)) = inner.segments.pop_last() {
                let _ = s.delete_files();
            }
        }
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor`: `(epoch, end offset)` for a follower or
    /// consumer that last saw `requested_epoch`:
    /// * `-1`, an empty cache, or an epoch newer than every cached one → `(-1, -1)`;
    /// * the latest epoch → `(latest, log end offset)`;
    /// * otherwise the end offset is the start of the first epoch newer than `requested_epoch`,
    ///   paired with the largest cached epoch <= `requested_epoch` (or `requested_epoch` itself
    ///   when it precedes every cached epoch).
    pub fn end_offset_for_epoch(&self, requested_epoch: i32) -> (i32, i64) {
        let inner = self.lock();
        if requested_epoch == -1 {
            return (-1, -1);
        }
        let Some(&(latest, _)) = inner.epochs.last() else {
            return (-1, -1);
        };
        if requested_epoch == latest {
            return (latest, inner.log_end_offset);
        }
        let Some(&(_, higher_start)) = inner.epochs.iter().find(|&&(e, _)| e > requested_epoch)
        else {
            return (-1, -1);
        };
        match inner
            .epochs
            .iter()
            .rev()
            .find(|&&(e, _)| e <= requested_epoch)
        {
            Some(&(floor, _)) => (floor, higher_start),
            None => (requested_epoch, higher_start),
        }
    }

    /// A copy of the leader-epoch cache: `(epoch, start offset)` pairs, both strictly increasing.
    pub fn epoch_entries(&self) -> Vec<(i32, i64)> {
        self.lock().epochs.clone()
    }

    /// Record that `epoch` starts at `start_offset` (leader election); persisted in
    /// `leader-epoch-checkpoint` before returning, and visible (to appends, which stamp batches
    /// with the latest epoch, and to [`PartitionLog::latest_epoch`]) only once persisted: a
    /// failed write leaves the cache as it was. Ignored unless newer than the latest epoch (the
    /// file is then not written); cached epochs starting at or after `start_offset` (which
    /// never got a batch) are replaced.
    pub fn assign_epoch(&self, epoch: i32, start_offset: i64) -> Result<(), LogError> {
        let mut inner = self.lock();
        let previous = inner.epochs.clone();
        if !record_epoch(&mut inner.epochs, epoch, start_offset) {
            return Ok(());
        }
        if let Err(e) = self.write_epochs(&inner) {
            inner.epochs = previous;
            return Err(e);
        }
        Ok(())
    }

    /// The latest leader epoch, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.lock().epochs.last().map(|&(e, _)| e)
    }

    pub(super) fn write_epochs(&self, inner: &Inner) -> Result<(), LogError> {
        checkpoint::write_atomic(
            &self.dir.join("leader-epoch-checkpoint"),
            checkpoint::render_epochs(&inner.epochs).as_bytes(),
        )
    }

    /// Remove every record at or above `offset` (follower truncation, Kafka's
    /// `UnifiedLog.truncateTo`). Batches are atomic: a batch containing `offset` goes whole, so the
    /// new log end offset is <= `offset`. Below the first segment the log restarts empty at
    /// `offset` ([`PartitionLog::truncate_fully_and_start_at`]). Afterwards the high watermark,
    /// recovery point and log start offset are at most the new log end offset, cached epochs
    /// starting at or after it are dropped (persisted), and the producer state (ongoing
    /// transactions included) and the `.txnindex` entries are rebuilt from the newest producer
    /// snapshot at or below the new end (entries of markers past it are gone). A no-op
    /// when `offset` >= the log end offset; a negative `offset` is `OffsetOutOfRange`.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: inner.log_start_offset,
                log_end: inner.log_end_offset,
            });
        }
        if offset >= inner.log_end_offset {
            // No data to remove, but epochs that start at or past `offset` never got a batch
            // here (e.g. this broker led an epoch without writes) and must go, as Kafka's
            // `truncateFromEnd` does: a follower reporting such an epoch would loop on
            // "diverging" forever.
            let before = inner.epochs.len();
            inner.epochs.retain(|&(_, start)| start < offset);
            if inner.epochs.len() != before {
                self.write_epochs(&inner)?;
            }
            return Ok(());
        }
        let first = inner.segments.keys().next().copied();
        if first.is_none_or(|b| offset < b) {
            return self.start_fresh_at(&mut inner, offset);
        }
        let doomed: Vec<i64> = inner
            .segments
            .range(offset..)
            .map(|(&b, _)| b)
            .filter(|&b| Some(b) != first)
            .collect();
        for b in doomed {
            if let Some(s) = inner.segments.remove(&b) {
                s.delete_files()?;
            }
        }
        let leo = {
            let (_, last) = inner
                .segments
                .iter_mut()
                .next_back()
                .ok_or_else(|| LogError::Io(std::io::Error::other("no segment")))?;
            last.truncate_to_offset(offset)?;
            last.next_offset()?
        };
        inner.log_end_offset = leo;
        inner.truncations += 1;
        inner.high_watermark = inner.high_watermark.min(leo);
        inner.recovery_point = inner.recovery_point.min(leo);
        inner.log_start_offset = inner.log_start_offset.min(leo);
        let before = inner.epochs.len();
        inner.epochs.retain(|&(_, start)| start < leo);
        if inner.epochs.len() != before {
            self.write_epochs(&inner)?;
        }
        let (producers, snapshot_at) = producer_state::load_snapshot(&self.dir, leo);
        inner.producers = producers;
        let from = snapshot_at
            .unwrap_or(inner.log_start_offset)
            .max(inner.log_start_offset);
        #[cfg(test)]
        race_hook::run();
        // Still under the lock: until the replay, the state is the snapshot's alone.
        self.replay_producer_state_locked(&mut inner, from)
    }

    /// Kafka's `UnifiedLog.truncateFullyAndStartAt`, for a follower whose fetch offset is below
    /// the leader's log start: every segment is deleted and the log restarts empty at `offset`
    /// (log start = log end = high watermark = recovery point = `offset`), with an empty
    /// leader-epoch cache (persisted) and no producer state (snapshots deleted). A negative
    /// `offset` is `OffsetOutOfRange`.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: inner.log_start_offset,
                log_end: inner.log_end_offset,
            });
        }
        self.start_fresh_at(&mut inner, offset)
    }

    /// [`PartitionLog::truncate_fully_and_start_at`] under the lock. Crash-safe order: the epoch
    /// cache is cleared first, then producer snapshots, then segments oldest first (a crash leaves
    /// a valid suffix of the old log), then the new segment is created.
    fn start_fresh_at(&self, inner: &mut Inner, offset: i64) -> Result<(), LogError> {
        let now = self.clock.now_ms();
        tracing::info!(partition = %self.tp.dir_name(), offset, "log emptied and restarted");
        inner.epochs.clear();
        self.write_epochs(inner)?;
        inner.producers = ProducerStateManager::default();
        for off in producer_state::list_snapshots(&self.dir) {
            match std::fs::remove_file(producer_state::snapshot_path(&self.dir, off)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        while let Some((&b, seg)) = inner.segments.iter().next() {
            seg.delete_files()?;
            inner.segments.remove(&b);
        }
        let seg = Segment::create(
            &self.dir,
            offset,
            inner.config.segment_index_bytes,
            inner.config.index_interval_bytes,
            now,
            &self.files,
        )?;
        fsync_dir(&self.dir)?;
        inner.segments.insert(offset, seg);
        inner.log_start_offset = offset;
        inner.log_end_offset = offset;
        inner.truncations += 1;
        inner.high_watermark = offset;
        inner.recovery_point = offset;
        inner.unflushed_messages = 0;
        inner.cleaner_offset = None;
        Ok(())
    }
}

/// A test's hook into [`PartitionLog::truncate_to`], run between the truncation and the
/// producer-state replay (`truncate_race_tests.rs`).
#[cfg(test)]
pub(crate) mod race_hook {
    use std::cell::RefCell;

    thread_local! {
        static WINDOW: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
    }

    /// Run `f` (or nothing: `None`) in the truncating thread's window from now on.
    pub(crate) fn set(f: Option<Box<dyn Fn()>>) {
        WINDOW.with(|w| *w.borrow_mut() = f);
    }

    pub(super) fn run() {
        WINDOW.with(|w| {
            if let Some(f) = w.borrow().as_ref() {
                f();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::build_batch;
    fn batch_at(base: i64, n: usize, epoch: i32) -> Vec<u8> {
        let recs: Vec<(Option<&[u8]>, &[u8])> = (0..n).map(|_| (None, &b"v"[..])).collect();
        let mut b = build_batch(base, 5, &recs);
        batch::set_partition_leader_epoch(&mut b, epoch);
        b
    }

    #[test]
    fn whole_batches_stops_at_a_partial_tail() {
        let mut all = batch_at(10, 2, 0);
        all.extend_from_slice(&batch_at(12, 1, 0));
        let whole = all.len();
        let third = batch_at(13, 3, 1);
        for cut in [0, 5, LOG_OVERHEAD, HEADER_LEN, third.len() - 1] {
            let mut r = all.clone();
            r.extend_from_slice(&third[..cut]);
            let (h, len) = whole_batches(&r, 10, false).unwrap();
            assert_eq!((h.len(), len), (2, whole), "cut {cut}");
        }
        let (h, len) = whole_batches(&[], 0, false).unwrap();
        assert!(h.is_empty() && len == 0);
    }

    #[test]
    fn whole_batches_checks_offsets_and_lengths() {
        assert!(matches!(
            whole_batches(&batch_at(9, 2, 0), 10, false),
            Err(LogError::InvalidRecord(m)) if m.contains("9..=10") && m.contains("log end offset 10")
        ));
        let mut overlap = batch_at(10, 2, 0);
        overlap.extend_from_slice(&batch_at(11, 1, 0));
        assert!(matches!(
            whole_batches(&overlap, 10, true),
            Err(LogError::InvalidRecord(m)) if m.contains("overlaps")
        ));
        let mut short = batch_at(10, 1, 0);
        short[8..12].copy_from_slice(&10i32.to_be_bytes());
        assert!(matches!(
            whole_batches(&short, 10, false),
            Err(LogError::CorruptMessage(_))
        ));
        let huge = batch_at(i64::MAX - 5, 1, 0);
        assert!(whole_batches(&huge, 0, false).is_err());
        // Straddling the end offset is only accepted for the first batch of an empty log.
        assert_eq!(
            whole_batches(&batch_at(9, 2, 0), 10, true).unwrap().0.len(),
            1
        );
        assert!(whole_batches(&batch_at(8, 2, 0), 10, true).is_err());
    }

    #[test]
    fn record_epoch_keeps_the_cache_monotonic() {
        let mut e = Vec::new();
        assert!(!record_epoch(&mut e, -1, 0));
        assert!(record_epoch(&mut e, 0, 0));
        assert!(!record_epoch(&mut e, 0, 5));
        assert!(record_epoch(&mut e, 2, 5));
        // Epoch 2 never got a batch: epoch 3 starting at the same offset replaces it.
        assert!(record_epoch(&mut e, 3, 5));
        assert_eq!(e, vec![(0, 0), (3, 5)]);
    }
}
