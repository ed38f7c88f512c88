//! What the runtime needs from the outside: a writer and a reader of the coordinator's topic,
//! and the coordinator's per-partition state.

use crate::error::{ReadError, WriteError};

/// One record of the coordinator's topic: a key and a value, `None` being a tombstone (the key's
/// state is deleted; compaction eventually removes the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record key (the coordinator's own encoding).
    pub key: Vec<u8>,
    /// The record value; `None` = tombstone.
    pub value: Option<Vec<u8>>,
}

/// A boxed, sendable future (the return type of [`PartitionWriter`]'s methods, so the trait
/// stays object-safe).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Appends to the coordinator's topic as the partition's leader (implemented by the broker).
pub trait PartitionWriter: Send + Sync + 'static {
    /// Append `records` to `partition` of the topic as its leader at `leader_epoch`; resolves
    /// once they are durable here and on the ISR. Must fail with [`WriteError::NotLeader`] when
    /// this node does not lead the partition at `leader_epoch`, so nothing is acknowledged that
    /// the partition's real leader never got.
    fn append(
        &self,
        partition: i32,
        leader_epoch: i32,
        records: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), WriteError>>;

    /// Create the coordinator's topic if it does not exist; resolves with its partition count
    /// once this node's ownership has been synced with it
    /// ([`crate::CoordinatorRuntime::sync_ownership`] has seen the topic).
    fn ensure_topic(&self) -> BoxFuture<'_, Result<i32, WriteError>>;

    /// Append `records` to `partition` as ONE transactional batch of producer `producer_id` at
    /// `producer_epoch` (attributes 0x10, base sequence -1, as Kafka's coordinators write
    /// TxnOffsetCommit records), with the same leadership and durability guarantees as
    /// [`PartitionWriter::append`]. The records stay pending until a COMMIT or ABORT marker of
    /// that producer follows them in the partition. A stale `producer_epoch` must be refused
    /// (INVALID_PRODUCER_EPOCH / PRODUCER_FENCED as [`WriteError::Other`]). The default refuses
    /// every call with [`WriteError::Unsupported`], so writers of coordinators that never write
    /// transactionally need not implement it.
    fn append_transactional(
        &self,
        partition: i32,
        leader_epoch: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        let _ = (leader_epoch, producer_id, producer_epoch, records);
        Box::pin(async move {
            Err(WriteError::Unsupported(format!(
                "this writer cannot append transactional batches (partition {partition})"
            )))
        })
    }
}

/// The producer of a transactional batch: (producer id, producer epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnProducer {
    /// The producer id of the batch.
    pub producer_id: i64,
    /// The producer epoch of the batch.
    pub producer_epoch: i16,
}

/// One item of a partition as [`PartitionReader::replay`] reports it, in log order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayItem<'a> {
    /// A data record (key, value-or-tombstone); `txn` is `Some` when it came from a
    /// transactional batch (it takes effect only once a COMMIT marker of that producer follows).
    Record {
        /// The record key.
        key: &'a [u8],
        /// The record value; `None` = tombstone.
        value: Option<&'a [u8]>,
        /// The producer of the transactional batch it came from; `None` for ordinary batches.
        txn: Option<TxnProducer>,
    },
    /// A control batch: the COMMIT (`commit` = true) or ABORT marker ending the transaction of
    /// `producer_id` in this partition.
    Marker {
        /// The producer whose transaction ends.
        producer_id: i64,
        /// The marker's producer epoch.
        producer_epoch: i16,
        /// True for COMMIT, false for ABORT.
        commit: bool,
    },
}

/// What [`PartitionReader::replay`] feeds each item of the partition to.
pub type RecordVisitor<'a> = dyn FnMut(ReplayItem<'_>) + 'a;

/// Reads the coordinator's topic to load a shard (implemented by the broker).
pub trait PartitionReader: Send + Sync + 'static {
    /// Feed every record of `partition` (log start to log end, in offset order) to `f` as
    /// [`ReplayItem::Record`] (with its producer when it came from a transactional batch), and
    /// every transaction marker as [`ReplayItem::Marker`], in log order; returns how many data
    /// records. Called synchronously while loading. Fails
    /// (the load is retried at the next ownership sync) when the partition cannot be read, e.g.
    /// it has no local log yet.
    fn replay(&self, partition: i32, f: &mut RecordVisitor<'_>) -> Result<usize, ReadError>;
}

/// A coordinator's state for ONE partition of its topic (Kafka's `CoordinatorShard`). The
/// runtime creates a fresh shard per load, feeds it the partition's records, and serialises all
/// access to it.
pub trait Shard: Send + 'static {
    /// Apply one record of the partition (later records win; `None` is a tombstone). `now` is
    /// the runtime clock's time at the start of the load.
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, now: i64);

    /// Apply one record of a transactional batch of `producer_id` / `producer_epoch`: it must
    /// not take effect before a COMMIT marker of that producer ([`Shard::replay_marker`]).
    /// Default: ignored — a shard that never writes transactionally never finds such records in
    /// its own topic, and ignoring them never applies data of a transaction that may abort.
    fn replay_transactional(
        &mut self,
        _producer_id: i64,
        _producer_epoch: i16,
        _key: &[u8],
        _value: Option<&[u8]>,
        _now: i64,
    ) {
    }

    /// Apply a COMMIT (`commit` = true) or ABORT marker ending `producer_id`'s transaction in
    /// this partition: what [`Shard::replay_transactional`] staged for it takes effect or is
    /// dropped. Default: nothing.
    fn replay_marker(&mut self, _producer_id: i64, _commit: bool, _now: i64) {}

    /// Called once after the last record of a load, before the shard is served (e.g. to drop
    /// state that only tombstones left behind). Default: nothing.
    fn loaded(&mut self, _now: i64) {}
}
