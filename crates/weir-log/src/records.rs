//! Record-level view of an uncompressed RecordBatch v2 body (used by the cleaner, the
//! compacted-topic key check and the exact timestamp lookups of ListOffsets; never on the plain
//! produce path).

use crate::batch::{BatchHeader, HEADER_LEN};
use crate::LogError;

/// One record inside a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Byte range of the whole record (length prefix included) within the batch.
    pub span: std::ops::Range<usize>,
    /// Timestamp delta from the batch base timestamp.
    pub timestamp_delta: i64,
    /// Offset delta from the batch base offset.
    pub offset_delta: i64,
    /// Key (None = null key).
    pub key: Option<&'a [u8]>,
    /// True when the value is null (a tombstone).
    pub tombstone: bool,
    /// Value (None = null value, a tombstone).
    pub value: Option<&'a [u8]>,
    /// The record's headers (key, value).
    pub headers: Vec<(&'a [u8], Option<&'a [u8]>)>,
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<i64, LogError> {
    let mut z: u64 = 0;
    for shift in (0..70).step_by(7) {
        let b = *buf
            .get(*pos)
            .ok_or_else(|| LogError::CorruptMessage("truncated varint in record".into()))?;
        *pos += 1;
        if shift == 63 && b > 1 {
            break;
        }
        z |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
    }
    Err(LogError::CorruptMessage("varint too long in record".into()))
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, len: i64) -> Result<Option<&'a [u8]>, LogError> {
    if len < 0 {
        return Ok(None);
    }
    let end = pos
        .checked_add(len as usize)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| LogError::CorruptMessage("record field runs past its record".into()))?;
    let s = &buf[*pos..end];
    *pos = end;
    Ok(Some(s))
}

/// Parse every record of the uncompressed batch `batch` (whole batch bytes, header included).
pub fn parse_records<'a>(
    batch: &'a [u8],
    h: &BatchHeader,
) -> Result<Vec<RecordView<'a>>, LogError> {
    if h.compression() != 0 {
        return Err(LogError::InvalidRecord(
            "compressed batch: records are not parsed".into(),
        ));
    }
    let mut out = Vec::new();
    let mut pos = HEADER_LEN;
    let end = h.total_len.min(batch.len());
    for _ in 0..h.records_count.max(0) {
        let start = pos;
        let len = varint(batch, &mut pos)?;
        if len < 0 || pos + len as usize > end {
            return Err(LogError::CorruptMessage(
                "record length runs past the batch".into(),
            ));
        }
        let rec_end = pos + len as usize;
        let body = &batch[..rec_end];
        pos += 1; // attributes
        let timestamp_delta = varint(body, &mut pos)?;
        let offset_delta = varint(body, &mut pos)?;
        let klen = varint(body, &mut pos)?;
        let key = take(body, &mut pos, klen)?;
        let vlen = varint(body, &mut pos)?;
        let value = take(body, &mut pos, vlen)?;
        let count = varint(body, &mut pos)?;
        let mut headers = Vec::new();
        for _ in 0..count.clamp(0, 1 << 16) {
            let hk = varint(body, &mut pos)?;
            let hk = take(body, &mut pos, hk)?.unwrap_or_default();
            let hv = varint(body, &mut pos)?;
            headers.push((hk, take(body, &mut pos, hv)?));
        }
        out.push(RecordView {
            headers,
            span: start..rec_end,
            timestamp_delta,
            offset_delta,
            key,
            tombstone: vlen < 0,
            value,
        });
        pos = rec_end;
    }
    Ok(out)
}

/// Indexes (positions within the batch, from 0) of the records without a key: what a compacted
/// topic refuses (KIP-467 reports each of them).
pub fn keyless_record_indexes(batch: &[u8], h: &BatchHeader) -> Result<Vec<i32>, LogError> {
    Ok(parse_records(batch, h)?
        .iter()
        .enumerate()
        .filter(|(_, r)| r.key.is_none())
        .map(|(i, _)| i as i32)
        .collect())
}

/// A record's timestamp: the batch's max timestamp under LogAppendTime (the broker's stamp
/// applies to every record), else base timestamp + delta.
fn record_timestamp(h: &BatchHeader, r: &RecordView<'_>) -> i64 {
    if h.attributes & 0x08 != 0 {
        h.max_timestamp
    } else {
        h.base_timestamp.saturating_add(r.timestamp_delta)
    }
}

