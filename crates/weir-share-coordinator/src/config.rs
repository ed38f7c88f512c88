//! Share group configs (KIP-932, KIP-1191, KIP-1206) with Kafka's names, defaults and bounds,
//! and the share coordinator's own settings.

use crate::error::ShareError;
use crate::share_partition::PartitionLimits;
use crate::types::AcquireMode;

/// `share.auto.offset.reset`: where a share-partition starts when it has no state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// `latest` (default): the log end offset.
    #[default]
    Latest,
    /// `earliest`: the log start offset.
    Earliest,
    /// `by_duration:<ISO-8601 duration>`: the first offset whose timestamp is at or after
    /// now minus this many ms.
    ByDuration(i64),
}

/// `share.isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// `read_uncommitted` (default): up to the high watermark.
    #[default]
    ReadUncommitted,
    /// `read_committed`: up to the last stable offset, aborted records skipped.
    ReadCommitted,
}

/// The broker-level bounds group configs are validated against (Kafka's
/// `group.share.min/max.*` broker configs, with their defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareConfigBounds {
    /// `group.share.min.record.lock.duration.ms` (1000) / `max` (3600000).
    pub record_lock_duration_ms: (i32, i32),
    /// `group.share.min.delivery.count.limit`-like bounds: 2..=10.
    pub delivery_count_limit: (i16, i16),
    /// Bounds of `share.partition.max.record.locks`: 100..=10000.
    pub partition_max_record_locks: (i32, i32),
    /// `group.share.min.session.timeout.ms` (45000) / `max` (60000).
    pub session_timeout_ms: (i32, i32),
    /// `group.share.min.heartbeat.interval.ms` (5000) / `max` (15000).
    pub heartbeat_interval_ms: (i32, i32),
}

impl Default for ShareConfigBounds {
    fn default() -> Self {
        ShareConfigBounds {
            record_lock_duration_ms: (1_000, 3_600_000),
            delivery_count_limit: (2, 10),
            partition_max_record_locks: (100, 10_000),
            session_timeout_ms: (45_000, 60_000),
            heartbeat_interval_ms: (5_000, 15_000),
        }
    }
}

/// A share group's configs (DescribeConfigs / IncrementalAlterConfigs of a GROUP resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupConfig {
    /// `share.auto.offset.reset` (latest).
    pub auto_offset_reset: AutoOffsetReset,
    /// `share.isolation.level` (read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `share.record.lock.duration.ms` (30000; broker `group.share.record.lock.duration.ms`).
    pub record_lock_duration_ms: i32,
    /// `share.delivery.count.limit` (5).
    pub delivery_count_limit: i16,
    /// `share.partition.max.record.locks` (2000): the in-flight window per share-partition.
    pub partition_max_record_locks: i32,
    /// `share.session.timeout.ms` (45000).
    pub session_timeout_ms: i32,
    /// `share.heartbeat.interval.ms` (5000).
    pub heartbeat_interval_ms: i32,
    /// `share.acquire.mode` (KIP-1206; batch_optimized). A Weir extension: in Kafka the mode
    /// is the consumer's (ShareFetch v2 `ShareAcquireMode`); record_limit here makes every
    /// fetch of the group strict, whatever its clients send.
    pub acquire_mode: AcquireMode,
    /// `share.renew.acknowledge.enable` (KIP-1222 / KIP-1240; true): Renew acknowledgements
    /// are accepted.
    pub renew_acknowledge_enable: bool,
    /// `errors.deadletterqueue.topic.name` (KIP-1191; unset = no DLQ).
    pub dlq_topic_name: Option<String>,
    /// `errors.deadletterqueue.copy.record.enable` (false): copy key and value to the DLQ, not
    /// only the headers naming the source record.
    pub dlq_copy_record_enable: bool,
}

impl Default for ShareGroupConfig {
    fn default() -> Self {
        ShareGroupConfig {
            auto_offset_reset: AutoOffsetReset::Latest,
            isolation_level: IsolationLevel::ReadUncommitted,
            record_lock_duration_ms: 30_000,
            delivery_count_limit: 5,
            partition_max_record_locks: 2_000,
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            acquire_mode: AcquireMode::BatchOptimized,
            renew_acknowledge_enable: true,
            dlq_topic_name: None,
            dlq_copy_record_enable: false,
        }
    }
}

/// The config names of a share group, as Kafka spells them.
pub const SHARE_GROUP_CONFIG_NAMES: [&str; 11] = [
    "share.auto.offset.reset",
    "share.isolation.level",
    "share.record.lock.duration.ms",
    "share.delivery.count.limit",
    "share.partition.max.record.locks",
    "share.session.timeout.ms",
    "share.heartbeat.interval.ms",
    "share.acquire.mode",
    "share.renew.acknowledge.enable",
    "errors.deadletterqueue.topic.name",
    "errors.deadletterqueue.copy.record.enable",
];

/// Kafka's message (`GroupConfig.validate`) for a DLQ topic name starting with `__`, the
/// prefix of internal topics.
pub const DLQ_NAME_RESERVED_MESSAGE: &str =
    "errors.deadletterqueue.topic.name: DLQ topic name must not start with '__'";

