//! The group coordinator's settings (`offsets.*`, `group.*`).

use crate::error::BrokerError;

use super::parse::{bad, parse};

pub use weir_group_coordinator::GroupConfig;

/// Read the group settings through `get` (the configured or default value of a key).
pub fn parse_group_config(get: &dyn Fn(&str) -> String) -> Result<GroupConfig, BrokerError> {
    let cfg = GroupConfig {
        offsets_topic_partitions: parse(
            "offsets.topic.num.partitions",
            &get("offsets.topic.num.partitions"),
        )?,
        offsets_topic_replication_factor: parse(
            "offsets.topic.replication.factor",
            &get("offsets.topic.replication.factor"),
        )?,
        offsets_topic_segment_bytes: parse(
            "offsets.topic.segment.bytes",
            &get("offsets.topic.segment.bytes"),
        )?,
        offsets_retention_ms: parse::<i64>(
            "offsets.retention.minutes",
            &get("offsets.retention.minutes"),
        )?
        .saturating_mul(60_000),
        offsets_retention_check_interval_ms: parse(
            "offsets.retention.check.interval.ms",
            &get("offsets.retention.check.interval.ms"),
        )?,
        initial_rebalance_delay_ms: parse(
            "group.initial.rebalance.delay.ms",
            &get("group.initial.rebalance.delay.ms"),
        )?,
        min_session_timeout_ms: parse(
            "group.min.session.timeout.ms",
            &get("group.min.session.timeout.ms"),
        )?,
        max_session_timeout_ms: parse(
            "group.max.session.timeout.ms",
            &get("group.max.session.timeout.ms"),
        )?,
        max_size: parse("group.max.size", &get("group.max.size"))?,
        consumer_session_timeout_ms: parse(
            "group.consumer.session.timeout.ms",
            &get("group.consumer.session.timeout.ms"),
        )?,
        consumer_heartbeat_interval_ms: parse(
            "group.consumer.heartbeat.interval.ms",
            &get("group.consumer.heartbeat.interval.ms"),
        )?,
        consumer_assignors: get("group.consumer.assignors")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    if cfg.offsets_topic_partitions < 1 {
        return Err(bad(
            "offsets.topic.num.partitions",
            &cfg.offsets_topic_partitions.to_string(),
            "must be >= 1",
        ));
    }
    if cfg.min_session_timeout_ms > cfg.max_session_timeout_ms {
        return Err(bad(
            "group.min.session.timeout.ms",
            &cfg.min_session_timeout_ms.to_string(),
            "must not exceed group.max.session.timeout.ms",
        ));
    }
    for a in &cfg.consumer_assignors {
        if a != "uniform" && a != "range" {
            return Err(bad(
                "group.consumer.assignors",
                a,
                "Weir knows the assignors uniform and range",
            ));
        }
    }
    Ok(cfg)
}
