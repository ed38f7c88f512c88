//! weir-log: partition logs stored exactly in Kafka's on-disk layout.
//!
//! * [`LogManager`] owns one log directory: partition logs, the checkpoint files, the
//!   clean-shutdown marker and the group-commit flusher.
//! * [`PartitionLog`] is one partition: validated appends with offset assignment, reads by offset
//!   or timestamp, truncation, DeleteRecords, retention, and the follower side of replication
//!   (appends copied from the leader, the leader-epoch cache, truncation to a divergence point).
//! * [`LogConfig`] holds the per-topic storage configs with Kafka names and defaults.
//! * Time comes from an injected [`Clock`], so rolling and retention are deterministic in tests.
//!
//! Durability: with `flush.messages` = 1 (the default) an append returns a ticket and the caller
//! acknowledges only after [`LogManager::wait_durable`] (group commit: one fdatasync covers every
//! partition's writes since the previous one).

pub mod batch;
pub mod checkpoint;
mod cleaner;
mod clock;
mod config;
mod error;
mod group_commit;
pub mod index;
mod log_manager;
mod partition_log;
pub mod producer_state;
pub mod records;
pub mod segment;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CleanupPolicy, LogConfig, TimestampType};
pub use error::LogError;
pub use group_commit::DurabilityTicket;
pub use log_manager::{LogManager, CLEAN_SHUTDOWN_FILE};
pub use partition_log::{AppendResult, PartitionLog, ReadResult, ReplicaAppend};

/// A topic partition; its directory is `<topic>-<partition>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// `(topic, partition)`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
    /// `<topic>-<partition>`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

/// A byte range of whole record batches inside a segment file (send without copying).
#[derive(Debug, Clone)]
pub struct FileSlice {
    /// The segment's `.log` file (stays readable even if the segment is deleted meanwhile).
    pub file: Arc<File>,
    /// Start position in the file.
    pub position: u64,
    /// Length in bytes (0 = nothing to read).
    pub len: usize,
}

impl FileSlice {
    /// Read the slice into memory (one copy).
    pub fn to_bytes(&self) -> Result<Bytes, LogError> {
        let mut buf = vec![0u8; self.len];
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(Bytes::from(buf))
    }
}
