//! Record-level view of an uncompressed RecordBatch v2 body (used by the cleaner and the
//! compacted-topic key check; never on the plain produce path).

use crate::batch::{BatchHeader, HEADER_LEN};
use crate::LogError;

/// One record inside a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Byte range of the whole record (length prefix included) within the batch.
    pub span: std::ops::Range<usize>,
    /// Offset delta from the batch base offset.
    pub offset_delta: i64,
    /// Key (None = null key).
    pub key: Option<&'a [u8]>,
    /// True when the value is null (a tombstone).
    pub tombstone: bool,
    /// Value (None = null value, a tombstone).
    pub value: Option<&'a [u8]>,
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
        varint(body, &mut pos)?; // timestamp delta
        let offset_delta = varint(body, &mut pos)?;
        let klen = varint(body, &mut pos)?;
        let key = take(body, &mut pos, klen)?;
        let vlen = varint(body, &mut pos)?;
        let value = take(body, &mut pos, vlen)?;
        out.push(RecordView {
            span: start..rec_end,
            offset_delta,
            key,
            tombstone: vlen < 0,
            value,
        });
        pos = rec_end;
    }
    Ok(out)
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
    }
}
