//! The records of `__share_group_state`, in Kafka's binary format (Kafka 4.x share-coordinator
//! schemas), so Kafka's tools read what Weir writes and Weir loads what Kafka wrote:
//!
//! * key: the record type as the key version (`int16`: 0 = `ShareSnapshotKey`, 1 =
//!   `ShareUpdateKey`), then (non-flexible) `GroupId string, TopicId uuid, Partition int32`;
//! * `ShareSnapshotValue` version 0 (flexible): `SnapshotEpoch int32, StateEpoch int32,
//!   LeaderEpoch int32, StartOffset int64, CreateTimestamp int64, WriteTimestamp int64,
//!   StateBatches [FirstOffset int64, LastOffset int64, DeliveryState int8, DeliveryCount
//!   int16]`, tagged field 0 `DeliveryCompleteCount int32` (KIP-1226, default -1);
//! * `ShareUpdateValue` version 0 (flexible): `SnapshotEpoch int32, LeaderEpoch int32,
//!   StartOffset int64, StateBatches [...]`, tagged field 0 `DeliveryCompleteCount`.
//!
//! A null value is a tombstone (the share-partition's state was deleted). Delivery state 3
//! (DeadLetterPending) is Weir's (see [`crate::DeliveryState`]). Decoding is bounded by the
//! input: garbage yields an error, never a panic or a large allocation.

use crate::types::{DeliveryState, ShareKey, StateBatch, TopicId};

/// Key version (= record type) of `ShareSnapshotKey`.
pub const SNAPSHOT_KEY_TYPE: i16 = 0;
/// Key version (= record type) of `ShareUpdateKey`.
pub const UPDATE_KEY_TYPE: i16 = 1;
/// The value version Weir writes and reads for both value types.
pub const VALUE_VERSION: i16 = 0;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad __share_group_state record: {0}")]
pub struct RecordError(pub String);

/// The kind of a `__share_group_state` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// `ShareSnapshot`: the share-partition's full state.
    Snapshot,
    /// `ShareUpdate`: a delta over the last snapshot.
    Update,
}

/// A decoded value (the fields a kind does not carry are 0 / -1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareValue {
    /// The snapshot epoch (bumped per snapshot; an update carries its snapshot's).
    pub snapshot_epoch: i32,
    /// The state epoch (snapshot only; 0 in updates).
    pub state_epoch: i32,
    /// The share-partition leader epoch of the write.
    pub leader_epoch: i32,
    /// The SPSO (an update may carry -1: unchanged).
    pub start_offset: i64,
    /// When the state was created (snapshot only).
    pub create_timestamp: i64,
    /// When this snapshot was written (snapshot only).
    pub write_timestamp: i64,
    /// KIP-1226 `DeliveryCompleteCount` (-1 = unknown).
    pub delivery_complete_count: i32,
    /// The state batches.
    pub batches: Vec<StateBatch>,
}

/// Encode the key of `kind` for `key`.
pub fn encode_key(kind: RecordKind, key: &ShareKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(26 + key.group_id.len());
    let t = match kind {
        RecordKind::Snapshot => SNAPSHOT_KEY_TYPE,
        RecordKind::Update => UPDATE_KEY_TYPE,
    };
    out.extend_from_slice(&t.to_be_bytes());
    let len = i16::try_from(key.group_id.len()).unwrap_or(i16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&key.group_id.as_bytes()[..len as usize]);
    out.extend_from_slice(&key.topic_id.0);
    out.extend_from_slice(&key.partition.to_be_bytes());
    out
}

/// Decode a key: `Ok(None)` for a record type this coordinator does not know (skipped, as
/// Kafka skips them).
pub fn decode_key(key: &[u8]) -> Result<Option<(RecordKind, ShareKey)>, RecordError> {
    let mut r = Reader(key);
    let kind = match r.i16()? {
        SNAPSHOT_KEY_TYPE => RecordKind::Snapshot,
        UPDATE_KEY_TYPE => RecordKind::Update,
        _ => return Ok(None),
    };
    let len = r.i16()?;
    let len = usize::try_from(len).map_err(|_| RecordError("null group id".into()))?;
    let group_id = String::from_utf8(r.take(len)?.to_vec())
        .map_err(|_| RecordError("group id is not UTF-8".into()))?;
    let mut id = [0u8; 16];
    id.copy_from_slice(r.take(16)?);
    let partition = r.i32()?;
    Ok(Some((
        kind,
        ShareKey::new(group_id, TopicId(id), partition),
    )))
}

