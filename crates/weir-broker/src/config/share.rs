//! Share-group settings (KIP-932 / KIP-1191 broker configs, Kafka's names and defaults):
//! `group.share.*` (defaults and bounds of the group configs), `share.coordinator.*` (the
//! `__share_group_state` topic) and `errors.deadletterqueue.*`.

use weir_share_coordinator::{ShareConfigBounds, ShareCoordinatorConfig, ShareGroupConfig};

use crate::error::BrokerError;

use super::parse::{bad, parse, parse_bool};

/// The share-group broker configs with Kafka 4.4's defaults.
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
    ("group.share.record.lock.duration.ms", "30000"),
    ("group.share.min.record.lock.duration.ms", "15000"),
    ("group.share.max.record.lock.duration.ms", "60000"),
    ("group.share.delivery.count.limit", "5"),
    ("group.share.min.delivery.count.limit", "2"),
    ("group.share.max.delivery.count.limit", "10"),
    ("group.share.partition.max.record.locks", "2000"),
    ("group.share.min.partition.max.record.locks", "100"),
    ("group.share.max.partition.max.record.locks", "10000"),
    ("group.share.session.timeout.ms", "45000"),
    ("group.share.min.session.timeout.ms", "45000"),
    ("group.share.max.session.timeout.ms", "60000"),
    ("group.share.heartbeat.interval.ms", "5000"),
    ("group.share.min.heartbeat.interval.ms", "5000"),
    ("group.share.max.heartbeat.interval.ms", "15000"),
    ("group.share.max.size", "200"),
    ("group.share.max.share.sessions", "2000"),
    ("share.coordinator.state.topic.num.partitions", "50"),
    ("share.coordinator.state.topic.replication.factor", "3"),
    ("share.coordinator.state.topic.min.isr", "2"),
    ("share.coordinator.state.topic.segment.bytes", "104857600"),
    (
        "share.coordinator.snapshot.update.records.per.snapshot",
        "500",
    ),
    ("errors.deadletterqueue.topic.name.prefix", "dlq."),
    ("errors.deadletterqueue.auto.create.topics.enable", "false"),
];

/// The typed share-group settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareSettings {
    /// Defaults of the group configs (`group.share.record.lock.duration.ms`, …).
    pub defaults: ShareGroupConfig,
    /// Bounds group configs are validated against (`group.share.min/max.*`).
    pub bounds: ShareConfigBounds,
    /// The share coordinator's `__share_group_state` settings.
    pub coordinator: ShareCoordinatorConfig,
    /// `group.share.max.size`: members per share group.
    pub max_size: usize,
    /// `group.share.max.share.sessions`: share sessions per broker.
    pub max_share_sessions: usize,
    /// `errors.deadletterqueue.auto.create.topics.enable` (KIP-1191, default false): the
    /// dead-letter copier creates a missing DLQ topic (with
    /// `errors.deadletterqueue.group.enable=true`) instead of archiving without a copy.
    pub dlq_auto_create: bool,
    /// `errors.deadletterqueue.topic.name.prefix` (KIP-1191, default `dlq.`; empty = any
    /// name): the prefix a DLQ topic's name needs for the copier to write to it.
    pub dlq_topic_prefix: String,
}

