//! The records of `__transaction_state`, in Kafka's binary format (so Kafka's tools read what
//! Weir writes and Weir loads what Kafka wrote):
//!
//! * key: version 0 (`int16`), then `TransactionLogKey { transactional_id: string }`;
//! * value: version (`int16`), then `TransactionLogValue`: version 0 (non-flexible) and 1
//!   (flexible: compact strings and arrays, tagged fields) are read; version 1 is written.
//!   Fields: `producer_id int64`, `producer_epoch int16`, `transaction_timeout_ms int32`,
//!   `transaction_status int8`, `transaction_partitions [topic string, partition_ids [int32]]`
//!   (null when Empty), `transaction_last_update_timestamp_ms int64`,
//!   `transaction_start_timestamp_ms int64`; version 1's tagged fields: 0
//!   `previous_producer_id int64` (default -1), 1 `next_producer_id int64` (-1), 2
//!   `client_transaction_version int16` (0); others are skipped.
//!
//! A null value is a tombstone (the transactional id expired). Decoding is bounded by the
//! input: garbage yields an error, never a panic or a large allocation.

use std::collections::BTreeSet;

use crate::metadata::TxnMetadata;
use crate::state::TxnState;
use crate::types::{TopicPartition, NO_PRODUCER_EPOCH, NO_PRODUCER_ID};

/// The key version of `TransactionLogKey`.
pub const KEY_VERSION: i16 = 0;

/// The value version Weir writes (the first flexible one: carries the previous / next producer
/// ids and the client's transaction version).
pub const VALUE_VERSION: i16 = 1;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad __transaction_state record: {0}")]
pub struct RecordError(pub String);

/// Encode the key of `transactional_id`.
pub fn encode_key(transactional_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + transactional_id.len());
    out.extend_from_slice(&KEY_VERSION.to_be_bytes());
    put_str(&mut out, transactional_id);
    out
}

/// Decode a key: `Ok(Some(id))`, or `Ok(None)` for a key version this coordinator does not
/// know (skipped, as Kafka skips them).
pub fn decode_key(key: &[u8]) -> Result<Option<String>, RecordError> {
    let mut r = Reader(key);
    let version = r.i16()?;
    if version != KEY_VERSION {
        return Ok(None);
    }
    r.string().map(Some)
}

/// Encode `m` as a version-1 value (partitions are written null when Empty, as Kafka).
pub fn encode_value(m: &TxnMetadata) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&m.producer_id.to_be_bytes());
    out.extend_from_slice(&m.producer_epoch.to_be_bytes());
    out.extend_from_slice(&m.timeout_ms.to_be_bytes());
    out.extend_from_slice(&m.state.id().to_be_bytes());
    if m.state == TxnState::Empty {
        put_uvarint(&mut out, 0);
    } else {
        let topics = group_by_topic(&m.partitions);
        put_uvarint(&mut out, topics.len() as u64 + 1);
        for (topic, parts) in topics {
            put_uvarint(&mut out, topic.len() as u64 + 1);
            out.extend_from_slice(topic.as_bytes());
            put_uvarint(&mut out, parts.len() as u64 + 1);
            for p in parts {
                out.extend_from_slice(&p.to_be_bytes());
            }
            put_uvarint(&mut out, 0); // the partition entry's tagged fields
        }
    }
    out.extend_from_slice(&m.last_update_ms.to_be_bytes());
    out.extend_from_slice(&m.start_ms.to_be_bytes());
    let mut tags: Vec<(u64, Vec<u8>)> = Vec::new();
    if m.prev_producer_id != NO_PRODUCER_ID {
        tags.push((0, m.prev_producer_id.to_be_bytes().to_vec()));
    }
    if m.next_producer_id != NO_PRODUCER_ID {
        tags.push((1, m.next_producer_id.to_be_bytes().to_vec()));
    }
    if m.client_version != 0 {
        tags.push((2, m.client_version.to_be_bytes().to_vec()));
    }
    put_uvarint(&mut out, tags.len() as u64);
    for (tag, data) in tags {
        put_uvarint(&mut out, tag);
        put_uvarint(&mut out, data.len() as u64);
        out.extend_from_slice(&data);
    }
    out
}