fn invalid(name: &str, value: &str, why: &str) -> ShareError {
    ShareError::InvalidConfig(format!("invalid value {value:?} for {name}: {why}"))
}

fn boolean(name: &str, value: &str) -> Result<bool, ShareError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(name, value, "true or false")),
    }
}

fn int<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    value: &str,
    (min, max): (T, T),
) -> Result<T, ShareError> {
    let v: T = value
        .trim()
        .parse()
        .map_err(|_| invalid(name, value, "not a number"))?;
    if v < min || v > max {
        return Err(invalid(name, value, &format!("must be in [{min}, {max}]")));
    }
    Ok(v)
}

impl ShareGroupConfig {
    /// `base` (the broker's defaults for share groups) with `pairs` applied, validated against
    /// `bounds`: INVALID_CONFIG for an unknown name, an unparsable or out-of-bounds value, a
    /// DLQ topic name starting with `__`, or a heartbeat interval not below the session
    /// timeout. As in Kafka 4.4 (`GroupConfig.validate`), the broker's
    /// `errors.deadletterqueue.topic.name.prefix` is not checked here: the dead-letter copier
    /// checks it when it writes (a record whose DLQ name lacks it is archived without a copy).
    pub fn parse(
        base: &ShareGroupConfig,
        pairs: &[(&str, &str)],
        bounds: &ShareConfigBounds,
    ) -> Result<ShareGroupConfig, ShareError> {
        let mut c = base.clone();
        for &(name, value) in pairs {
            match name {
                "share.auto.offset.reset" => c.auto_offset_reset = parse_reset(value)?,
                "share.isolation.level" => {
                    c.isolation_level = match value {
                        "read_uncommitted" => IsolationLevel::ReadUncommitted,
                        "read_committed" => IsolationLevel::ReadCommitted,
                        _ => {
                            return Err(invalid(name, value, "read_committed or read_uncommitted"))
                        }
                    }
                }
                "share.record.lock.duration.ms" => {
                    c.record_lock_duration_ms = int(name, value, bounds.record_lock_duration_ms)?
                }
                "share.delivery.count.limit" => {
                    c.delivery_count_limit = int(name, value, bounds.delivery_count_limit)?
                }
                "share.partition.max.record.locks" => {
                    c.partition_max_record_locks =
                        int(name, value, bounds.partition_max_record_locks)?
                }
                "share.session.timeout.ms" => {
                    c.session_timeout_ms = int(name, value, bounds.session_timeout_ms)?
                }
                "share.heartbeat.interval.ms" => {
                    c.heartbeat_interval_ms = int(name, value, bounds.heartbeat_interval_ms)?
                }
                "share.acquire.mode" => {
                    c.acquire_mode = match value {
                        "batch_optimized" => AcquireMode::BatchOptimized,
                        "record_limit" => AcquireMode::RecordLimit,
                        _ => return Err(invalid(name, value, "batch_optimized or record_limit")),
                    }
                }
                "share.renew.acknowledge.enable" => {
                    c.renew_acknowledge_enable = boolean(name, value)?
                }
                "errors.deadletterqueue.topic.name" => {
                    c.dlq_topic_name = match value.trim() {
                        "" => None,
                        t if t.starts_with("__") => {
                            return Err(ShareError::InvalidConfig(
                                DLQ_NAME_RESERVED_MESSAGE.to_string(),
                            ))
                        }
                        t => Some(t.to_string()),
                    }
                }
                "errors.deadletterqueue.copy.record.enable" => {
                    c.dlq_copy_record_enable = boolean(name, value)?
                }
                _ => {
                    return Err(ShareError::InvalidConfig(format!(
                        "unknown share group config {name}"
                    )))
                }
            }
        }
        if c.heartbeat_interval_ms >= c.session_timeout_ms {
            return Err(ShareError::InvalidConfig(format!(
                "share.heartbeat.interval.ms ({}) must be less than share.session.timeout.ms ({})",
                c.heartbeat_interval_ms, c.session_timeout_ms
            )));
        }
        Ok(c)
    }

