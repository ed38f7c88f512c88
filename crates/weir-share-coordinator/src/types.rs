//! The vocabulary shared by the share-partition state, its persistence and the broker: topic
//! ids, share-partition keys, persisted delivery states and state batches, acknowledge types.

use std::fmt;

/// A topic id (Kafka's `Uuid`, 16 bytes, most significant first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TopicId(pub [u8; 16]);

/// Kafka's `Uuid.toString()`: URL-safe base64 of the 16 bytes, without padding (22 chars).
impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::with_capacity(22);
        for chunk in self.0.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        f.write_str(&out)
    }
}

/// One share-partition: (group, topic id, partition) — Kafka's `SharePartitionKey`, the key
/// of its `__share_group_state` records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShareKey {
    /// The share group.
    pub group_id: String,
    /// The topic's id.
    pub topic_id: TopicId,
    /// The partition index.
    pub partition: i32,
}

impl ShareKey {
    /// A key.
    pub fn new(group_id: impl Into<String>, topic_id: TopicId, partition: i32) -> Self {
        ShareKey {
            group_id: group_id.into(),
            topic_id,
            partition,
        }
    }

    /// Kafka's `SharePartitionKey.asCoordinatorKey()`: `"group:topicId:partition"`, the string
    /// whose Java hash picks the `__share_group_state` partition (and FindCoordinator's key for
    /// the share coordinator).
    pub fn coordinator_key(&self) -> String {
        format!("{}:{}:{}", self.group_id, self.topic_id, self.partition)
    }
}

/// The delivery state of a record as persisted in a state batch. Kafka persists Available (0),
/// Acknowledged (2) and Archived (4) (Acquired (1) is transient and is never persisted).
/// [`DeliveryState::DeadLetterPending`] (3) is Weir's: a record archived by Reject or by the
/// delivery-count limit whose copy to the dead-letter topic is not confirmed yet (the id Kafka's
/// KIP-1191 discussion proposed for its ARCHIVING state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// 0: can be acquired.
    Available,
    /// 2: processed; never delivered again.
    Acknowledged,
    /// 4: never delivered again (rejected, delivery-count limit, gap, or copied to the DLQ).
    Archived,
    /// 3 (Weir): to be copied to the dead-letter topic, then Archived.
    DeadLetterPending,
}

impl DeliveryState {
    /// The persisted id.
    pub fn id(self) -> i8 {
        match self {
            DeliveryState::Available => 0,
            DeliveryState::Acknowledged => 2,
            DeliveryState::DeadLetterPending => 3,
            DeliveryState::Archived => 4,
        }
    }

    /// The state of a persisted id; `None` for Acquired (1) and unknown ids.
    pub fn from_id(id: i8) -> Option<Self> {
        match id {
            0 => Some(DeliveryState::Available),
            2 => Some(DeliveryState::Acknowledged),
            3 => Some(DeliveryState::DeadLetterPending),
            4 => Some(DeliveryState::Archived),
            _ => None,
        }
    }

    /// True when delivery of the record is complete (the start offset may move past it).
    pub fn is_complete(self) -> bool {
        matches!(self, DeliveryState::Acknowledged | DeliveryState::Archived)
    }
}

/// A range of records sharing a persisted state and delivery count (Kafka's `StateBatch` of
/// `ShareSnapshotValue` / `ShareUpdateValue` and of Read/WriteShareGroupState).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateBatch {
    /// First offset (inclusive).
    pub first_offset: i64,
    /// Last offset (inclusive).
    pub last_offset: i64,
    /// The records' state.
    pub state: DeliveryState,
    /// How many times the records were delivered (acquired).
    pub delivery_count: i16,
}

/// The acknowledge type of one offset (ShareFetch / ShareAcknowledge `AcknowledgeTypes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckType {
    /// 0: the offset is not a record the client got (compacted away, a control record); the
    /// offset is archived and never delivered (not a dead-letter candidate).
    Gap,
    /// 1: processed; Acknowledged.
    Accept,
    /// 2: not processed; Available again (delivery count kept), or archived at the
    /// delivery-count limit.
    Release,
    /// 3: unprocessable; archived (a dead-letter candidate when a DLQ is configured).
    Reject,
    /// 4 (KIP-1222): still processing; the acquisition lock restarts, the record stays Acquired.
    Renew,
}

impl AckType {
    /// The type of a wire byte; `None` for unknown values (INVALID_REQUEST).
    pub fn from_id(id: i8) -> Option<Self> {
        match id {
            0 => Some(AckType::Gap),
            1 => Some(AckType::Accept),
            2 => Some(AckType::Release),
            3 => Some(AckType::Reject),
            4 => Some(AckType::Renew),
            _ => None,
        }
    }

    /// The wire byte.
    pub fn id(self) -> i8 {
        match self {
            AckType::Gap => 0,
            AckType::Accept => 1,
            AckType::Release => 2,
            AckType::Reject => 3,
            AckType::Renew => 4,
        }
    }
}

/// One acknowledgement batch: `types` has one entry per offset of `first..=last`, or one entry
/// that applies to all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckBatch {
    /// First offset (inclusive).
    pub first_offset: i64,
    /// Last offset (inclusive).
    pub last_offset: i64,
    /// Acknowledge types.
    pub types: Vec<AckType>,
}

impl AckBatch {
    /// A batch acknowledging every offset of `first..=last` with `ack`.
    pub fn all(first_offset: i64, last_offset: i64, ack: AckType) -> Self {
        AckBatch {
            first_offset,
            last_offset,
            types: vec![ack],
        }
    }
}

/// Contiguous records acquired with the same delivery count (ShareFetch's `AcquiredRecords`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquiredRange {
    /// First offset (inclusive).
    pub first_offset: i64,
    /// Last offset (inclusive).
    pub last_offset: i64,
    /// The delivery count of these records, this delivery included (1 = first delivery).
    pub delivery_count: i16,
}

/// How `max_records` of a ShareFetch bounds an acquisition (KIP-1206 `share.acquire.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcquireMode {
    /// `batch_optimized` (default): at least `max_records` when available, completing the log
    /// batch the limit falls in (may exceed `max_records`).
    #[default]
    BatchOptimized,
    /// `record_limit`: never more than `max_records` records.
    RecordLimit,
}

/// Why a record became a dead-letter candidate (KIP-1191).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadLetterReason {
    /// A consumer rejected it (AckType::Reject).
    Rejected,
    /// It was released or its lock expired at `share.delivery.count.limit` deliveries.
    DeliveryCountExceeded,
}

/// A record to copy to the dead-letter topic (KIP-1191), offered by
/// [`crate::SharePartition::take_dead_letters`] until confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetterCandidate {
    /// The record's offset in the share-partition.
    pub offset: i64,
    /// How many times it was delivered.
    pub delivery_count: i16,
    /// Why it is a candidate; `None` when it was loaded from persisted state (the reason is not
    /// persisted).
    pub reason: Option<DeadLetterReason>,
    /// True when a copy may already exist in the dead-letter topic (the candidate was loaded
    /// from persisted state, so a previous leader may have copied it and failed before its
    /// confirmation was persisted): the broker must look for it there before copying (see
    /// [`crate::SharePartition`]'s dead-letter scheme).
    pub maybe_copied: bool,
}
