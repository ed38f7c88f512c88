//! weir-log: partition logs stored exactly in Kafka's on-disk layout.
//!
//! API CONTRACT (other crates build against these names; implementations may add, not rename):
//!
//! * [`Clock`] / [`SystemClock`] / [`ManualClock`] — injected time (ms since epoch).
//! * [`LogConfig`] — per-topic storage configs with Kafka names and defaults;
//!   `LogConfig::set(key, value)` parses one Kafka topic config (`segment.bytes`, `retention.ms`,
//!   ...), `LogConfig::is_log_config(key)` tells whether a key belongs here.
//! * [`TopicPartition`] — `(topic, partition)`; `dir_name()` is `<topic>-<partition>`.
//! * [`LogManager`] — owns one log dir: all partition logs, the checkpoint files, the
//!   clean-shutdown marker, the group-commit flusher, retention and compaction passes.
//! * [`PartitionLog`] — one partition: thread-safe (`&self`) append/read/offsets.
//! * [`DurabilityWaiter`] — wait (blocking or async) until an append's ticket is on disk.
//! * [`LogError`] — typed errors; `kafka_error_code()` is NOT here (the broker maps them).

mod api;
pub use api::*;
