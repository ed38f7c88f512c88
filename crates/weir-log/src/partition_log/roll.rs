//! Rolling: sealing the active segment and starting a new one.

use super::{Inner, PartitionLog};
use crate::checkpoint::fsync_dir;
use crate::producer_state;
use crate::segment::Segment;
use crate::LogError;

impl PartitionLog {
    /// Roll before appending `incoming` bytes holding offsets `first..=last` (`first` >= LEO) when
    /// the active segment is full or old, or when `last` would not fit a relative index offset.
    /// The new segment is based at `first` (a follower's batches may start past the LEO).
    pub(super) fn maybe_roll(
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
    pub(super) fn roll(&self, inner: &mut Inner, base: i64, now: i64) -> Result<(), LogError> {
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
            &self.files,
        )?;
        fsync_dir(&self.dir)?;
        inner.segments.insert(base, seg);
        producer_state::write_snapshot(&self.dir, base, &inner.producers)?;
        Ok(())
    }
}
