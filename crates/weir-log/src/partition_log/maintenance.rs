//! The periodic maintenance pass: roll by `segment.ms`, time and size retention, compaction and
//! the `flush.ms` flush that advances the recovery point.

use super::PartitionLog;
use crate::LogError;

impl PartitionLog {
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
            // Never past the last stable offset: undecided transactions are not cleaned.
            let end = active_base.min(super::txn::last_stable_offset(&inner));
            if inner.cleaner_offset.is_none_or(|c| end > c) {
                let stats = crate::cleaner::clean(
                    &self.dir,
                    &mut inner.segments,
                    end,
                    &cfg,
                    now,
                    &self.files,
                )?;
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
            let rp = inner.recovery_point;
            let first = inner.segments.range(..=rp).next_back().map(|(&b, _)| b);
            let mut files = Vec::new();
            let mut flushed = Vec::new();
            for (&base, s) in inner.segments.range_mut(first.unwrap_or(rp)..) {
                files.extend(s.prepare_flush()?);
                flushed.push(base);
            }
            let truncations = inner.truncations;
            // The fsyncs run without the lock: appends and reads of the partition go on
            // meanwhile (they used to wait for every fsync of the pass, a stall of up to tens
            // of milliseconds every maintenance period under load).
            drop(inner);
            let synced = files
                .iter()
                .try_for_each(|f| crate::lazyfs::sync(f, || f.sync_data()));
            let mut inner = self.lock();
            if let Err(e) = synced {
                for base in flushed {
                    if let Some(s) = inner.segments.get_mut(&base) {
                        s.mark_unflushed();
                    }
                }
                return Err(e.into());
            }
            // Everything below `leo` is on disk now, unless the log was truncated meanwhile
            // (what lies below `leo` may then be newer data): the next pass will advance it.
            if inner.truncations == truncations && !inner.deleted {
                inner.recovery_point = inner.recovery_point.max(leo);
                if inner.log_end_offset == leo {
                    inner.unflushed_messages = 0;
                }
                inner.last_flush_ms = now;
            }
        }
        Ok(deleted)
    }
}
