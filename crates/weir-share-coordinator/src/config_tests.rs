//! Tests of the share group configs.

use crate::*;

fn parse(pairs: &[(&str, &str)]) -> Result<ShareGroupConfig, ShareError> {
    ShareGroupConfig::parse(
        &ShareGroupConfig::default(),
        pairs,
        &ShareConfigBounds::default(),
    )
}

#[test]
fn defaults_are_kafkas() {
    let c = ShareGroupConfig::default();
    let pairs = c.to_pairs();
    let get = |n: &str| pairs.iter().find(|(k, _)| *k == n).unwrap().1.clone();
    assert_eq!(get("share.auto.offset.reset"), "latest");
    assert_eq!(get("share.isolation.level"), "read_uncommitted");
    assert_eq!(get("share.record.lock.duration.ms"), "30000");
    assert_eq!(get("share.delivery.count.limit"), "5");
    assert_eq!(get("share.partition.max.record.locks"), "2000");
    assert_eq!(get("share.session.timeout.ms"), "45000");
    assert_eq!(get("share.heartbeat.interval.ms"), "5000");
    assert_eq!(get("share.acquire.mode"), "batch_optimized");
    assert_eq!(get("share.renew.acknowledge.enable"), "true");
    assert_eq!(get("errors.deadletterqueue.topic.name"), "");
    assert_eq!(get("errors.deadletterqueue.copy.record.enable"), "false");
    assert_eq!(pairs.len(), SHARE_GROUP_CONFIG_NAMES.len());
    let l = c.limits();
    assert_eq!(l, PartitionLimits::default());
    assert_eq!(parse(&[]).unwrap(), c);
}

#[test]
fn valid_values_are_applied_and_round_trip() {
    let c = parse(&[
        ("share.auto.offset.reset", "earliest"),
        ("share.isolation.level", "read_committed"),
        ("share.record.lock.duration.ms", "1000"),
        ("share.delivery.count.limit", "10"),
        ("share.partition.max.record.locks", "100"),
        ("share.session.timeout.ms", "60000"),
        ("share.heartbeat.interval.ms", "15000"),
        ("share.acquire.mode", "record_limit"),
        ("share.renew.acknowledge.enable", "false"),
        ("errors.deadletterqueue.topic.name", "dlq.orders"),
        ("errors.deadletterqueue.copy.record.enable", "true"),
    ])
    .unwrap();
    assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
    assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
    assert_eq!(
        (c.record_lock_duration_ms, c.delivery_count_limit),
        (1000, 10)
    );
    assert_eq!(c.acquire_mode, AcquireMode::RecordLimit);
    assert!(!c.renew_acknowledge_enable && !c.limits().renew_enabled);
    assert_eq!(c.dlq_topic_name.as_deref(), Some("dlq.orders"));
    assert!(c.dlq_copy_record_enable && c.limits().dead_letter_enabled);
    let pairs = c.to_pairs();
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(parse(&borrowed).unwrap(), c);
}

#[test]
fn bad_values_are_invalid_config() {
    for (name, value) in [
        ("share.renew.acknowledge.enable", "sometimes"),
        ("share.record.lock.duration.ms", "999"),
        ("share.record.lock.duration.ms", "3600001"),
        ("share.record.lock.duration.ms", "abc"),
        ("share.delivery.count.limit", "1"),
        ("share.delivery.count.limit", "11"),
        ("share.partition.max.record.locks", "99"),
        ("share.partition.max.record.locks", "10001"),
        ("share.session.timeout.ms", "44999"),
        ("share.heartbeat.interval.ms", "4999"),
        ("share.isolation.level", "serializable"),
        ("share.auto.offset.reset", "none"),
        ("share.auto.offset.reset", "by_duration:1h"),
        ("share.acquire.mode", "greedy"),
        ("errors.deadletterqueue.topic.name", "__orders-dlq"),
        ("errors.deadletterqueue.copy.record.enable", "yes"),
        ("share.unknown", "1"),
    ] {
        let e = parse(&[(name, value)]).unwrap_err();
        assert_eq!(e.code(), 40, "{name}={value}");
    }
    // The heartbeat interval must stay below the session timeout.
    let bounds = ShareConfigBounds {
        heartbeat_interval_ms: (5_000, 60_000),
        ..ShareConfigBounds::default()
    };
    let e = ShareGroupConfig::parse(
        &ShareGroupConfig::default(),
        &[("share.heartbeat.interval.ms", "45000")],
        &bounds,
    )
    .unwrap_err();
    assert_eq!(e.code(), 40);
    // Kafka's message for a name in the internal topics' `__` namespace.
    let e = parse(&[("errors.deadletterqueue.topic.name", "__consumer_offsets")]).unwrap_err();
    assert_eq!(e.message(), DLQ_NAME_RESERVED_MESSAGE);
    // A name without the broker's `dlq.` prefix is accepted here, as by Kafka's
    // GroupConfig.validate: the copier refuses to write to it.
    let c = parse(&[("errors.deadletterqueue.topic.name", "orders-dlq")]).unwrap();
    assert_eq!(c.dlq_topic_name.as_deref(), Some("orders-dlq"));
    // An empty DLQ name unsets it.
    let base = parse(&[("errors.deadletterqueue.topic.name", "dlq.x")]).unwrap();
    let c = ShareGroupConfig::parse(
        &base,
        &[("errors.deadletterqueue.topic.name", "")],
        &ShareConfigBounds::default(),
    )
    .unwrap();
    assert_eq!(c.dlq_topic_name, None);
}

#[test]
fn by_duration_parses_iso_8601_durations() {
    let ms = |s: &str| {
        parse_reset(s).map(|r| match r {
            AutoOffsetReset::ByDuration(ms) => ms,
            other => panic!("{other:?}"),
        })
    };
    assert_eq!(ms("by_duration:PT1H").unwrap(), 3_600_000);
    assert_eq!(ms("by_duration:P1DT2H3M4.5S").unwrap(), 93_784_500);
    assert_eq!(ms("by_duration:PT0.25S").unwrap(), 250);
    assert_eq!(ms("by_duration:P2D").unwrap(), 172_800_000);
    for bad in [
        "by_duration:",
        "by_duration:P",
        "by_duration:PT",
        "by_duration:P-1D",
        "by_duration:PT5X",
        "by_duration:1H",
    ] {
        assert_eq!(parse_reset(bad).unwrap_err().code(), 40, "{bad}");
    }
    let c = parse(&[("share.auto.offset.reset", "by_duration:PT90.5S")]).unwrap();
    assert_eq!(c.auto_offset_reset, AutoOffsetReset::ByDuration(90_500));
    assert_eq!(c.to_pairs()[0].1, "by_duration:PT90.500S");
    assert_eq!(ms("by_duration:PT90.500S").unwrap(), 90_500);
}

#[test]
fn the_state_topic_is_compacted() {
    let c = ShareCoordinatorConfig::default();
    assert_eq!(c.snapshot_update_records_per_snapshot, 500);
    assert_eq!(c.state_topic_partitions, 50);
    assert!(c
        .topic_configs()
        .contains(&("cleanup.policy", "compact".into())));
}