/// Decode a value: `Ok(None)` for a value version this coordinator does not know (skipped).
/// The in-memory `last_producer_epoch` is -1, as Kafka loads it.
pub fn decode_value(value: &[u8]) -> Result<Option<TxnMetadata>, RecordError> {
    let mut r = Reader(value);
    let version = r.i16()?;
    if !(0..=1).contains(&version) {
        return Ok(None);
    }
    let flexible = version >= 1;
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let status = r.i8()?;
    let state = TxnState::from_id(status)
        .ok_or_else(|| RecordError(format!("unknown transaction status {status}")))?;
    let mut partitions = BTreeSet::new();
    let topics = if flexible {
        r.compact_len()?
    } else {
        r.array_len()?
    };
    for _ in 0..topics.unwrap_or(0) {
        let topic = if flexible {
            r.compact_string()?
        } else {
            r.string()?
        };
        let n = if flexible {
            r.compact_len()?
        } else {
            r.array_len()?
        };
        for _ in 0..n.unwrap_or(0) {
            partitions.insert(TopicPartition::new(topic.clone(), r.i32()?));
        }
        if flexible {
            r.skip_tags()?;
        }
    }
    let last_update_ms = r.i64()?;
    let start_ms = r.i64()?;
    let mut m = TxnMetadata {
        producer_id,
        prev_producer_id: NO_PRODUCER_ID,
        next_producer_id: NO_PRODUCER_ID,
        producer_epoch,
        last_producer_epoch: NO_PRODUCER_EPOCH,
        timeout_ms,
        state,
        partitions: if state == TxnState::Empty {
            BTreeSet::new()
        } else {
            partitions
        },
        start_ms,
        last_update_ms,
        client_version: 0,
    };
    if flexible {
        let n = r.uvarint()?;
        for _ in 0..n {
            let tag = r.uvarint()?;
            let size = usize::try_from(r.uvarint()?).map_err(|_| short())?;
            let mut data = Reader(r.take(size)?);
            match tag {
                0 => m.prev_producer_id = data.i64()?,
                1 => m.next_producer_id = data.i64()?,
                2 => m.client_version = data.i16()?,
                _ => {}
            }
        }
    }
    Ok(Some(m))
}

fn group_by_topic(parts: &BTreeSet<TopicPartition>) -> Vec<(&str, Vec<i32>)> {
    let mut out: Vec<(&str, Vec<i32>)> = Vec::new();
    for tp in parts {
        match out.last_mut() {
            Some((t, ps)) if *t == tp.topic => ps.push(tp.partition),
            _ => out.push((&tp.topic, vec![tp.partition])),
        }
    }
    out
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len().min(i16::MAX as usize);
    out.extend_from_slice(&(n as i16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..n]);
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn short() -> RecordError {
    RecordError("truncated".into())
}

/// A bounded big-endian reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.0.len() < n {
            return Err(short());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn i8(&mut self) -> Result<i8, RecordError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn uvarint(&mut self) -> Result<u64, RecordError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(RecordError("varint too long".into()))
    }

    fn utf8(bytes: &[u8]) -> Result<String, RecordError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| RecordError("string is not UTF-8".into()))
    }

    fn string(&mut self) -> Result<String, RecordError> {
        let n = self.i16()?;
        let n = usize::try_from(n).map_err(|_| RecordError(format!("string length {n}")))?;
        Self::utf8(self.take(n)?)
    }

    fn compact_string(&mut self) -> Result<String, RecordError> {
        let n = self.uvarint()?;
        let n = usize::try_from(
            n.checked_sub(1)
                .ok_or_else(|| RecordError("null string".into()))?,
        )
        .map_err(|_| short())?;
        Self::utf8(self.take(n)?)
    }

    /// A non-flexible array length (`int32`, -1 = null); bounded by the bytes left (every
    /// element takes at least one byte).
    fn array_len(&mut self) -> Result<Option<usize>, RecordError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        self.bounded(n as u64)
    }

    /// A compact array length (`uvarint` n+1, 0 = null).
    fn compact_len(&mut self) -> Result<Option<usize>, RecordError> {
        match self.uvarint()? {
            0 => Ok(None),
            n => self.bounded(n - 1),
        }
    }

    fn bounded(&self, n: u64) -> Result<Option<usize>, RecordError> {
        if n > self.0.len() as u64 {
            return Err(RecordError(format!(
                "array of {n} elements in {} bytes",
                self.0.len()
            )));
        }
        Ok(Some(n as usize))
    }

    fn skip_tags(&mut self) -> Result<(), RecordError> {
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = usize::try_from(self.uvarint()?).map_err(|_| short())?;
            self.take(size)?;
        }
        Ok(())
    }
}
