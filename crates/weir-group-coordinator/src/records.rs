//! The records of `__consumer_offsets`, in Kafka's own binary format, so a Kafka tool reading the
//! topic sees what it expects:
//!
//! * key version 0/1 `OffsetCommitKey { group, topic, partition }`, value version 3
//!   `OffsetCommitValue { offset, leader_epoch, metadata, commit_timestamp }` (versions 0–3 are
//!   read);
//! * key version 2 `GroupMetadataKey { group }`, value version 3 `GroupMetadataValue` (classic
//!   groups: generation, protocol, leader, members with subscription and assignment).
//!
//! * key version 1000 (Weir's own) `{ group }` with a JSON value: a KIP-848 consumer group's
//!   epochs, members, subscriptions and assignments. Kafka stores these as a family of record
//!   types (keys 3–8); Weir keeps one record per group instead (documented deviation).
//!
//! A null value is a tombstone. Decoding is bounded by the input: garbage yields an error,
//! never a panic or a large allocation.

use bytes::{BufMut, Bytes};

/// A decoded key of `__consumer_offsets`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// The committed offset of one partition for one group.
    Offset {
        /// Group id.
        group: String,
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
    },
    /// A classic group's metadata.
    Group {
        /// Group id.
        group: String,
    },
    /// A KIP-848 consumer group's state (Weir's record, JSON value).
    ConsumerGroup {
        /// Group id.
        group: String,
    },
}

/// Key version of Weir's consumer-group record.
pub const CONSUMER_GROUP_KEY_VERSION: i16 = 1000;

impl RecordKey {
    /// The group the record belongs to.
    pub fn group(&self) -> &str {
        match self {
            RecordKey::Offset { group, .. }
            | RecordKey::Group { group }
            | RecordKey::ConsumerGroup { group } => group,
        }
    }
}

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    /// The committed offset (next record to consume).
    pub offset: i64,
    /// The leader epoch the consumer saw, -1 if unknown.
    pub leader_epoch: i32,
    /// Client metadata string.
    pub metadata: String,
    /// When it was committed (ms since epoch).
    pub commit_timestamp: i64,
}

/// One member in a stored classic group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMember {
    /// Member id.
    pub member_id: String,
    /// Static membership id.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Subscription (metadata of the chosen protocol).
    pub subscription: Bytes,
    /// Assignment.
    pub assignment: Bytes,
}

/// A classic group's metadata as stored (Kafka's GroupMetadataValue v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValue {
    /// Protocol type, e.g. "consumer".
    pub protocol_type: String,
    /// Generation.
    pub generation: i32,
    /// Chosen protocol (assignor name).
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// When the state last changed (ms).
    pub current_state_timestamp: i64,
    /// Members with their assignment.
    pub members: Vec<StoredMember>,
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad __consumer_offsets record: {0}")]
pub struct RecordError(pub String);

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.put_i16(s.len().min(i16::MAX as usize) as i16);
    out.extend_from_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn put_nullable_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.put_i16(-1),
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.put_i32(b.len() as i32);
    out.extend_from_slice(b);
}

/// Encode a key.
pub fn encode_key(key: &RecordKey) -> Vec<u8> {
    let mut out = Vec::new();
    match key {
        RecordKey::Offset {
            group,
            topic,
            partition,
        } => {
            out.put_i16(1);
            put_str(&mut out, group);
            put_str(&mut out, topic);
            out.put_i32(*partition);
        }
        RecordKey::Group { group } => {
            out.put_i16(2);
            put_str(&mut out, group);
        }
        RecordKey::ConsumerGroup { group } => {
            out.put_i16(CONSUMER_GROUP_KEY_VERSION);
            put_str(&mut out, group);
        }
    }
    out
}

/// Encode a committed offset (value version 3).
pub fn encode_offset(v: &OffsetValue) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_i16(3);
    out.put_i64(v.offset);
    out.put_i32(v.leader_epoch);
    put_str(&mut out, &v.metadata);
    out.put_i64(v.commit_timestamp);
    out
}

/// Encode a classic group's metadata (value version 3).
pub fn encode_group(v: &GroupValue) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_i16(3);
    put_str(&mut out, &v.protocol_type);
    out.put_i32(v.generation);
    put_nullable_str(&mut out, v.protocol.as_deref());
    put_nullable_str(&mut out, v.leader.as_deref());
    out.put_i64(v.current_state_timestamp);
    out.put_i32(v.members.len() as i32);
    for m in &v.members {
        put_str(&mut out, &m.member_id);
        put_nullable_str(&mut out, m.instance_id.as_deref());
        put_str(&mut out, &m.client_id);
        put_str(&mut out, &m.client_host);
        out.put_i32(m.rebalance_timeout_ms);
        out.put_i32(m.session_timeout_ms);
        put_bytes(&mut out, &m.subscription);
        put_bytes(&mut out, &m.assignment);
    }
    out
}