    /// Every config as (name, value) (DescribeConfigs); an unset DLQ topic is "".
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let reset = match self.auto_offset_reset {
            AutoOffsetReset::Latest => "latest".to_string(),
            AutoOffsetReset::Earliest => "earliest".to_string(),
            AutoOffsetReset::ByDuration(ms) => {
                format!("by_duration:PT{}.{:03}S", ms / 1000, ms % 1000)
            }
        };
        let values = [
            reset,
            match self.isolation_level {
                IsolationLevel::ReadUncommitted => "read_uncommitted".into(),
                IsolationLevel::ReadCommitted => "read_committed".into(),
            },
            self.record_lock_duration_ms.to_string(),
            self.delivery_count_limit.to_string(),
            self.partition_max_record_locks.to_string(),
            self.session_timeout_ms.to_string(),
            self.heartbeat_interval_ms.to_string(),
            match self.acquire_mode {
                AcquireMode::BatchOptimized => "batch_optimized".into(),
                AcquireMode::RecordLimit => "record_limit".into(),
            },
            self.renew_acknowledge_enable.to_string(),
            self.dlq_topic_name.clone().unwrap_or_default(),
            self.dlq_copy_record_enable.to_string(),
        ];
        SHARE_GROUP_CONFIG_NAMES.into_iter().zip(values).collect()
    }

    /// The settings a [`crate::SharePartition`] operation takes.
    pub fn limits(&self) -> PartitionLimits {
        PartitionLimits {
            lock_duration_ms: i64::from(self.record_lock_duration_ms),
            delivery_count_limit: self.delivery_count_limit,
            max_in_flight: i64::from(self.partition_max_record_locks),
            dead_letter_enabled: self.dlq_topic_name.is_some(),
            renew_enabled: self.renew_acknowledge_enable,
        }
    }
}

/// Parse `share.auto.offset.reset`: `latest`, `earliest` or `by_duration:` + a non-negative
/// ISO-8601 duration `PnDTnHnMn.nS` (Java's `Duration.parse` subset Kafka accepts).
pub fn parse_reset(value: &str) -> Result<AutoOffsetReset, ShareError> {
    const NAME: &str = "share.auto.offset.reset";
    match value.trim() {
        "latest" => return Ok(AutoOffsetReset::Latest),
        "earliest" => return Ok(AutoOffsetReset::Earliest),
        _ => {}
    }
    let bad = || invalid(NAME, value, "latest, earliest or by_duration:PnDTnHnMn.nS");
    let d = value.trim().strip_prefix("by_duration:").ok_or_else(bad)?;
    let d = d.strip_prefix('P').ok_or_else(bad)?;
    let (days, time) = match d.split_once('T') {
        Some((days, time)) if !time.is_empty() => (days, time),
        Some(_) => return Err(bad()),
        None => (d, ""),
    };
    let mut ms: i64 = 0;
    if !days.is_empty() {
        let n = days.strip_suffix('D').ok_or_else(bad)?;
        let n: i64 = n.parse().map_err(|_| bad())?;
        ms = n.checked_mul(86_400_000).ok_or_else(bad)?;
    }
    let mut rest = time;
    for (unit, scale) in [('H', 3_600_000i64), ('M', 60_000)] {
        if let Some((n, tail)) = rest.split_once(unit) {
            let n: i64 = n.parse().map_err(|_| bad())?;
            ms = n
                .checked_mul(scale)
                .and_then(|v| ms.checked_add(v))
                .ok_or_else(bad)?;
            rest = tail;
        }
    }
    if let Some(secs) = rest.strip_suffix('S') {
        let (whole, frac) = secs.split_once('.').unwrap_or((secs, ""));
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac_ms: i64 = if frac.is_empty() {
            0
        } else {
            let f = format!("{frac:0<3}");
            f[..3].parse().map_err(|_| bad())?
        };
        ms = whole
            .checked_mul(1000)
            .and_then(|v| v.checked_add(frac_ms))
            .and_then(|v| ms.checked_add(v))
            .ok_or_else(bad)?;
    } else if !rest.is_empty() {
        return Err(bad());
    }
    if ms < 0 || (days.is_empty() && time.is_empty()) {
        return Err(bad());
    }
    Ok(AutoOffsetReset::ByDuration(ms))
}

/// The share coordinator's settings (Kafka's `share.coordinator.*` broker configs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareCoordinatorConfig {
    /// `share.coordinator.state.topic.num.partitions` (50).
    pub state_topic_partitions: i32,
    /// `share.coordinator.state.topic.replication.factor` (3).
    pub state_topic_replication_factor: i16,
    /// `share.coordinator.state.topic.min.isr` (2).
    pub state_topic_min_isr: i32,
    /// `share.coordinator.state.topic.segment.bytes` (104857600).
    pub state_topic_segment_bytes: i64,
    /// `share.coordinator.snapshot.update.records.per.snapshot` (500): after this many
    /// ShareUpdate records of a share-partition, its next write is a ShareSnapshot.
    pub snapshot_update_records_per_snapshot: u32,
}

impl Default for ShareCoordinatorConfig {
    fn default() -> Self {
        ShareCoordinatorConfig {
            state_topic_partitions: 50,
            state_topic_replication_factor: 3,
            state_topic_min_isr: 2,
            state_topic_segment_bytes: 104_857_600,
            snapshot_update_records_per_snapshot: 500,
        }
    }
}

impl ShareCoordinatorConfig {
    /// The configs `__share_group_state` is created with: compacted, uncompressed, no unclean
    /// election, `min.insync.replicas` and `segment.bytes` from the settings.
    pub fn topic_configs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("cleanup.policy", "compact".into()),
            ("compression.type", "uncompressed".into()),
            ("unclean.leader.election.enable", "false".into()),
            ("min.insync.replicas", self.state_topic_min_isr.to_string()),
            ("segment.bytes", self.state_topic_segment_bytes.to_string()),
        ]
    }
}
