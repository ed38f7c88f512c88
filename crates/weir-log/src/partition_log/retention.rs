//! Retention: DeleteRecords and deleting the oldest segments (by time or size retention, or
//! below a moved log start offset).

use super::{Inner, PartitionLog};
use crate::segment::Segment;
use crate::LogError;

impl PartitionLog {
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
    pub(super) fn delete_oldest_segment_if(
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

    /// Delete every segment that lies wholly below the log start offset.
    pub(super) fn delete_segments_below_start(inner: &mut Inner) -> Result<(), LogError> {
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
}