/// A bounded reader over a record's bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if n > self.buf.len() {
            return Err(RecordError(format!(
                "needs {n} bytes, {} left",
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().unwrap_or([0; 2]),
        ))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or([0; 4]),
        ))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().unwrap_or([0; 8]),
        ))
    }
    fn nullable_str(&mut self) -> Result<Option<String>, RecordError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let b = self.take(len as usize)?;
        String::from_utf8(b.to_vec())
            .map(Some)
            .map_err(|_| RecordError("string is not UTF-8".into()))
    }
    fn str(&mut self) -> Result<String, RecordError> {
        self.nullable_str()?
            .ok_or_else(|| RecordError("null where a string is required".into()))
    }
    fn bytes(&mut self) -> Result<Bytes, RecordError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(Bytes::new());
        }
        Ok(Bytes::copy_from_slice(self.take(len as usize)?))
    }
}

/// Decode a key. Unknown key versions (e.g. KIP-848 or transaction records written by a newer
/// broker) are `Ok(None)`: skipped, as Kafka skips record types it does not know.
pub fn decode_key(buf: &[u8]) -> Result<Option<RecordKey>, RecordError> {
    let mut r = Reader { buf };
    match r.i16()? {
        0 | 1 => Ok(Some(RecordKey::Offset {
            group: r.str()?,
            topic: r.str()?,
            partition: r.i32()?,
        })),
        2 => Ok(Some(RecordKey::Group { group: r.str()? })),
        CONSUMER_GROUP_KEY_VERSION => Ok(Some(RecordKey::ConsumerGroup { group: r.str()? })),
        _ => Ok(None),
    }
}

/// Decode an offset value (versions 0–3).
pub fn decode_offset(buf: &[u8]) -> Result<OffsetValue, RecordError> {
    let mut r = Reader { buf };
    let version = r.i16()?;
    if !(0..=3).contains(&version) {
        return Err(RecordError(format!(
            "offset value version {version} unknown"
        )));
    }
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.str()?;
    let commit_timestamp = r.i64()?;
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
    })
}

/// Decode a group metadata value (version 3; versions 0–2 lack fields and are rejected).
pub fn decode_group(buf: &[u8]) -> Result<GroupValue, RecordError> {
    let mut r = Reader { buf };
    let version = r.i16()?;
    if version != 3 {
        return Err(RecordError(format!(
            "group value version {version} not supported"
        )));
    }
    let protocol_type = r.str()?;
    let generation = r.i32()?;
    let protocol = r.nullable_str()?;
    let leader = r.nullable_str()?;
    let current_state_timestamp = r.i64()?;
    let count = r.i32()?;
    if count < 0 || count as usize > r.buf.len() {
        return Err(RecordError(format!("member count {count} is implausible")));
    }
    let mut members = Vec::with_capacity(count as usize);
    for _ in 0..count {
        members.push(StoredMember {
            member_id: r.str()?,
            instance_id: r.nullable_str()?,
            client_id: r.str()?,
            client_host: r.str()?,
            rebalance_timeout_ms: r.i32()?,
            session_timeout_ms: r.i32()?,
            subscription: r.bytes()?,
            assignment: r.bytes()?,
        });
    }
    Ok(GroupValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp,
        members,
    })
}

/// The `__consumer_offsets` partition of a group: `abs(javaHashCode(group)) % partitions`, as
/// Kafka computes it (so the same group maps to the same partition on both brokers). The
/// runtime's function, re-exported.
pub use weir_coordinator::partition_for;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let k = RecordKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 7,
        };
        assert_eq!(decode_key(&encode_key(&k)).unwrap(), Some(k));
        let g = RecordKey::Group { group: "g".into() };
        assert_eq!(decode_key(&encode_key(&g)).unwrap(), Some(g));
        let c = RecordKey::ConsumerGroup { group: "c".into() };
        assert_eq!(decode_key(&encode_key(&c)).unwrap(), Some(c));
        let o = OffsetValue {
            offset: 42,
            leader_epoch: 3,
            metadata: "m".into(),
            commit_timestamp: 1000,
        };
        assert_eq!(decode_offset(&encode_offset(&o)).unwrap(), o);
        let v = GroupValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: Some("a".into()),
            current_state_timestamp: 9,
            members: vec![StoredMember {
                member_id: "a".into(),
                instance_id: None,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 1,
                session_timeout_ms: 2,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        assert_eq!(decode_group(&encode_group(&v)).unwrap(), v);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let _ = decode_key(&junk);
            let _ = decode_offset(&junk);
            let _ = decode_group(&junk);
        }
        assert!(decode_group(&[0, 3, 0, 1, b'x', 0, 0, 0, 1, 255, 255, 255, 255]).is_err());
        assert_eq!(decode_key(&[0, 9, 0, 0]).unwrap(), None);
    }

    #[test]
    fn partition_matches_java_hash_code() {
        // "test-group".hashCode() == 627841412 in Java; % 50 == 12.
        assert_eq!(partition_for("test-group", 50), 12);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE: Utils.abs maps it to 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("", 50), 0);
    }
}