/// Read the share settings through `get`; every default must lie within its bounds.
pub fn parse_share_config(get: &dyn Fn(&str) -> String) -> Result<ShareSettings, BrokerError> {
    let p = |k: &str| get(k);
    let pair = |min: &str, max: &str| -> Result<(i32, i32), BrokerError> {
        Ok((parse(min, &p(min))?, parse(max, &p(max))?))
    };
    let bounds = ShareConfigBounds {
        record_lock_duration_ms: pair(
            "group.share.min.record.lock.duration.ms",
            "group.share.max.record.lock.duration.ms",
        )?,
        delivery_count_limit: (
            parse(
                "group.share.min.delivery.count.limit",
                &p("group.share.min.delivery.count.limit"),
            )?,
            parse(
                "group.share.max.delivery.count.limit",
                &p("group.share.max.delivery.count.limit"),
            )?,
        ),
        partition_max_record_locks: pair(
            "group.share.min.partition.max.record.locks",
            "group.share.max.partition.max.record.locks",
        )?,
        session_timeout_ms: pair(
            "group.share.min.session.timeout.ms",
            "group.share.max.session.timeout.ms",
        )?,
        heartbeat_interval_ms: pair(
            "group.share.min.heartbeat.interval.ms",
            "group.share.max.heartbeat.interval.ms",
        )?,
    };
    // The defaults go through the same validation as a group's configs.
    let pairs = [
        (
            "share.record.lock.duration.ms",
            p("group.share.record.lock.duration.ms"),
        ),
        (
            "share.delivery.count.limit",
            p("group.share.delivery.count.limit"),
        ),
        (
            "share.partition.max.record.locks",
            p("group.share.partition.max.record.locks"),
        ),
        (
            "share.session.timeout.ms",
            p("group.share.session.timeout.ms"),
        ),
        (
            "share.heartbeat.interval.ms",
            p("group.share.heartbeat.interval.ms"),
        ),
    ];
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let defaults = ShareGroupConfig::parse(&ShareGroupConfig::default(), &refs, &bounds)
        .map_err(|e| bad("group.share.*", "", &e.message()))?;
    let coordinator = ShareCoordinatorConfig {
        state_topic_partitions: parse(
            "share.coordinator.state.topic.num.partitions",
            &p("share.coordinator.state.topic.num.partitions"),
        )?,
        state_topic_replication_factor: parse(
            "share.coordinator.state.topic.replication.factor",
            &p("share.coordinator.state.topic.replication.factor"),
        )?,
        state_topic_min_isr: parse(
            "share.coordinator.state.topic.min.isr",
            &p("share.coordinator.state.topic.min.isr"),
        )?,
        state_topic_segment_bytes: parse(
            "share.coordinator.state.topic.segment.bytes",
            &p("share.coordinator.state.topic.segment.bytes"),
        )?,
        snapshot_update_records_per_snapshot: parse(
            "share.coordinator.snapshot.update.records.per.snapshot",
            &p("share.coordinator.snapshot.update.records.per.snapshot"),
        )?,
    };
    if coordinator.state_topic_partitions < 1 {
        return Err(bad(
            "share.coordinator.state.topic.num.partitions",
            &coordinator.state_topic_partitions.to_string(),
            "must be >= 1",
        ));
    }
    Ok(ShareSettings {
        defaults,
        bounds,
        coordinator,
        max_size: parse("group.share.max.size", &p("group.share.max.size"))?,
        max_share_sessions: parse(
            "group.share.max.share.sessions",
            &p("group.share.max.share.sessions"),
        )?,
        dlq_auto_create: parse_bool(
            "errors.deadletterqueue.auto.create.topics.enable",
            &p("errors.deadletterqueue.auto.create.topics.enable"),
        )?,
        dlq_topic_prefix: p("errors.deadletterqueue.topic.name.prefix"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_with(over: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> String {
        move |k: &str| {
            over.iter()
                .chain(DEFAULTS.iter())
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        }
    }

    #[test]
    fn kafka_defaults_and_a_lowered_minimum() {
        let s = parse_share_config(&get_with(&[])).unwrap();
        assert_eq!(s.defaults.record_lock_duration_ms, 30_000);
        assert_eq!(s.bounds.record_lock_duration_ms, (15_000, 60_000));
        assert_eq!(s.coordinator.state_topic_partitions, 50);
        assert_eq!(
            (s.dlq_topic_prefix.as_str(), s.dlq_auto_create),
            ("dlq.", false)
        );
        let s = parse_share_config(&get_with(&[(
            "group.share.min.record.lock.duration.ms",
            "1000",
        )]))
        .unwrap();
        assert_eq!(s.bounds.record_lock_duration_ms.0, 1000);
        assert!(
            parse_share_config(&get_with(&[("group.share.record.lock.duration.ms", "100")]))
                .is_err()
        );
    }
}
