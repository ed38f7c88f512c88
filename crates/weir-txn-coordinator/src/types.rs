//! Plain values shared by every part of the coordinator: partitions, producer identities,
//! transaction outcomes and versions.

/// "No producer id" (Kafka's `RecordBatch.NO_PRODUCER_ID`).
pub const NO_PRODUCER_ID: i64 = -1;

/// "No producer epoch" (Kafka's `RecordBatch.NO_PRODUCER_EPOCH`).
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// A topic partition taking part in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A producer id with its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
}

impl ProducerIdAndEpoch {
    /// A producer id with its epoch.
    pub fn new(producer_id: i64, epoch: i16) -> Self {
        ProducerIdAndEpoch { producer_id, epoch }
    }
}

/// How a transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnResult {
    /// Commit: the records become visible to read_committed consumers.
    Commit,
    /// Abort: the records are skipped by read_committed consumers.
    Abort,
}

impl TxnResult {
    /// `true` for a commit (the `Committed` field of EndTxn and WriteTxnMarkers).
    pub fn is_commit(self) -> bool {
        self == TxnResult::Commit
    }
}

/// The client's transaction version as stored (`ClientTransactionVersion`): 0 or 1 are the
/// original protocol (KIP-98), 2 is KIP-890's transaction version 2 (the epoch is bumped at the
/// end of every transaction; partitions are added by their leaders).
pub type TransactionVersion = i16;

/// Transaction version 2 (KIP-890).
pub const TV2: TransactionVersion = 2;

/// True when `version` bumps the epoch at every EndTxn (transaction version 2 and later).
pub fn supports_epoch_bump(version: TransactionVersion) -> bool {
    version >= TV2
}

/// True when no further epoch may be handed to a client for this producer id (Kafka's
/// `TransactionMetadata.isEpochExhausted`: `Short.MAX_VALUE - 1` and above; MAX_VALUE itself is
/// kept for the coordinator, so it can always fence the last client epoch).
pub fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}
