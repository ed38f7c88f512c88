//! Per-topic storage configuration with Kafka's names and defaults.

use crate::LogError;

/// `message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    CreateTime,
    /// Overwrite the batch max timestamp with the broker's append time.
    LogAppendTime,
}

/// `cleanup.policy`: `delete`, `compact`, `compact,delete`, or (Kafka 4.x) the empty list: neither
/// time/size retention nor compaction; only segments below the log start offset (DeleteRecords)
/// are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// Old segments are deleted by time/size retention.
    pub delete: bool,
    /// The cleaner keeps the latest record per key.
    pub compact: bool,
}

impl CleanupPolicy {
    fn render(&self) -> String {
        match (self.compact, self.delete) {
            (true, true) => "compact,delete".into(),
            (true, false) => "compact".into(),
            (false, true) => "delete".into(),
            (false, false) => String::new(),
        }
    }
}

/// Per-topic storage configuration, Kafka names and Kafka defaults, except `flush.messages`, which
/// defaults to 1: Weir is durable by default (Kafka's default is Long.MAX_VALUE, relying on
/// replication).
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
    /// `flush.messages`: 1 (Weir's default) = every append is fsynced (group commit) before it is
    /// acknowledged; larger = page-cache durability, flushed after this many messages or `flush.ms`.
    pub flush_messages: u64,
    /// `flush.ms` (default i64::MAX): flush at least this often.
    pub flush_ms: i64,
    /// `file.delete.delay.ms` (default 60000); accepted and reported, deletion is immediate.
    pub file_delete_delay_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy {
                delete: true,
                compact: false,
            },
            delete_retention_ms: 24 * 3600 * 1000,
            min_compaction_lag_ms: 0,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            flush_messages: 1,
            flush_ms: i64::MAX,
            file_delete_delay_ms: 60_000,
        }
    }
}

/// The storage configs [`LogConfig::set`] understands.
const KEYS: &[&str] = &[
    "segment.bytes",
    "segment.ms",
    "segment.index.bytes",
    "index.interval.bytes",
    "retention.ms",
    "retention.bytes",
    "cleanup.policy",
    "delete.retention.ms",
    "min.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.type",
    "flush.messages",
    "flush.ms",
    "file.delete.delay.ms",
];

fn invalid(key: &str, value: &str, reason: &str) -> LogError {
    LogError::InvalidConfig {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn parse_i64(key: &str, value: &str, min: i64) -> Result<i64, LogError> {
    let v: i64 = value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "not an integer"))?;
    if v < min {
        return Err(invalid(key, value, &format!("must be >= {min}")));
    }
    Ok(v)
}

