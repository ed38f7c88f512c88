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
}

/// What [`PartitionReader::replay`] feeds each record to: (key, value-or-tombstone).
pub type RecordVisitor<'a> = dyn FnMut(&[u8], Option<&[u8]>) + 'a;

/// Reads the coordinator's topic to load a shard (implemented by the broker).
pub trait PartitionReader: Send + Sync + 'static {
    /// Feed every record of `partition` (log start to log end, in offset order) to `f` as
    /// (key, value-or-tombstone); returns how many. Called synchronously while loading. Fails
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

    /// Called once after the last record of a load, before the shard is served (e.g. to drop
    /// state that only tombstones left behind). Default: nothing.
    fn loaded(&mut self, _now: i64) {}
}
