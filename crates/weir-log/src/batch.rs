//! RecordBatch v2 header view: the 61 fixed bytes Kafka puts in front of every batch.
//! Records themselves are never decoded here.

use crate::LogError;

/// Size of the fixed RecordBatch v2 header.
pub const HEADER_LEN: usize = 61;
/// Bytes before the `batchLength` field ends (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
const CRC_START: usize = 21;

/// A parsed RecordBatch v2 header, valid for the batch at the start of the slice it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Whole batch size in bytes including the 12-byte log overhead.
    pub total_len: usize,
    /// Leader epoch stamped by the leader.
    pub partition_leader_epoch: i32,
    /// Magic byte (2).
    pub magic: i8,
    /// Stored CRC32C of bytes 21.. of the batch.
    pub crc: u32,
    /// Attributes (compression bits 0-2, timestamp type bit 3, transactional 4, control 5).
    pub attributes: i16,
    /// Last offset minus base offset.
    pub last_offset_delta: i32,
    /// First timestamp.
    pub base_timestamp: i64,
    /// Largest timestamp.
    pub max_timestamp: i64,
    /// Producer id (-1 when none).
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// First sequence number.
    pub base_sequence: i32,
    /// Number of records.
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parse the header at the start of `buf` (needs at least [`HEADER_LEN`] bytes). Only checks
    /// that the length field is sane; use [`validate_batch`] for full validation.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, LogError> {
        if buf.len() < HEADER_LEN {
            return Err(LogError::CorruptMessage(format!(
                "record batch header needs {HEADER_LEN} bytes, got {}",
                buf.len()
            )));
        }
        let batch_length = be_i32(buf, 8);
        if batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(LogError::CorruptMessage(format!(
                "record batch length {batch_length} is smaller than the header"
            )));
        }
        Ok(BatchHeader {
            base_offset: be_i64(buf, 0),
            total_len: batch_length as usize + LOG_OVERHEAD,
            partition_leader_epoch: be_i32(buf, 12),
            magic: buf[16] as i8,
            crc: u32::from_be_bytes([buf[17], buf[18], buf[19], buf[20]]),
            attributes: be_i16(buf, 21),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            records_count: be_i32(buf, 57),
        })
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// Offset after the last record.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & 0x07
    }
}

/// Integrity of a stored batch (magic, length, CRC32C): what recovery checks. Compacted batches
/// pass although their record count no longer equals lastOffsetDelta + 1.
pub fn check_integrity(buf: &[u8]) -> Result<BatchHeader, LogError> {
    let h = BatchHeader::parse(buf)?;
    if h.magic != 2 {
        return Err(LogError::InvalidRecord(format!(
            "record batch magic {} is not supported (only 2)",
            h.magic
        )));
    }
    if h.total_len > buf.len() {
        return Err(LogError::CorruptMessage(format!(
            "record batch claims {} bytes but only {} remain",
            h.total_len,
            buf.len()
        )));
    }
    let crc = crc32c::crc32c(&buf[CRC_START..h.total_len]);
    if crc != h.crc {
        return Err(LogError::CorruptMessage(format!(
            "record batch CRC mismatch: stored {:#010x}, computed {crc:#010x}",
            h.crc
        )));
    }
    Ok(h)
}

/// Fully validate a produced batch at the start of `buf` (integrity plus codec and record count),
/// returning its header. `buf` may hold more bytes after the batch.
pub fn validate_batch(buf: &[u8]) -> Result<BatchHeader, LogError> {
    let h = check_integrity(buf)?;
    if h.compression() > 4 {
        return Err(LogError::InvalidRecord(format!(
            "unknown compression codec {}",
            h.compression()
        )));
    }
    if h.records_count <= 0 || h.last_offset_delta < 0 || h.records_count - 1 != h.last_offset_delta
    {
        return Err(LogError::InvalidRecord(format!(
            "record count {} does not match last offset delta {}",
            h.records_count, h.last_offset_delta
        )));
    }
    Ok(h)
}

