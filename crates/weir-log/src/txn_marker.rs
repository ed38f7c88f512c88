//! Transaction markers (KIP-98): the control batches that end a producer's transaction in a
//! partition, in Kafka's format.
//!
//! A marker is a RecordBatch v2 with the transactional (0x10) and control (0x20) attribute bits,
//! the producer's id and epoch, base sequence -1 and exactly one record (offset and timestamp
//! delta 0, no headers) whose
//! * key is Kafka's `ControlRecordType` key: `i16 version (0), i16 type` with type 0 = ABORT,
//!   1 = COMMIT;
//! * value is Kafka's `EndTransactionMarker`: `i16 version (0), i32 coordinator epoch`.
//!
//! The whole batch is 78 bytes. Markers are written by the leader only
//! ([`crate::PartitionLog::append_txn_marker`]); followers copy them unchanged.

use crate::batch::{BatchHeader, HEADER_LEN, LOG_OVERHEAD};
use crate::records::parse_records;
use crate::LogError;

/// Attribute bit of a transactional batch.
pub const TRANSACTIONAL_BIT: i16 = 0x10;
/// Attribute bit of a control batch.
pub const CONTROL_BIT: i16 = 0x20;
/// Size of a marker batch as written here (61-byte header + one 17-byte record).
pub const MARKER_BATCH_LEN: usize = 78;

/// True when the batch's transactional attribute bit is set.
pub fn is_transactional(h: &BatchHeader) -> bool {
    h.attributes & TRANSACTIONAL_BIT != 0
}

/// True when the batch's control attribute bit is set.
pub fn is_control(h: &BatchHeader) -> bool {
    h.attributes & CONTROL_BIT != 0
}

/// How a transaction ended (Kafka's `ControlRecordType` ABORT / COMMIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnResult {
    /// Control type 0: the transaction's records are to be skipped by READ_COMMITTED consumers.
    Abort,
    /// Control type 1: the transaction's records are visible.
    Commit,
}

impl TxnResult {
    /// Kafka's control record type code (ABORT = 0, COMMIT = 1).
    pub fn control_type(self) -> i16 {
        match self {
            TxnResult::Abort => 0,
            TxnResult::Commit => 1,
        }
    }
}

/// The content of an end-transaction marker record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnMarker {
    /// COMMIT or ABORT.
    pub result: TxnResult,
    /// Epoch of the transaction coordinator that wrote it.
    pub coordinator_epoch: i32,
}

/// A marker to append as the leader: the partition's share of a WriteTxnMarkers request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    /// The transactional producer.
    pub producer_id: i64,
    /// The producer epoch the coordinator sends (under transaction version 2 it is bumped).
    pub producer_epoch: i16,
    /// The coordinator's epoch; a marker from an older coordinator epoch than the last marker
    /// seen for this producer is refused (TRANSACTION_COORDINATOR_FENCED).
    pub coordinator_epoch: i32,
    /// COMMIT or ABORT.
    pub result: TxnResult,
    /// Transaction version of the request (KIP-890): 0 or 1 accept a marker epoch >= the
    /// producer's current epoch; 2 requires a greater epoch, except an idempotent retry (equal
    /// epoch, no transaction ongoing), which is written again.
    pub transaction_version: i16,
}

