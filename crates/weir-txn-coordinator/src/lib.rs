//! The transaction coordinator (KIP-98 transactions, KIP-360 producer recovery, KIP-890
//! transaction version 2), persisted in the compacted internal topic `__transaction_state` in
//! Kafka's record format, on the `weir-coordinator` runtime.
//!
//! A transactional id's coordinator is the leader of its `__transaction_state` partition
//! (`partition_for(transactional_id, transaction.state.log.num.partitions)`, Java's hash as
//! Kafka); the ids of one partition are one shard, loaded by replay when this broker becomes
//! its leader. Every operation is "decide, write the `TransactionLogValue`, then install"
//! under the id's gate ([`TxnCoordinator`]); the decisions are sans-IO functions of the
//! metadata and the time ([`metadata`], Kafka's state machine in [`TxnState`]).
//!
//! A transaction ends in two phases: EndTxn writes PrepareCommit / PrepareAbort and answers;
//! the broker's marker sender then takes the [`MarkerJob`]s
//! ([`TxnCoordinator::pending_marker_jobs`]), writes the markers through its
//! [`MarkerWriter`] and the coordinator records CompleteCommit / CompleteAbort
//! ([`TxnCoordinator::complete_marker_job`]). Transactions found in a Prepare state when a
//! partition is loaded are completed the same way, so a failover mid-transaction finishes it.
//!
//! Nothing here depends on the broker: storage through the runtime's [`PartitionWriter`] /
//! [`PartitionReader`], time through [`Clock`], producer ids through [`ProducerIdSource`], the
//! group partitioning through [`OffsetsPartitioner`], markers through [`MarkerWriter`].

#![deny(missing_docs)]

mod add;
mod config;
mod coordinator;
mod describe;
mod end;
mod error;
mod init;
mod io;
mod markers;
pub mod metadata;
pub mod records;
mod shard;
mod state;
mod timers;
mod types;

pub use config::TransactionConfig;
pub use coordinator::{TxnCoordinator, TxnServices};
pub use describe::{ListFilter, TransactionDescription, TransactionList, TransactionListing};
pub use error::TxnError;
pub use io::{
    marker_disposition, MarkerDisposition, MarkerJob, MarkerResult, MarkerWriter,
    OffsetsPartitioner, ProducerIdSource,
};
pub use markers::MarkerProgress;
pub use metadata::TxnMetadata;
pub use state::TxnState;
pub use timers::TickReport;
pub use types::{
    is_epoch_exhausted, supports_epoch_bump, ProducerIdAndEpoch, TopicPartition,
    TransactionVersion, TxnResult, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TV2,
};
pub use weir_coordinator::{
    partition_for, BoxFuture, Clock, CoordinatorError, ManualClock, OwnershipChange,
    PartitionReader, PartitionWriter, ReadError, Record, SystemClock, WriteError,
};

/// The name of the internal transaction state topic.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// The name of the internal offsets topic (AddOffsetsToTxn adds one of its partitions).
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[cfg(test)]
mod coordinator_tests;
#[cfg(test)]
mod markers_tests;
#[cfg(test)]
mod records_tests;
#[cfg(test)]
mod test_support;