/// The first record of the uncompressed batch whose timestamp is ≥ `target` and whose offset is
/// ≥ `min_offset`, as `(timestamp, offset)` (Kafka's `FileRecords.searchForTimestamp` inside one
/// batch). None when no record qualifies.
pub fn first_record_at_or_after(
    batch: &[u8],
    h: &BatchHeader,
    target: i64,
    min_offset: i64,
) -> Result<Option<(i64, i64)>, LogError> {
    Ok(parse_records(batch, h)?.iter().find_map(|r| {
        let (ts, offset) = (record_timestamp(h, r), h.base_offset + r.offset_delta);
        (ts >= target && offset >= min_offset).then_some((ts, offset))
    }))
}

/// The offset of the first record of the uncompressed batch whose timestamp equals the batch's
/// max timestamp (Kafka's `RecordBatch.offsetOfMaxTimestamp`). None when no record carries it.
pub fn offset_of_max_timestamp(batch: &[u8], h: &BatchHeader) -> Result<Option<i64>, LogError> {
    Ok(parse_records(batch, h)?
        .iter()
        .find(|r| record_timestamp(h, r) == h.max_timestamp)
        .map(|r| h.base_offset + r.offset_delta))
}

/// Build a copy of `batch` that keeps only the records at `keep` (spans from [`parse_records`]),
/// with the same base offset, timestamps and lastOffsetDelta (as Kafka's cleaner does), and a new
/// record count, length and CRC.
pub fn filter_batch(batch: &[u8], keep: &[std::ops::Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.len());
    out.extend_from_slice(&batch[..HEADER_LEN]);
    for r in keep {
        out.extend_from_slice(&batch[r.clone()]);
    }
    let batch_length = (out.len() - crate::batch::LOG_OVERHEAD) as i32;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[57..61].copy_from_slice(&(keep.len() as i32).to_be_bytes());
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{build_batch, check_integrity};

    #[test]
    fn records_parse_and_filter() {
        let b = build_batch(
            10,
            5,
            &[(Some(b"a"), b"1"), (None, b"2"), (Some(b"c"), b"3")],
        );
        let h = check_integrity(&b).unwrap();
        let recs = parse_records(&b, &h).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].key, Some(&b"a"[..]));
        assert_eq!(recs[1].key, None);
        assert_eq!(recs[2].offset_delta, 2);
        let f = filter_batch(&b, &[recs[2].span.clone()]);
        let fh = check_integrity(&f).unwrap();
        assert_eq!(fh.records_count, 1);
        assert_eq!(fh.last_offset(), 12, "last offset preserved");
        let again = parse_records(&f, &fh).unwrap();
        assert_eq!(again[0].key, Some(&b"c"[..]));
        assert!(parse_records(&b[..b.len() - 2], &h).is_err());
        assert_eq!(keyless_record_indexes(&b, &h).unwrap(), vec![1]);
    }

    #[test]
    fn timestamp_lookups_are_exact_to_the_record() {
        let recs: Vec<crate::batch::TimedRecord<'_>> = [100, 300, 200, 300, 150]
            .iter()
            .map(|&ts| (ts, Some(&b"k"[..]), Some(&b"v"[..])))
            .collect();
        let b = crate::batch::build_batch_timed(40, &recs);
        let h = check_integrity(&b).unwrap();
        assert_eq!(h.max_timestamp, 300);
        let at = |t, min| first_record_at_or_after(&b, &h, t, min).unwrap();
        assert_eq!(at(0, 0), Some((100, 40)));
        assert_eq!(at(101, 0), Some((300, 41)));
        assert_eq!(
            at(150, 0),
            Some((300, 41)),
            "first record at or after, not the closest"
        );
        assert_eq!(
            at(200, 42),
            Some((200, 42)),
            "records below min_offset are skipped"
        );
        assert_eq!(at(301, 0), None);
        assert_eq!(offset_of_max_timestamp(&b, &h).unwrap(), Some(41));
        // LogAppendTime: every record carries the broker's stamp.
        let mut la = b.clone();
        crate::batch::set_log_append_time(&mut la, h.total_len, 999);
        let lh = check_integrity(&la).unwrap();
        assert_eq!(
            first_record_at_or_after(&la, &lh, 500, 0).unwrap(),
            Some((999, 40))
        );
        assert_eq!(offset_of_max_timestamp(&la, &lh).unwrap(), Some(40));
    }
}
