//! Reads: whole batches by offset (as a zero-copy file slice) and lookups by timestamp (exact to
//! the record: only the one batch that holds the answer is decoded).

use std::os::unix::fs::FileExt;

use super::txn::last_stable_offset;
use super::{PartitionLog, ReadResult};
use crate::batch::BatchHeader;
use crate::records;
use crate::segment::Segment;
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
        Ok(self.read_bounded(offset, max_bytes, max_offset)?.0)
    }

    /// [`PartitionLog::read`], plus the offset after the last batch read (`offset` when none).
    pub(super) fn read_bounded(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
    ) -> Result<(ReadResult, i64), LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        let (ls, leo, hw, lso) = (
            inner.log_start_offset,
            inner.log_end_offset,
            inner.high_watermark,
            last_stable_offset(&inner),
        );
        if offset < ls || offset > leo {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: ls,
                log_end: leo,
            });
        }
        let bases: Vec<i64> = inner
            .segments
            .range(..=offset)
            .next_back()
            .map(|(&b, _)| b)
            .into_iter()
            .chain(inner.segments.range(offset + 1..).map(|(&b, _)| b))
            .collect();
        // Disk damage found at run time: its segment is not served from the damage on.
        let max_offset = match &inner.damage {
            Some(d) if offset >= d.at && offset < d.end => {
                return Err(LogError::Damaged {
                    partition: self.tp.dir_name(),
                    reason: format!("offset {offset}: {}", d.reason),
                })
            }
            Some(d) if offset < d.at => max_offset.min(d.at),
            _ => max_offset,
        };
        let unverified = inner.unverified;
        for b in bases {
            let Some(seg) = inner.segments.get_mut(&b) else {
                continue;
            };
            let Some(loc) = seg.find(offset)? else {
                continue;
            };
            let mut len = 0u64;
            let mut next = offset;
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
                next = h.next_offset();
            }
            let unchecked = unverified.is_some_and(|u| {
                b < u.below
                    || u.prefix
                        .is_some_and(|p| p.base == b && loc.position < p.len)
            });
            if unchecked && len > 0 {
                // Not verified since the start: check what is served (`verify.rs`).
                let mut buf = vec![0u8; len as usize];
                seg.log_file()?.read_exact_at(&mut buf, loc.position)?;
                if let Err(reason) = Self::check_read(b, loc.position, &buf) {
                    tracing::error!(partition = %self.tp.dir_name(), offset, %reason, "DISK DAMAGE: a read from a segment not verified yet failed its check; refused");
                    return Err(LogError::Damaged {
                        partition: self.tp.dir_name(),
                        reason,
                    });
                }
            }
            let read = ReadResult {
                records: FileSlice {
                    file: seg.log_file()?,
                    position: loc.position,
                    len: len as usize,
                },
                log_start_offset: ls,
                high_watermark: hw,
                last_stable_offset: lso,
                log_end_offset: leo,
            };
            return Ok((read, next));
        }
        // Nothing to read (a long-polled idle partition): no segment file is opened for it.
        let read = ReadResult {
            records: FileSlice::empty()?,
            log_start_offset: ls,
            high_watermark: hw,
            last_stable_offset: lso,
            log_end_offset: leo,
        };
        Ok((read, offset))
    }

    /// The first record whose timestamp is ≥ `timestamp` at or after the log start offset, as
    /// `(offset, timestamp)` — exact to the record, as Kafka: the first segment and batch whose
    /// max timestamp reaches the target, then a scan of that batch's records. A compressed batch
    /// is not decompressed: its base offset and max timestamp are answered (never after Kafka's
    /// offset). None if no such record.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let mut inner = self.lock();
        let ls = inner.log_start_offset;
        for (_, seg) in inner.segments.iter_mut() {
            let Some(first) = seg.find_by_timestamp(timestamp)? else {
                continue;
            };
            let mut pos = first.position;
            while let Some(h) = seg.header_at(pos)? {
                if pos + h.total_len as u64 > seg.size() {
                    break;
                }
                if h.max_timestamp >= timestamp && h.last_offset() >= ls {
                    if h.compression() != 0 {
                        return Ok(Some((h.base_offset.max(ls), h.max_timestamp)));
                    }
                    let batch = read_batch(seg, pos, &h)?;
                    if let Some((ts, offset)) =
                        records::first_record_at_or_after(&batch, &h, timestamp, ls)?
                    {
                        return Ok(Some((offset, ts)));
                    }
                }
                pos += h.total_len as u64;
            }
        }
        Ok(None)
    }

    /// (max timestamp, offset of the first record carrying it) over the whole log, exact to the
    /// record as Kafka's MAX_TIMESTAMP (a compressed batch answers its base offset); None when
    /// empty.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut inner = self.lock();
        let mut best: Option<(i64, i64)> = None;
        let mut best_base = None;
        for (&base, seg) in inner.segments.iter_mut() {
            let (ts, off) = seg.max_timestamp()?;
            if ts >= 0 && best.is_none_or(|(b, _)| ts > b) {
                best = Some((ts, off));
                best_base = Some(base);
            }
        }
        let (Some((ts, batch_last)), Some(base)) = (best, best_base) else {
            return Ok(None);
        };
        let Some(seg) = inner.segments.get_mut(&base) else {
            return Ok(None);
        };
        // The segment remembers the last offset of the first batch holding its max timestamp.
        let Some(found) = seg.find(batch_last)? else {
            return Ok(Some((ts, batch_last)));
        };
        let mut pos = found.position;
        while let Some(h) = seg.header_at(pos)? {
            if pos + h.total_len as u64 > seg.size() {
                break;
            }
            if h.max_timestamp == ts {
                if h.compression() != 0 {
                    return Ok(Some((ts, h.base_offset)));
                }
                let batch = read_batch(seg, pos, &h)?;
                let offset = records::offset_of_max_timestamp(&batch, &h)?;
                return Ok(Some((ts, offset.unwrap_or(h.base_offset))));
            }
            pos += h.total_len as u64;
        }
        Ok(Some((ts, batch_last)))
    }
}

/// The bytes of the whole batch `h` at `pos` of `seg`.
fn read_batch(seg: &Segment, pos: u64, h: &BatchHeader) -> Result<Vec<u8>, LogError> {
    let mut buf = vec![0u8; h.total_len];
    seg.log_file()?.read_exact_at(&mut buf, pos)?;
    Ok(buf)
}