fn varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Build a marker batch exactly as Kafka's `MemoryRecords.withEndTransactionMarker` does
/// (CreateTime, base and max timestamp = `timestamp`, uncompressed).
pub fn build_marker_batch(
    base_offset: i64,
    timestamp: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    marker: EndTxnMarker,
) -> Vec<u8> {
    let mut record = vec![0u8]; // record attributes
    varint(&mut record, 0); // timestamp delta
    varint(&mut record, 0); // offset delta
    varint(&mut record, 4);
    record.extend_from_slice(&0i16.to_be_bytes()); // key version
    record.extend_from_slice(&marker.result.control_type().to_be_bytes());
    varint(&mut record, 6);
    record.extend_from_slice(&0i16.to_be_bytes()); // value version
    record.extend_from_slice(&marker.coordinator_epoch.to_be_bytes());
    varint(&mut record, 0); // headers
    let mut body = Vec::with_capacity(record.len() + 1);
    varint(&mut body, record.len() as i64);
    body.extend_from_slice(&record);

    let mut b = Vec::with_capacity(HEADER_LEN + body.len());
    b.extend_from_slice(&base_offset.to_be_bytes());
    b.extend_from_slice(&((HEADER_LEN - LOG_OVERHEAD + body.len()) as i32).to_be_bytes());
    b.extend_from_slice(&partition_leader_epoch.to_be_bytes());
    b.push(2); // magic
    b.extend_from_slice(&[0, 0, 0, 0]); // crc, below
    b.extend_from_slice(&(TRANSACTIONAL_BIT | CONTROL_BIT).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&producer_id.to_be_bytes());
    b.extend_from_slice(&producer_epoch.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&1i32.to_be_bytes()); // records
    b.extend_from_slice(&body);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// The end-transaction marker of the control batch `batch` (whole batch bytes, header `h`).
/// `Ok(None)` for a control batch without records (Kafka's cleaner may leave one) or of another
/// control type; an unparsable marker is `CorruptMessage`.
pub fn parse_marker(batch: &[u8], h: &BatchHeader) -> Result<Option<EndTxnMarker>, LogError> {
    if h.records_count <= 0 {
        return Ok(None);
    }
    let records = parse_records(batch, h)?;
    let Some(r) = records.first() else {
        return Ok(None);
    };
    let bad = |what: &str| {
        LogError::CorruptMessage(format!(
            "control record at offset {}: {what}",
            h.base_offset
        ))
    };
    let key = r.key.ok_or_else(|| bad("null key"))?;
    if key.len() < 4 {
        return Err(bad("key shorter than 4 bytes"));
    }
    let version = i16::from_be_bytes([key[0], key[1]]);
    if version != 0 {
        return Err(bad(&format!("control key version {version}")));
    }
    let result = match i16::from_be_bytes([key[2], key[3]]) {
        0 => TxnResult::Abort,
        1 => TxnResult::Commit,
        _ => return Ok(None),
    };
    let value = r.value.ok_or_else(|| bad("null marker value"))?;
    if value.len() < 6 || i16::from_be_bytes([value[0], value[1]]) < 0 {
        return Err(bad(
            "marker value shorter than 6 bytes or of a negative version",
        ));
    }
    Ok(Some(EndTxnMarker {
        result,
        coordinator_epoch: i32::from_be_bytes([value[2], value[3], value[4], value[5]]),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::validate_batch;

    #[test]
    fn marker_batches_have_kafkas_layout_and_parse_back() {
        for result in [TxnResult::Abort, TxnResult::Commit] {
            let marker = EndTxnMarker {
                result,
                coordinator_epoch: 7,
            };
            let b = build_marker_batch(42, 1_000, 3, 99, 5, marker);
            assert_eq!(b.len(), MARKER_BATCH_LEN);
            let h = validate_batch(&b).unwrap();
            assert_eq!(h.attributes, 0x30);
            assert_eq!((h.base_offset, h.partition_leader_epoch), (42, 3));
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (99, 5, -1)
            );
            assert_eq!((h.base_timestamp, h.max_timestamp), (1_000, 1_000));
            // The record: length 16, attributes, deltas, key [0,0,0,type], value [0,0,epoch].
            let t = result.control_type() as u8;
            assert_eq!(
                &b[HEADER_LEN..],
                &[32, 0, 0, 0, 8, 0, 0, 0, t, 12, 0, 0, 0, 0, 0, 7, 0]
            );
            assert_eq!(parse_marker(&b, &h).unwrap(), Some(marker));
        }
    }
}