/// Encode a value of `kind` (a snapshot writes every field; an update skips the state epoch
/// and the timestamps).
pub fn encode_value(kind: RecordKind, v: &ShareValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + 24 * v.batches.len());
    out.extend_from_slice(&VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&v.snapshot_epoch.to_be_bytes());
    if kind == RecordKind::Snapshot {
        out.extend_from_slice(&v.state_epoch.to_be_bytes());
    }
    out.extend_from_slice(&v.leader_epoch.to_be_bytes());
    out.extend_from_slice(&v.start_offset.to_be_bytes());
    if kind == RecordKind::Snapshot {
        out.extend_from_slice(&v.create_timestamp.to_be_bytes());
        out.extend_from_slice(&v.write_timestamp.to_be_bytes());
    }
    put_uvarint(&mut out, v.batches.len() as u64 + 1);
    for b in &v.batches {
        out.extend_from_slice(&b.first_offset.to_be_bytes());
        out.extend_from_slice(&b.last_offset.to_be_bytes());
        out.push(b.state.id() as u8);
        out.extend_from_slice(&b.delivery_count.to_be_bytes());
        put_uvarint(&mut out, 0);
    }
    if v.delivery_complete_count == -1 {
        put_uvarint(&mut out, 0);
    } else {
        put_uvarint(&mut out, 1);
        put_uvarint(&mut out, 0);
        put_uvarint(&mut out, 4);
        out.extend_from_slice(&v.delivery_complete_count.to_be_bytes());
    }
    out
}

/// Decode a value of `kind`: `Ok(None)` for a value version this coordinator does not know.
pub fn decode_value(kind: RecordKind, value: &[u8]) -> Result<Option<ShareValue>, RecordError> {
    let mut r = Reader(value);
    if r.i16()? != VALUE_VERSION {
        return Ok(None);
    }
    let snapshot = kind == RecordKind::Snapshot;
    let snapshot_epoch = r.i32()?;
    let state_epoch = if snapshot { r.i32()? } else { 0 };
    let leader_epoch = r.i32()?;
    let start_offset = r.i64()?;
    let (create_timestamp, write_timestamp) = if snapshot {
        (r.i64()?, r.i64()?)
    } else {
        (0, 0)
    };
    let n = r.compact_len()?.unwrap_or(0);
    // Each batch is at least 20 bytes: bound the allocation by the input.
    let mut batches = Vec::with_capacity(n.min(r.0.len() / 20));
    for _ in 0..n {
        let first_offset = r.i64()?;
        let last_offset = r.i64()?;
        let id = r.i8()?;
        let state = DeliveryState::from_id(id)
            .ok_or_else(|| RecordError(format!("unknown delivery state {id}")))?;
        let delivery_count = r.i16()?;
        r.skip_tags(|_, _| Ok(()))?;
        if first_offset > last_offset {
            return Err(RecordError(format!(
                "state batch {first_offset}..{last_offset} is reversed"
            )));
        }
        batches.push(StateBatch {
            first_offset,
            last_offset,
            state,
            delivery_count,
        });
    }
    let mut delivery_complete_count = -1;
    r.skip_tags(|tag, data| {
        if tag == 0 {
            let b: [u8; 4] = data
                .try_into()
                .map_err(|_| RecordError("bad DeliveryCompleteCount".into()))?;
            delivery_complete_count = i32::from_be_bytes(b);
        }
        Ok(())
    })?;
    Ok(Some(ShareValue {
        snapshot_epoch,
        state_epoch,
        leader_epoch,
        start_offset,
        create_timestamp,
        write_timestamp,
        delivery_complete_count,
        batches,
    }))
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounded reader over a record.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.0.len() < n {
            return Err(RecordError(format!(
                "needs {n} bytes, {} left",
                self.0.len()
            )));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn i8(&mut self) -> Result<i8, RecordError> {
        Ok(self.take(1)?[0] as i8)
    }

    fn i16(&mut self) -> Result<i16, RecordError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, RecordError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(i32::from_be_bytes(a))
    }

    fn i64(&mut self) -> Result<i64, RecordError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(a))
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

    /// A compact array length: None for null.
    fn compact_len(&mut self) -> Result<Option<usize>, RecordError> {
        match self.uvarint()? {
            0 => Ok(None),
            n => usize::try_from(n - 1)
                .map(Some)
                .map_err(|_| RecordError("array too long".into())),
        }
    }

    /// A tagged-fields section: each field's (tag, data) is given to `f`.
    fn skip_tags(
        &mut self,
        mut f: impl FnMut(u64, &[u8]) -> Result<(), RecordError>,
    ) -> Result<(), RecordError> {
        let n = self.uvarint()?;
        for _ in 0..n {
            let tag = self.uvarint()?;
            let len = usize::try_from(self.uvarint()?)
                .map_err(|_| RecordError("tagged field too long".into()))?;
            let data = self.take(len)?;
            f(tag, data)?;
        }
        Ok(())
    }
}
