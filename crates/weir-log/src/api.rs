//! CONTRACT STUB — the weir-log helper replaces these `todo!()` bodies with real modules
//! (segment.rs, index.rs, time_index.rs, checkpoint.rs, recovery.rs, cleaner.rs, ...), keeping
//! every public name and signature below (adding more is fine). Delete this file when done and
//! re-export from the real modules in lib.rs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

/// Injected time source (milliseconds since the Unix epoch) so rolling and retention are testable.
pub trait Clock: Send + Sync + 'static {
    /// Current time in ms since the epoch.
    fn now_ms(&self) -> i64;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock reading `ms`.
    pub fn new(ms: i64) -> Self {
        Self(AtomicI64::new(ms))
    }
    /// Move the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// `message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    CreateTime,
    /// Overwrite the batch max timestamp with the broker's append time.
    LogAppendTime,
}

/// `cleanup.policy`: `delete`, `compact` or `compact,delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// Old segments are deleted by time/size retention.
    pub delete: bool,
    /// The cleaner keeps the latest record per key.
    pub compact: bool,
}

/// Per-topic storage configuration, Kafka names and Kafka defaults (except `flush.messages`,
/// which defaults to 1: Weir is durable by default).
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes` (default 1 GiB).
    pub segment_bytes: u64,
    /// `segment.ms` (default 7 days).
    pub segment_ms: i64,
    /// `segment.index.bytes` (default 10 MiB).
    pub segment_index_bytes: u64,
    /// `index.interval.bytes` (default 4096).
    pub index_interval_bytes: u64,
    /// `retention.ms` (default 7 days; -1 = forever).
    pub retention_ms: i64,
    /// `retention.bytes` (default -1 = unlimited).
    pub retention_bytes: i64,
    /// `cleanup.policy` (default delete).
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms` (default 1 day): how long tombstones survive compaction.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms` (default 0).
    pub min_compaction_lag_ms: i64,
    /// `max.message.bytes` (default 1048588): largest batch accepted.
    pub max_message_bytes: u32,
    /// `message.timestamp.type` (default CreateTime).
    pub message_timestamp_type: TimestampType,
    /// `flush.messages`: 1 (Weir's default) = every append is fsynced (group commit) before it
    /// is acknowledged; larger = page-cache durability, flushed after this many messages.
    pub flush_messages: u64,
    /// `flush.ms` (default i64::MAX): flush at least this often.
    pub flush_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        todo!()
    }
}

impl LogConfig {
    /// Parse and apply one Kafka topic config (`retention.ms`, `segment.bytes`, ...).
    pub fn set(&mut self, _key: &str, _value: &str) -> Result<(), LogError> {
        todo!()
    }
    /// True when `key` is a storage config handled by [`LogConfig::set`].
    pub fn is_log_config(_key: &str) -> bool {
        todo!()
    }
    /// Every storage config as (Kafka name, current value), for DescribeConfigs.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        todo!()
    }
    /// True when appends must wait for fsync before being acknowledged (`flush.messages` <= 1).
    pub fn durable_acks(&self) -> bool {
        self.flush_messages <= 1
    }
}

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

/// Storage errors; the broker maps each to a Kafka error code in one place.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Bad CRC, bad length, truncated batch → CORRUPT_MESSAGE (2).
    #[error("corrupt message: {0}")]
    CorruptMessage(String),
    /// Structurally valid but unacceptable batch (count mismatch, magic != 2, ...) →
    /// INVALID_RECORD (87).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Batch larger than `max.message.bytes` → MESSAGE_TOO_LARGE (10).
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge {
        /// Batch size.
        size: usize,
        /// Limit.
        max: u32,
    },
    /// Offset outside [log start, log end] → OFFSET_OUT_OF_RANGE (1).
    #[error("offset {offset} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// Requested.
        offset: i64,
        /// Log start offset.
        log_start: i64,
        /// Log end offset.
        log_end: i64,
    },
    /// Unknown key or unparsable value → INVALID_CONFIG (40).
    #[error("invalid config {key}={value}: {reason}")]
    InvalidConfig {
        /// Config name.
        key: String,
        /// Offending value.
        value: String,
        /// Why.
        reason: String,
    },
    /// The partition was deleted → UNKNOWN_TOPIC_OR_PARTITION (3).
    #[error("partition {0} is deleted")]
    Deleted(String),
    /// Disk failure → KAFKA_STORAGE_ERROR (56). Nothing is acknowledged after one.
    #[error("storage i/o error: {0}")]
    Io(#[from] std::io::Error),
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
    /// Read the slice into memory.
    pub fn to_bytes(&self) -> Result<Bytes, LogError> {
        todo!()
    }
}

/// Result of a read by offset.
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// Whole batches starting at the batch that contains the requested offset.
    pub records: FileSlice,
    /// Log start offset at read time.
    pub log_start_offset: i64,
    /// High watermark at read time.
    pub high_watermark: i64,
    /// Log end offset at read time.
    pub log_end_offset: i64,
}

/// Opaque position in the group-commit sequence; durable once the flusher has passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurabilityTicket(pub u64);

/// Result of a leader append.
#[derive(Debug, Clone)]
pub struct AppendResult {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Broker append time when `LogAppendTime`, else -1.
    pub log_append_time: i64,
    /// Log start offset after the append.
    pub log_start_offset: i64,
    /// `Some` when the append must be awaited with [`LogManager::wait_durable`] before acking.
    pub durable: Option<DurabilityTicket>,
}

/// One partition's log. All methods take `&self` (internally locked).
#[derive(Debug)]
pub struct PartitionLog {
    _private: (),
}

impl PartitionLog {
    /// Validate and append one or more v2 record batches (a Produce `records` field), assigning
    /// offsets by rewriting base offsets. Nothing is stored if any batch is invalid.
    pub fn append(&self, _records: &[u8]) -> Result<AppendResult, LogError> {
        todo!()
    }
    /// Read whole batches from the one containing `offset`, at most `max_bytes` but at least one
    /// batch, never past `max_offset` (exclusive; the high watermark for consumers).
    pub fn read(
        &self,
        _offset: i64,
        _max_bytes: usize,
        _max_offset: i64,
    ) -> Result<ReadResult, LogError> {
        todo!()
    }
    /// First offset whose timestamp is >= `timestamp`, with that timestamp; None if none.
    pub fn offset_for_timestamp(&self, _timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        todo!()
    }
    /// (max timestamp, its offset) over the whole log; None when empty.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        todo!()
    }
    /// Log start offset.
    pub fn log_start_offset(&self) -> i64 {
        todo!()
    }
    /// Log end offset (next offset to assign).
    pub fn log_end_offset(&self) -> i64 {
        todo!()
    }
    /// High watermark (set by the owner).
    pub fn high_watermark(&self) -> i64 {
        todo!()
    }
    /// Set the high watermark (clamped to [log start, LEO]).
    pub fn set_high_watermark(&self, _hw: i64) {
        todo!()
    }
    /// Offset up to which data is known flushed.
    pub fn recovery_point(&self) -> i64 {
        todo!()
    }
    /// Remove every record at or above `offset` (replication truncation).
    pub fn truncate_to(&self, _offset: i64) -> Result<(), LogError> {
        todo!()
    }
    /// DeleteRecords: move the log start offset to `offset` (<= high watermark), deleting whole
    /// segments below it. Returns the new log start offset.
    pub fn delete_records_before(&self, _offset: i64) -> Result<i64, LogError> {
        todo!()
    }
    /// Apply a changed config to the open log (takes effect on the next append/maintenance).
    pub fn update_config(&self, _config: LogConfig) {
        todo!()
    }
    /// Current config.
    pub fn config(&self) -> LogConfig {
        todo!()
    }
    /// Total bytes in all segments.
    pub fn size_bytes(&self) -> u64 {
        todo!()
    }
}

/// Owns one log directory: partitions, checkpoints, clean-shutdown marker, group commit.
#[derive(Debug)]
pub struct LogManager {
    _private: (),
}

impl LogManager {
    /// Open (creating if needed) `log_dir`. Partition directories found there are opened lazily
    /// by [`LogManager::get_or_create`]; recovery runs if the last shutdown was unclean.
    pub fn open(_log_dir: &Path, _clock: Arc<dyn Clock>) -> Result<Arc<LogManager>, LogError> {
        todo!()
    }
    /// The directory.
    pub fn log_dir(&self) -> PathBuf {
        todo!()
    }
    /// Partitions that have a directory on disk.
    pub fn partitions_on_disk(&self) -> Vec<TopicPartition> {
        todo!()
    }
    /// Open the partition's log (recovering it if needed), creating it when absent.
    pub fn get_or_create(
        &self,
        _tp: &TopicPartition,
        _config: LogConfig,
    ) -> Result<Arc<PartitionLog>, LogError> {
        todo!()
    }
    /// An already-open partition log.
    pub fn get(&self, _tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        todo!()
    }
    /// Delete a partition's log and directory.
    pub fn delete(&self, _tp: &TopicPartition) -> Result<(), LogError> {
        todo!()
    }
    /// Block until `ticket` is on stable storage (error if the fsync failed).
    pub fn wait_durable(&self, _ticket: DurabilityTicket) -> Result<(), LogError> {
        todo!()
    }
    /// Async form of [`LogManager::wait_durable`].
    pub async fn wait_durable_async(&self, _ticket: DurabilityTicket) -> Result<(), LogError> {
        todo!()
    }
    /// Periodic work: roll by `segment.ms`, retention, compaction, `flush.ms` flushes, and
    /// checkpoint writes. Call every few seconds.
    pub fn run_maintenance(&self) -> Result<(), LogError> {
        todo!()
    }
    /// Write all checkpoint files now.
    pub fn checkpoint(&self) -> Result<(), LogError> {
        todo!()
    }
    /// Flush everything, write checkpoints and the clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), LogError> {
        todo!()
    }
}