impl LogConfig {
    /// Parse and apply one Kafka topic config (`retention.ms`, `segment.bytes`, ...). Values are
    /// validated with Kafka's bounds; on error nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), LogError> {
        match key {
            "segment.bytes" => self.segment_bytes = parse_i64(key, value, 14)? as u64,
            "segment.ms" => self.segment_ms = parse_i64(key, value, 1)?,
            "segment.index.bytes" => self.segment_index_bytes = parse_i64(key, value, 4096)? as u64,
            "index.interval.bytes" => self.index_interval_bytes = parse_i64(key, value, 0)? as u64,
            "retention.ms" => self.retention_ms = parse_i64(key, value, -1)?,
            "retention.bytes" => self.retention_bytes = parse_i64(key, value, -1)?,
            "delete.retention.ms" => self.delete_retention_ms = parse_i64(key, value, 0)?,
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = parse_i64(key, value, 0)?,
            "max.message.bytes" => {
                let v = parse_i64(key, value, 0)?;
                self.max_message_bytes =
                    u32::try_from(v).map_err(|_| invalid(key, value, "too large"))?;
            }
            "flush.messages" => self.flush_messages = parse_i64(key, value, 1)? as u64,
            "flush.ms" => self.flush_ms = parse_i64(key, value, 0)?,
            "file.delete.delay.ms" => self.file_delete_delay_ms = parse_i64(key, value, 0)?,
            "message.timestamp.type" => {
                self.message_timestamp_type = match value.trim() {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(invalid(key, value, "must be CreateTime or LogAppendTime")),
                }
            }
            "cleanup.policy" => {
                let mut policy = CleanupPolicy {
                    delete: false,
                    compact: false,
                };
                // A list config: the empty (or blank) value is the empty list, as Kafka 4.x
                // accepts; an empty item inside a non-empty list is refused.
                let parts = Some(value.trim())
                    .filter(|v| !v.is_empty())
                    .into_iter()
                    .flat_map(|v| v.split(',').map(str::trim));
                for part in parts {
                    match part {
                        "delete" => policy.delete = true,
                        "compact" => policy.compact = true,
                        _ => return Err(invalid(key, value, "must be delete, compact or both")),
                    }
                }
                self.cleanup_policy = policy;
            }
            _ => return Err(invalid(key, value, "unknown storage config")),
        }
        Ok(())
    }

    /// True when `key` is a storage config handled by [`LogConfig::set`].
    pub fn is_log_config(key: &str) -> bool {
        KEYS.contains(&key)
    }

    /// Every storage config as (Kafka name, current value), for DescribeConfigs.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let ts = match self.message_timestamp_type {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        };
        vec![
            ("segment.bytes", self.segment_bytes.to_string()),
            ("segment.ms", self.segment_ms.to_string()),
            ("segment.index.bytes", self.segment_index_bytes.to_string()),
            (
                "index.interval.bytes",
                self.index_interval_bytes.to_string(),
            ),
            ("retention.ms", self.retention_ms.to_string()),
            ("retention.bytes", self.retention_bytes.to_string()),
            ("cleanup.policy", self.cleanup_policy.render()),
            ("delete.retention.ms", self.delete_retention_ms.to_string()),
            (
                "min.compaction.lag.ms",
                self.min_compaction_lag_ms.to_string(),
            ),
            ("max.message.bytes", self.max_message_bytes.to_string()),
            ("message.timestamp.type", ts.to_string()),
            ("flush.messages", self.flush_messages.to_string()),
            ("flush.ms", self.flush_ms.to_string()),
            (
                "file.delete.delay.ms",
                self.file_delete_delay_ms.to_string(),
            ),
        ]
    }

    /// True when appends must wait for fsync before being acknowledged (`flush.messages` <= 1).
    pub fn durable_acks(&self) -> bool {
        self.flush_messages <= 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_entries_round_trip() {
        let mut c = LogConfig::default();
        c.set("retention.ms", "86400000").unwrap();
        c.set("cleanup.policy", "compact,delete").unwrap();
        c.set("message.timestamp.type", "LogAppendTime").unwrap();
        let e = c.entries();
        let get = |k: &str| e.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        assert_eq!(get("retention.ms"), "86400000");
        assert_eq!(get("cleanup.policy"), "compact,delete");
        let mut d = LogConfig::default();
        for (k, v) in &e {
            d.set(k, v).unwrap();
        }
        assert_eq!(c, d);
    }

    #[test]
    fn bad_values_are_rejected_and_leave_config_unchanged() {
        let mut c = LogConfig::default();
        assert!(c.set("retention.ms", "soon").is_err());
        assert!(c.set("segment.bytes", "1").is_err());
        assert!(c.set("cleanup.policy", "archive").is_err());
        assert!(c.set("cleanup.policy", "delete,").is_err());
        assert!(c.set("no.such.config", "1").is_err());
        assert_eq!(c, LogConfig::default());
    }

    #[test]
    fn empty_cleanup_policy_means_neither_deletion_nor_compaction() {
        let mut c = LogConfig::default();
        let none = CleanupPolicy {
            delete: false,
            compact: false,
        };
        c.set("cleanup.policy", "").unwrap();
        assert_eq!(c.cleanup_policy, none);
        let rendered = c.entries();
        let policy = &rendered
            .iter()
            .find(|(k, _)| *k == "cleanup.policy")
            .unwrap()
            .1;
        assert_eq!(policy, "", "rendered as the empty list");
        let mut d = LogConfig::default();
        d.set("cleanup.policy", policy).unwrap();
        assert_eq!(d.cleanup_policy, none, "the rendering parses back");
        c.set("cleanup.policy", "compact").unwrap();
        c.set("cleanup.policy", " ").unwrap();
        assert_eq!(c.cleanup_policy, none, "blank is the empty list too");
    }
}
