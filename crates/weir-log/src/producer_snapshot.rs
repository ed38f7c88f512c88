//! The producer-state snapshot codec (`<offset>.snapshot` contents).
//!
//! Layout: `i16 version, u32 crc32c(rest), i32 count` and `count` producer entries, big-endian.
//! * Version 3 (written when any producer has transaction state: an ongoing transaction or a
//!   coordinator epoch): `[i64 producer_id, i16 epoch, i64 last_timestamp, i32 coordinator_epoch,
//!   i64 current_txn_first_offset (-1: none), i8 n (0..=5), n × [i32 first_sequence,
//!   i32 last_sequence, i64 first_offset, i64 last_offset, i64 timestamp]]`. Producers with no
//!   batch but transaction state (e.g. after a marker for a producer that wrote nothing here) are
//!   kept.
//! * Version 2 (written otherwise, byte for byte what Weir wrote before transactions, so
//!   non-transactional logs stay readable by older Weir): `[i64 producer_id, i16 epoch,
//!   i64 last_timestamp, i8 n (1..=5), n × batch]` as above.
//! * Version 1 (Kafka's, read only): `[i64 producer_id, i16 epoch, i32 last_sequence,
//!   i64 last_offset, i32 offset_delta, i64 timestamp, i32 coordinator_epoch,
//!   i64 current_txn_first_offset]`, one batch per producer; its transaction fields are used.
//!
//! Weir keeps every cached batch (Kafka's version 1 keeps only the last), so after a restart a
//! retry of any earlier in-flight batch is answered as a duplicate instead of being refused as
//! OUT_OF_ORDER_SEQUENCE_NUMBER (fatal for the producer).

use std::collections::{HashMap, VecDeque};

use crate::producer_state::{
    BatchMetadata, ProducerEntry, ProducerStateManager, MAX_CACHED_BATCHES,
};

fn put_batch(body: &mut Vec<u8>, b: &BatchMetadata) {
    body.extend_from_slice(&b.first_seq.to_be_bytes());
    body.extend_from_slice(&b.last_seq.to_be_bytes());
    body.extend_from_slice(&b.first_offset.to_be_bytes());
    body.extend_from_slice(&b.last_offset.to_be_bytes());
    body.extend_from_slice(&b.timestamp.to_be_bytes());
}

impl ProducerStateManager {
    /// Encode the state as a snapshot file (version 3 when any producer has transaction state,
    /// else version 2; see the module doc of `producer_snapshot`).
    pub fn to_snapshot(&self) -> Vec<u8> {
        let has_txn =
            |e: &ProducerEntry| e.coordinator_epoch >= 0 || e.current_txn_first_offset.is_some();
        let v3 = self.entries().any(|(_, e)| has_txn(e));
        let mut entries: Vec<(&i64, &ProducerEntry)> = self
            .entries()
            .filter(|(_, e)| !e.batches.is_empty() || has_txn(e))
            .collect();
        entries.sort_by_key(|(id, _)| **id);
        let mut body = Vec::new();
        body.extend_from_slice(&(entries.len() as i32).to_be_bytes());
        for (id, e) in entries {
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&e.last_timestamp.to_be_bytes());
            if v3 {
                body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
                body.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
            }
            let n = e.batches.len().min(MAX_CACHED_BATCHES);
            body.push(n as u8);
            for b in e.batches.iter().skip(e.batches.len() - n) {
                put_batch(&mut body, b);
            }
        }
        let version: i16 = if v3 { 3 } else { 2 };
        let mut out = Vec::with_capacity(body.len() + 6);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parse a snapshot (version 3, 2, or Kafka's version 1); a wrong version, CRC or length is
    /// an error message.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 10 {
            return Err("snapshot shorter than its header".into());
        }
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if !(1..=3).contains(&version) {
            return Err(format!("snapshot version {version} unknown"));
        }
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let body = &bytes[6..];
        if crc32c::crc32c(body) != crc {
            return Err("snapshot CRC mismatch".into());
        }
        let count = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        if count < 0 {
            return Err(format!("snapshot claims {count} entries"));
        }
        let mut r = Reader {
            bytes: &body[4..],
            pos: 0,
        };
        let mut producers = HashMap::new();
        for _ in 0..count {
            let (id, entry) = match version {
                1 => read_v1_entry(&mut r)?,
                v => read_entry(&mut r, v == 3)?,
            };
            producers.insert(id, entry);
        }
        if r.pos != r.bytes.len() {
            return Err(format!("snapshot length does not match {count} entries"));
        }
        Ok(ProducerStateManager::from_entries(producers))
    }
}

/// A bounds-checked big-endian reader over a snapshot body.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let out = self
            .bytes
            .get(self.pos..self.pos + N)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| "snapshot ends inside an entry".to_string())?;
        self.pos += N;
        Ok(out)
    }
    fn i8(&mut self) -> Result<i8, String> {
        self.take::<1>().map(i8::from_be_bytes)
    }
    fn i16(&mut self) -> Result<i16, String> {
        self.take::<2>().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.take::<4>().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Result<i64, String> {
        self.take::<8>().map(i64::from_be_bytes)
    }
}

fn txn_first_offset(raw: i64) -> Option<i64> {
    (raw >= 0).then_some(raw)
}

fn read_v1_entry(r: &mut Reader<'_>) -> Result<(i64, ProducerEntry), String> {
    let id = r.i64()?;
    let epoch = r.i16()?;
    let last_seq = r.i32()?;
    let last_offset = r.i64()?;
    let delta = r.i32()?;
    let timestamp = r.i64()?;
    let coordinator_epoch = r.i32()?;
    let raw_txn_first_offset = r.i64()?;
    let first_seq =
        (i64::from(last_seq) - i64::from(delta)).rem_euclid(i64::from(i32::MAX) + 1) as i32;
    let mut batches = VecDeque::new();
    if last_offset >= 0 {
        batches.push_back(BatchMetadata {
            first_seq,
            last_seq,
            first_offset: last_offset - i64::from(delta),
            last_offset,
            timestamp,
        });
    }
    Ok((
        id,
        ProducerEntry {
            epoch,
            batches,
            last_timestamp: timestamp,
            coordinator_epoch,
            current_txn_first_offset: txn_first_offset(raw_txn_first_offset),
        },
    ))
}

fn read_entry(r: &mut Reader<'_>, v3: bool) -> Result<(i64, ProducerEntry), String> {
    let id = r.i64()?;
    let epoch = r.i16()?;
    let last_timestamp = r.i64()?;
    let (coordinator_epoch, current_txn_first_offset) = if v3 {
        (r.i32()?, txn_first_offset(r.i64()?))
    } else {
        (-1, None)
    };
    let n = r.i8()?;
    let min = if v3 { 0 } else { 1 };
    if !(min..=MAX_CACHED_BATCHES as i8).contains(&n) {
        return Err(format!("snapshot entry for producer {id} has {n} batches"));
    }
    let mut batches = VecDeque::with_capacity(n as usize);
    for _ in 0..n {
        batches.push_back(BatchMetadata {
            first_seq: r.i32()?,
            last_seq: r.i32()?,
            first_offset: r.i64()?,
            last_offset: r.i64()?,
            timestamp: r.i64()?,
        });
    }
    Ok((
        id,
        ProducerEntry {
            epoch,
            batches,
            last_timestamp,
            coordinator_epoch,
            current_txn_first_offset,
        },
    ))
}
