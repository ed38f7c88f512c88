//! One partition's log: an ordered set of segments plus its offsets, behind one mutex.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::batch::{self, BatchHeader, HEADER_LEN};
use crate::checkpoint::{self, fsync_dir};
use crate::group_commit::{DurabilityTicket, GroupCommit};
use crate::producer_state::{self, Check, ProducerStateManager};
use crate::segment::{segment_path, Segment};
use crate::{Clock, FileSlice, LogConfig, LogError, TimestampType, TopicPartition};

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
    epochs: Vec<(i32, i64)>,
    deleted: bool,
    /// First offset not yet cleaned (cleaner-offset-checkpoint), once the cleaner has run.
    cleaner_offset: Option<i64>,
    /// Idempotent-producer state.
    producers: ProducerStateManager,
}

/// One partition's log. All methods take `&self` (internally locked). Appends are atomic per
/// call: either every batch is stored or none.
pub struct PartitionLog {
    tp: TopicPartition,
    dir: PathBuf,
    commit: Arc<GroupCommit>,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartitionLog({})", self.tp.dir_name())
    }
}

fn list_segments(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".log") {
            if stem.len() == 20 {
                if let Ok(b) = stem.parse::<i64>() {
                    bases.push(b);
                }
            }
        } else if name.ends_with(".tmp") || name.ends_with(".deleted") || name.ends_with(".cleaned")
        {
            let _ = std::fs::remove_file(dir.join(&*name));
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

impl PartitionLog {
    /// Open (or create) the partition directory `dir`. When `clean` is false, every segment from
    /// the one holding the recovery point on is CRC-checked and a torn tail is truncated.
    pub(crate) fn open(
        tp: TopicPartition,
        dir: PathBuf,
        config: LogConfig,
        commit: Arc<GroupCommit>,
        clock: Arc<dyn Clock>,
        offsets: CheckpointedOffsets,
        clean: bool,
    ) -> Result<PartitionLog, LogError> {
        let now = clock.now_ms();
        let bases = list_segments(&dir)?;
        let mut segments = BTreeMap::new();
        for &b in &bases {
            segments.insert(
                b,
                Segment::open(
                    &dir,
                    b,
                    config.segment_index_bytes,
                    config.index_interval_bytes,
                    now,
                )?,
            );
        }
        let recovery_point = offsets.recovery_point.unwrap_or(0);
        if !clean {
            let from = bases
                .iter()
                .rev()
                .find(|&&b| b <= recovery_point)
                .copied()
                .unwrap_or(i64::MIN);
            let mut cut_after: Option<i64> = None;
            for (&b, seg) in segments.range_mut(from..) {
                if cut_after.is_some() {
                    break;
                }
                let dropped = seg.recover()?;
                if dropped > 0 {
                    tracing::warn!(
                        file = %segment_path(&dir, b, "log").display(),
                        offset = seg.next_offset()?,
                        bytes_dropped = dropped,
                        "recovery truncated a torn or corrupt tail"
                    );
                    cut_after = Some(b);
                }
            }
            if let Some(b) = cut_after {
                let later: Vec<i64> = segments.range(b + 1..).map(|(&k, _)| k).collect();
                for k in later {
                    if let Some(s) = segments.remove(&k) {
                        tracing::warn!(
                            segment = k,
                            "recovery deleted a segment after a corrupt one"
                        );
                        s.delete_files()?;
                    }
                }
            }
        }
        if segments.is_empty() {
            let base = offsets.log_start_offset.unwrap_or(0).max(0);
            segments.insert(
                base,
                Segment::create(
                    &dir,
                    base,
                    config.segment_index_bytes,
                    config.index_interval_bytes,
                    now,
                )?,
            );
            fsync_dir(&dir)?;
        }
        let (&first, _) = segments
            .iter()
            .next()
            .ok_or_else(|| LogError::Io(std::io::Error::other("no segment")))?;
        let log_end_offset = {
            let (_, last) = segments
                .iter_mut()
                .next_back()
                .ok_or_else(|| LogError::Io(std::io::Error::other("no segment")))?;
            last.next_offset()?
        };
        let log_start_offset = offsets
            .log_start_offset
            .unwrap_or(first)
            .max(first)
            .min(log_end_offset);
        let high_watermark = offsets
            .high_watermark
            .unwrap_or(log_start_offset)
            .clamp(log_start_offset, log_end_offset);
        let mut epochs = match checkpoint::read_epochs(&dir.join("leader-epoch-checkpoint")) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(partition = %tp.dir_name(), error = %e, "ignoring corrupt leader-epoch-checkpoint");
                Vec::new()
            }
        };
        // An epoch recorded before its batches reached the disk (a crash lost them) is dropped.
        epochs.retain(|&(_, start)| start <= log_end_offset);
        let (producers, snapshot_at) = producer_state::load_snapshot(&dir, log_end_offset);
        let log = PartitionLog {
            tp,
            dir,
            commit,
            clock,
            inner: Mutex::new(Inner {
                segments,
                config,
                log_start_offset,
                log_end_offset,
                high_watermark,
                recovery_point: recovery_point.min(log_end_offset),
                unflushed_messages: 0,
                last_flush_ms: now,
                epochs,
                deleted: false,
                cleaner_offset: None,
                producers,
            }),
        };
        log.replay_producer_state(
            snapshot_at
                .unwrap_or(log_start_offset)
                .max(log_start_offset),
        )?;
        Ok(log)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below keeps Inner consistent before any fallible step, so a poisoned lock
        // still guards valid state.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// Validate and append one or more v2 record batches (a Produce `records` field), assigning
    /// offsets by rewriting base offsets. Nothing is stored if any batch is invalid.
    pub fn append(&self, records: &[u8]) -> Result<AppendResult, LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        if self.commit.failed() {
            return Err(LogError::Io(std::io::Error::other(
                "log dir failed an fsync; refusing writes",
            )));
        }
        if records.is_empty() {
            return Err(LogError::InvalidRecord(
                "produce request has no record batches".into(),
            ));
        }
        let mut headers: Vec<(usize, BatchHeader)> = Vec::new();
        let mut pos = 0;
        while pos < records.len() {
            let h = batch::validate_batch(&records[pos..])?;
            if h.total_len > inner.config.max_message_bytes as usize {
                return Err(LogError::MessageTooLarge {
                    size: h.total_len,
                    max: inner.config.max_message_bytes,
                });
            }
            if inner.config.cleanup_policy.compact && h.compression() == 0 {
                let body = &records[pos..pos + h.total_len];
                if crate::records::parse_records(body, &h)?
                    .iter()
                    .any(|r| r.key.is_none())
                {
                    return Err(LogError::InvalidRecord(
                        "compacted topic cannot accept a record without a key".into(),
                    ));
                }
            }
            headers.push((pos, h));
            pos += h.total_len;
        }
        let now = self.clock.now_ms();
        let headers_len = headers.len();
        // Offsets and the leader epoch live in each batch's header, outside the CRC: only the
        // 61-byte headers are copied and patched, the bodies are written from `records` as they
        // are (the whole-batch copy cost ~8 % of the broker's produce CPU). LogAppendTime
        // rewrites a CRC-covered attribute, so it patches a copy of each whole batch.
        let append_time = inner.config.message_timestamp_type == TimestampType::LogAppendTime;
        let mut patched: Vec<Vec<u8>> = headers
            .iter()
            .map(|(off, h)| {
                let end = if append_time { h.total_len } else { HEADER_LEN };
                records[*off..*off + end].to_vec()
            })
            .collect();
        let base_offset = inner.log_end_offset;
        let mut next = base_offset;
        let epoch = inner.epochs.last().map(|&(e, _)| e);
        let mut count = 0u64;
        let mut pending = HashMap::new();
        for ((_, h), b) in headers.iter_mut().zip(patched.iter_mut()) {
            if let Check::Duplicate(d) = inner.producers.check(&pending, h)? {
                if headers_len > 1 {
                    return Err(LogError::InvalidRecord(
                        "a retried idempotent batch must be sent alone".into(),
                    ));
                }
                return Ok(self.duplicate_result(&inner, d));
            }
            batch::set_base_offset(b, next);
            if let Some(e) = epoch {
                batch::set_partition_leader_epoch(b, e);
            }
            if append_time {
                batch::set_log_append_time(b, h.total_len, now);
                h.max_timestamp = now;
            }
            h.base_offset = next;
            next = h.next_offset();
            count += h.records_count as u64;
            inner.producers.stage(&mut pending, h);
        }
        let pieces: Vec<&[u8]> = headers
            .iter()
            .zip(&patched)
            .flat_map(|((off, h), p)| [p.as_slice(), &records[*off + p.len()..*off + h.total_len]])
            .collect();
        self.maybe_roll(&mut inner, records.len() as u64, base_offset, next - 1, now)?;
        let file = write_to_active_segment(&mut inner, &pieces, &headers)?;
        inner.log_end_offset = next;
        inner.producers.commit(pending);
        let durable = self.count_unflushed(&mut inner, &file, count);
        Ok(AppendResult {
            base_offset,
            last_offset: next - 1,
            log_append_time: if append_time { now } else { -1 },
            log_start_offset: inner.log_start_offset,
            durable,
        })
    }

    /// Count `records` newly written to `file`. With durable acks (`flush.messages=1`) returns
    /// the ticket to wait for; otherwise registers a flush once `flush.messages` accumulated.
    fn count_unflushed(
        &self,
        inner: &mut Inner,
        file: &Arc<File>,
        records: u64,
    ) -> Option<DurabilityTicket> {
        inner.unflushed_messages += records;
        if inner.config.durable_acks() {
            return Some(self.commit.register(file));
        }
        if inner.unflushed_messages >= inner.config.flush_messages {
            self.commit.register(file);
            inner.unflushed_messages = 0;
        }
        None
    }

    /// Roll before appending `incoming` bytes holding offsets `first..=last` (`first` >= LEO) when
    /// the active segment is full or old, or when `last` would not fit a relative index offset.
    /// The new segment is based at `first` (a follower's batches may start past the LEO).
    fn maybe_roll(
        &self,
        inner: &mut Inner,
        incoming: u64,
        first: i64,
        last: i64,
        now: i64,
    ) -> Result<(), LogError> {
        let cfg = inner.config.clone();
        let needs = {
            let Some((_, active)) = inner.segments.iter().next_back() else {
                return Ok(());
            };
            (active.size() > 0
                && (active.size() + incoming > cfg.segment_bytes
                    || active.index_full()
                    || now - active.created_ms >= cfg.segment_ms))
                || last - active.base_offset > i32::MAX as i64 / 2
        };
        if needs {
            let base = first.max(inner.log_end_offset);
            self.roll(inner, base, now)?;
        }
        Ok(())
    }

    /// Seal the active segment and start a new one based at `base` (>= LEO), snapshotting the
    /// producer state there. No-op when the active segment is already based at `base`.
    fn roll(&self, inner: &mut Inner, base: i64, now: i64) -> Result<(), LogError> {
        if let Some((_, active)) = inner.segments.iter_mut().next_back() {
            if active.base_offset == base {
                return Ok(());
            }
            active.seal()?;
        }
        let seg = Segment::create(
            &self.dir,
            base,
            inner.config.segment_index_bytes,
            inner.config.index_interval_bytes,
            now,
        )?;
        fsync_dir(&self.dir)?;
        inner.segments.insert(base, seg);
        producer_state::write_snapshot(&self.dir, base, &inner.producers)?;
        Ok(())
    }

    /// Read whole batches from the one containing `offset`, at most `max_bytes` but at least one
    /// batch, never a batch starting at or past `max_offset` (exclusive; the high watermark for
    /// consumers). Reads never cross a segment boundary.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
    ) -> Result<ReadResult, LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        let (ls, leo, hw) = (
            inner.log_start_offset,
            inner.log_end_offset,
            inner.high_watermark,
        );
        if offset < ls || offset > leo {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: ls,
                log_end: leo,
            });
        }
        let empty = |file| FileSlice {
            file,
            position: 0,
            len: 0,
        };
        let bases: Vec<i64> = inner
            .segments
            .range(..=offset)
            .next_back()
            .map(|(&b, _)| b)
            .into_iter()
            .chain(inner.segments.range(offset + 1..).map(|(&b, _)| b))
            .collect();
        for b in bases {
            let Some(seg) = inner.segments.get_mut(&b) else {
                continue;
            };
            let Some(loc) = seg.find(offset)? else {
                continue;
            };
            let mut len = 0u64;
            let mut pos = loc.position;
            while let Some(h) = seg.header_at(pos)? {
                if h.base_offset >= max_offset || pos + h.total_len as u64 > seg.size() {
                    break;
                }
                if len > 0 && len + h.total_len as u64 > max_bytes as u64 {
                    break;
                }
                len += h.total_len as u64;
                pos += h.total_len as u64;
            }
            return Ok(ReadResult {
                records: FileSlice {
                    file: seg.log_file().clone(),
                    position: loc.position,
                    len: len as usize,
                },
                log_start_offset: ls,
                high_watermark: hw,
                log_end_offset: leo,
            });
        }
        let file = inner
            .segments
            .iter()
            .next_back()
            .map(|(_, s)| s.log_file().clone())
            .ok_or_else(|| LogError::Io(std::io::Error::other("no segment")))?;
        Ok(ReadResult {
            records: empty(file),
            log_start_offset: ls,
            high_watermark: hw,
            log_end_offset: leo,
        })
    }

    /// First batch whose max timestamp is >= `timestamp`: (its base offset, its max timestamp).
    /// Weir answers at batch granularity (Kafka returns the exact record inside the batch); the
    /// offset returned is never after Kafka's. None if no such batch.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let mut inner = self.lock();
        let ls = inner.log_start_offset;
        for (_, seg) in inner.segments.iter_mut() {
            if let Some(loc) = seg.find_by_timestamp(timestamp)? {
                if loc.header.last_offset() >= ls {
                    return Ok(Some((
                        loc.header.base_offset.max(ls),
                        loc.header.max_timestamp,
                    )));
                }
            }
        }
        Ok(None)
    }

    /// (max timestamp, its offset) over the whole log; None when empty.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut inner = self.lock();
        let mut best: Option<(i64, i64)> = None;
        for (_, seg) in inner.segments.iter_mut() {
            if let Ok((ts, off)) = seg.max_timestamp() {
                if ts >= 0 && best.is_none_or(|(b, _)| ts > b) {
                    best = Some((ts, off));
                }
            }
        }
        best
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
    }
    /// Offset up to which data is known flushed.
    pub fn recovery_point(&self) -> i64 {
        self.lock().recovery_point
    }

    /// DeleteRecords: move the log start offset to `offset` (<= high watermark), deleting whole
    /// segments below it. Returns the new log start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let mut inner = self.lock();
        if offset > inner.high_watermark || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: inner.log_start_offset,
                log_end: inner.high_watermark,
            });
        }
        inner.log_start_offset = inner.log_start_offset.max(offset);
        Self::delete_segments_below_start(&mut inner)?;
        Ok(inner.log_start_offset)
    }

    /// Delete the oldest segment when `doomed(segment, total log bytes)` says so, never the active
    /// segment and never data at or above the high watermark; the log start offset moves to the
    /// next segment. Returns whether a segment was deleted.
    fn delete_oldest_segment_if(
        inner: &mut Inner,
        doomed: impl FnOnce(&mut Segment, u64) -> Result<bool, LogError>,
    ) -> Result<bool, LogError> {
        let total: u64 = inner.segments.values().map(Segment::size).sum();
        let mut keys = inner.segments.keys().copied();
        let (Some(b), Some(next_base)) = (keys.next(), keys.next()) else {
            return Ok(false);
        };
        if next_base > inner.high_watermark {
            return Ok(false);
        }
        let Some(seg) = inner.segments.get_mut(&b) else {
            return Ok(false);
        };
        if !doomed(seg, total)? {
            return Ok(false);
        }
        if let Some(s) = inner.segments.remove(&b) {
            s.delete_files()?;
        }
        inner.log_start_offset = inner.log_start_offset.max(next_base);
        Ok(true)
    }

    fn delete_segments_below_start(inner: &mut Inner) -> Result<(), LogError> {
        let ls = inner.log_start_offset;
        let bases: Vec<i64> = inner.segments.keys().copied().collect();
        for w in bases.windows(2) {
            if w[1] <= ls {
                if let Some(s) = inner.segments.remove(&w[0]) {
                    s.delete_files()?;
                }
            }
        }
        Ok(())
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

    /// Periodic work: roll by `segment.ms`, delete by retention, `flush.ms` flushes, and advance
    /// the recovery point after a full flush. Returns the number of segments deleted.
    pub fn maintain(&self) -> Result<usize, LogError> {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        if inner.deleted {
            return Ok(0);
        }
        let cfg = inner.config.clone();
        let roll_due = inner
            .segments
            .iter()
            .next_back()
            .is_some_and(|(_, a)| a.size() > 0 && now - a.created_ms >= cfg.segment_ms);
        if roll_due {
            let leo = inner.log_end_offset;
            self.roll(&mut inner, leo, now)?;
        }
        let mut deleted = 0;
        if cfg.cleanup_policy.delete {
            // Time retention: whole non-active segments whose newest record is too old.
            while cfg.retention_ms >= 0
                && Self::delete_oldest_segment_if(&mut inner, |seg, _| {
                    Ok(now - seg.max_timestamp()?.0 > cfg.retention_ms)
                })?
            {
                deleted += 1;
            }
            // Size retention: drop the oldest while the rest still holds retention.bytes.
            while cfg.retention_bytes >= 0
                && Self::delete_oldest_segment_if(&mut inner, |seg, total| {
                    Ok(total - seg.size() >= cfg.retention_bytes as u64)
                })?
            {
                deleted += 1;
            }
        }
        Self::delete_segments_below_start(&mut inner)?;
        if cfg.cleanup_policy.compact {
            let active_base = inner.segments.keys().next_back().copied().unwrap_or(0);
            let end = active_base.min(inner.high_watermark);
            if inner.cleaner_offset.is_none_or(|c| end > c) {
                let stats = crate::cleaner::clean(&self.dir, &mut inner.segments, end, &cfg, now)?;
                if stats.segments_rewritten > 0 {
                    tracing::info!(
                        partition = %self.tp.dir_name(),
                        segments = stats.segments_rewritten,
                        records_removed = stats.records_removed,
                        bytes_before = stats.bytes_before,
                        bytes_after = stats.bytes_after,
                        "compacted"
                    );
                }
                inner.cleaner_offset = Some(end);
            }
        }
        // Flush (flush.ms, or always for the recovery point) and advance the recovery point.
        let leo = inner.log_end_offset;
        if leo > inner.recovery_point
            && (cfg.durable_acks() || now - inner.last_flush_ms >= cfg.flush_ms)
        {
            for (_, s) in inner.segments.range(inner.recovery_point..) {
                s.flush()?;
            }
            if let Some((_, s)) = inner.segments.range(..=inner.recovery_point).next_back() {
                s.flush()?;
            }
            inner.recovery_point = leo;
            inner.unflushed_messages = 0;
            inner.last_flush_ms = now;
        }
        Ok(deleted)
    }

    /// Flush every segment and trim the active segment's indexes (clean shutdown).
    pub(crate) fn close(&self) -> Result<(), LogError> {
        let mut inner = self.lock();
        for (_, s) in inner.segments.iter() {
            s.flush()?;
        }
        inner.recovery_point = inner.log_end_offset;
        producer_state::write_snapshot(&self.dir, inner.log_end_offset, &inner.producers)?;
        Ok(())
    }

    /// Mark deleted and remove the directory.
    pub(crate) fn delete_all(&self) -> Result<(), LogError> {
        let mut inner = self.lock();
        inner.deleted = true;
        inner.segments.clear();
        std::fs::remove_dir_all(&self.dir)?;
        if let Some(parent) = self.dir.parent() {
            fsync_dir(parent)?;
        }
        Ok(())
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

#[path = "partition_log_producers.rs"]
mod producers;
#[path = "partition_log_replica.rs"]
mod replica;

/// Write whole batches (`pieces`, described by `headers`) at the end of the active segment and
/// return its file; on an error the segment is cut back to its previous end, so no partial batch
/// stays behind.
fn write_to_active_segment(
    inner: &mut Inner,
    pieces: &[&[u8]],
    headers: &[(usize, BatchHeader)],
) -> Result<Arc<File>, LogError> {
    let interval = inner.config.index_interval_bytes;
    let (_, seg) = inner
        .segments
        .iter_mut()
        .next_back()
        .ok_or_else(|| LogError::Io(std::io::Error::other("no segment")))?;
    let size_before = seg.size();
    if let Err(e) = seg.append_pieces(pieces, headers, interval) {
        let _ = seg.truncate_bytes(size_before);
        return Err(e);
    }
    Ok(seg.log_file().clone())
}
