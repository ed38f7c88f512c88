//! The runtime shared by Weir's coordinators that keep their state in an internal compacted
//! topic (the group coordinator in `__consumer_offsets` now; transaction and share coordinators
//! later), modelled on Kafka 4.x's `coordinator-common` module:
//!
//! * a coordinator's state is split into one [`Shard`] per partition of its topic (Kafka's
//!   `CoordinatorShard`); this node holds the shards of the partitions it leads;
//! * a shard is loaded by replaying its partition ([`PartitionReader`]) when this node becomes
//!   the partition's leader, and dropped when it stops leading it
//!   ([`CoordinatorRuntime::sync_ownership`]);
//! * a state change is "compute, write the records, then install" ([`CoordinatorRuntime::write`]):
//!   the records are appended by the partition's leader through a [`PartitionWriter`] and only
//!   once they are durable is the change made visible and acknowledged;
//! * write failures are mapped once, here, to the errors a coordinator's clients get
//!   ([`CoordinatorError`], Kafka's `CoordinatorRuntime.normalizeException`).
//!
//! The runtime knows nothing about the broker: the broker implements [`PartitionWriter`] and
//! [`PartitionReader`] and tells the runtime which partitions it leads.

#![deny(missing_docs)]

mod error;
mod io;
mod partition;
mod runtime;
pub mod testing;

pub use error::{CoordinatorError, ReadError, WriteError};
pub use io::{
    BoxFuture, PartitionReader, PartitionWriter, Record, RecordVisitor, ReplayItem, Shard,
    TxnProducer,
};
pub use partition::partition_for;
pub use runtime::{CoordinatorRuntime, OwnershipChange};
pub use weir_log::{Clock, ManualClock, SystemClock};

#[cfg(test)]
mod runtime_tests;
#[cfg(test)]
mod runtime_txn_tests;