/// Rewrite the base offset of the batch at the start of `buf` (the CRC does not cover it).
pub fn set_base_offset(buf: &mut [u8], base_offset: i64) {
    buf[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Stamp `LogAppendTime`: set the timestamp-type attribute bit, max timestamp = `now`, and
/// recompute the CRC over the batch of `total_len` bytes at the start of `buf`.
pub fn set_log_append_time(buf: &mut [u8], total_len: usize, now: i64) {
    let attrs = be_i16(buf, 21) | 0x08;
    buf[21..23].copy_from_slice(&attrs.to_be_bytes());
    buf[35..43].copy_from_slice(&now.to_be_bytes());
    let crc = crc32c::crc32c(&buf[CRC_START..total_len]);
    buf[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Make the whole batch `buf` (as built by [`build_batch_nullable`]) a transactional batch of
/// `producer_id` at `producer_epoch`: transactional attribute bit (0x10) set, base sequence -1
/// (as Kafka's coordinators write TxnOffsetCommit records), CRC recomputed.
pub fn set_transactional(buf: &mut [u8], producer_id: i64, producer_epoch: i16) {
    // 0x10: the transactional attribute bit (`txn_marker::TRANSACTIONAL_BIT`).
    let attrs = be_i16(buf, 21) | 0x10;
    buf[21..23].copy_from_slice(&attrs.to_be_bytes());
    buf[43..51].copy_from_slice(&producer_id.to_be_bytes());
    buf[51..53].copy_from_slice(&producer_epoch.to_be_bytes());
    buf[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    let crc = crc32c::crc32c(&buf[CRC_START..]);
    buf[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Stamp the partition leader epoch (not covered by the CRC).
pub fn set_partition_leader_epoch(buf: &mut [u8], epoch: i32) {
    buf[12..16].copy_from_slice(&epoch.to_be_bytes());
}

/// Build a valid uncompressed batch (tests, tools): `records` are (key, value) pairs.
pub fn build_batch(
    base_offset: i64,
    timestamp: i64,
    records: &[(Option<&[u8]>, &[u8])],
) -> Vec<u8> {
    let with_values: Vec<NullableRecord<'_>> =
        records.iter().map(|(k, v)| (*k, Some(*v))).collect();
    build_batch_nullable(base_offset, timestamp, &with_values)
}

/// A (key, value) pair where either may be null.
pub type NullableRecord<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// Build a valid uncompressed batch whose values may be null (tombstones): `records` are
/// (key, value) pairs, all with `timestamp`.
pub fn build_batch_nullable(
    base_offset: i64,
    timestamp: i64,
    records: &[NullableRecord<'_>],
) -> Vec<u8> {
    let timed: Vec<TimedRecord<'_>> = records.iter().map(|&(k, v)| (timestamp, k, v)).collect();
    build_batch_timed(base_offset, &timed)
}

/// A (timestamp, key, value) record where key and value may be null.
pub type TimedRecord<'a> = (i64, Option<&'a [u8]>, Option<&'a [u8]>);

/// Build a valid uncompressed CreateTime batch whose records carry their own timestamps: the base
/// timestamp is the first record's, the max timestamp the largest (tests, tools).
pub fn build_batch_timed(base_offset: i64, records: &[TimedRecord<'_>]) -> Vec<u8> {
    let with: Vec<HeaderRecord<'_>> = records
        .iter()
        .map(|&(ts, k, v)| (ts, k, v, Vec::new()))
        .collect();
    build_batch_with_headers(base_offset, &with)
}

/// A (timestamp, key, value, headers) record; header values may be null.
pub type HeaderRecord<'a> = (
    i64,
    Option<&'a [u8]>,
    Option<&'a [u8]>,
    Vec<(&'a str, Option<&'a [u8]>)>,
);

/// Build a valid uncompressed CreateTime batch of records with headers (e.g. dead-letter
/// copies with their `__dlq.errors.*` headers).
pub fn build_batch_with_headers(base_offset: i64, records: &[HeaderRecord<'_>]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }
    fn nullable(out: &mut Vec<u8>, field: Option<&[u8]>) {
        match field {
            Some(f) => {
                varint(out, f.len() as i64);
                out.extend_from_slice(f);
            }
            None => varint(out, -1),
        }
    }
    let base_ts = records.first().map_or(-1, |r| r.0);
    let max_ts = records.iter().map(|r| r.0).max().unwrap_or(-1);
    let mut body = Vec::new();
    for (i, (ts, k, v, headers)) in records.iter().enumerate() {
        let mut r = vec![0u8]; // attributes
        varint(&mut r, ts - base_ts);
        varint(&mut r, i as i64); // offset delta
        nullable(&mut r, *k);
        nullable(&mut r, *v);
        varint(&mut r, headers.len() as i64);
        for (hk, hv) in headers {
            nullable(&mut r, Some(hk.as_bytes()));
            nullable(&mut r, *hv);
        }
        varint(&mut body, r.len() as i64);
        body.extend_from_slice(&r);
    }
    let n = records.len() as i32;
    let mut b = Vec::with_capacity(HEADER_LEN + body.len());
    b.extend_from_slice(&base_offset.to_be_bytes());
    b.extend_from_slice(&((HEADER_LEN - LOG_OVERHEAD + body.len()) as i32).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // leader epoch
    b.push(2); // magic
    b.extend_from_slice(&[0, 0, 0, 0]); // crc placeholder
    b.extend_from_slice(&0i16.to_be_bytes()); // attributes
    b.extend_from_slice(&(n - 1).to_be_bytes()); // last offset delta
    b.extend_from_slice(&base_ts.to_be_bytes());
    b.extend_from_slice(&max_ts.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&n.to_be_bytes());
    b.extend_from_slice(&body);
    let crc = crc32c::crc32c(&b[CRC_START..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// The deterministic batch number `seq` of the SIGKILL crash test: the child process appends it
/// and the test rebuilds it to compare bytes (1–5 records of varying size, timestamp = `seq`).
#[doc(hidden)]
pub fn crash_test_batch(seq: u64) -> Vec<u8> {
    let n = 1 + (seq % 5) as usize;
    let pad = "x".repeat((seq % 97) as usize);
    let vals: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("seq-{seq}-rec-{i}-{pad}").into_bytes())
        .collect();
    let recs: Vec<(Option<&[u8]>, &[u8])> = vals.iter().map(|v| (None, v.as_slice())).collect();
    build_batch(0, seq as i64, &recs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_transactional_keeps_the_batch_valid() {
        let mut b = build_batch_nullable(0, 5, &[(Some(b"k"), Some(b"v")), (Some(b"k2"), None)]);
        set_transactional(&mut b, 42, 3);
        let h = validate_batch(&b).unwrap();
        assert_ne!(h.attributes & 0x10, 0, "transactional attribute bit");
        assert_eq!(h.attributes & 0x20, 0, "not a control batch");
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 3, -1)
        );
        assert_eq!(h.records_count, 2);
    }

    #[test]
    fn built_batches_validate_and_rewrites_keep_them_valid() {
        let mut b = build_batch(0, 1000, &[(Some(b"k"), b"v1"), (None, b"v2")]);
        let h = validate_batch(&b).unwrap();
        assert_eq!(h.records_count, 2);
        assert_eq!(h.total_len, b.len());
        set_base_offset(&mut b, 42);
        set_log_append_time(&mut b, h.total_len, 5000);
        let h2 = validate_batch(&b).unwrap();
        assert_eq!(h2.base_offset, 42);
        assert_eq!(h2.last_offset(), 43);
        assert_eq!(h2.max_timestamp, 5000);
        assert_eq!(h2.attributes & 0x08, 0x08);
    }

    #[test]
    fn corruption_is_detected() {
        let b = build_batch(0, 1000, &[(None, b"hello")]);
        for i in 17..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            assert!(validate_batch(&c).is_err(), "flip at {i} undetected");
        }
        assert!(validate_batch(&b[..b.len() - 1]).is_err());
        assert!(validate_batch(&b[..10]).is_err());
        let mut m = b.clone();
        m[16] = 1;
        assert!(matches!(
            validate_batch(&m),
            Err(LogError::InvalidRecord(_))
        ));
    }
}
