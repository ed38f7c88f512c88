//! Reads: whole batches by offset (as a zero-copy file slice) and lookups by timestamp.

use super::{PartitionLog, ReadResult};
use crate::{FileSlice, LogError};

impl PartitionLog {
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
}
