//! Every known broker config with Kafka's default, and how `log.*` broker configs map to topic
//! configs.

/// Known broker configs and their defaults. `log.*` keys map to topic configs (see
/// [`LOG_KEY_MAP`]). Weir's one deviation: `log.flush.interval.messages` defaults to 1 (durable).
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
    ("node.id", "1"),
    ("process.roles", "broker,controller"),
    ("controller.quorum.voters", ""),
    ("listeners", "PLAINTEXT://127.0.0.1:9092"),
    ("advertised.listeners", ""),
    ("log.dirs", "./weir-data"),
    ("num.partitions", "1"),
    ("default.replication.factor", "1"),
    ("auto.create.topics.enable", "true"),
    ("socket.request.max.bytes", "104857600"),
    ("max.request.partition.size.limit", "2000"),
    ("connections.max.idle.ms", "600000"),
    ("min.insync.replicas", "1"),
    ("log.retention.check.interval.ms", "300000"),
    ("broker.rack", ""),
    ("log.segment.bytes", "1073741824"),
    ("log.roll.hours", "168"),
    ("log.retention.hours", "168"),
    ("log.retention.bytes", "-1"),
    ("log.cleanup.policy", "delete"),
    ("log.index.interval.bytes", "4096"),
    ("log.index.size.max.bytes", "10485760"),
    ("log.flush.interval.messages", "1"),
    ("log.flush.interval.ms", "9223372036854775807"),
    ("message.max.bytes", "1048588"),
    ("log.message.timestamp.type", "CreateTime"),
    ("log.cleaner.delete.retention.ms", "86400000"),
    ("log.cleaner.min.compaction.lag.ms", "0"),
    ("log.segment.delete.delay.ms", "60000"),
    ("unclean.leader.election.enable", "false"),
    ("compression.type", "producer"),
    ("offsets.topic.num.partitions", "50"),
    ("offsets.topic.replication.factor", "3"),
    ("offsets.topic.segment.bytes", "104857600"),
    ("offsets.retention.minutes", "10080"),
    ("offsets.retention.check.interval.ms", "600000"),
    ("group.initial.rebalance.delay.ms", "3000"),
    ("group.min.session.timeout.ms", "6000"),
    ("group.max.session.timeout.ms", "1800000"),
    ("group.max.size", "2147483647"),
    ("group.consumer.session.timeout.ms", "45000"),
    ("group.consumer.heartbeat.interval.ms", "5000"),
    ("group.consumer.assignors", "uniform,range"),
    ("producer.id.expiration.ms", "86400000"),
    ("transaction.state.log.num.partitions", "50"),
    ("transaction.state.log.replication.factor", "3"),
    ("transaction.state.log.min.isr", "2"),
    ("transaction.state.log.segment.bytes", "104857600"),
    ("transaction.max.timeout.ms", "900000"),
    ("transactional.id.expiration.ms", "604800000"),
    (
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        "10000",
    ),
    (
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        "3600000",
    ),
    ("transaction.partition.verification.enable", "true"),
    ("transaction.version", "2"),
    ("metadata.log.dir", ""),
    ("broker.session.timeout.ms", "9000"),
    ("broker.heartbeat.interval.ms", "2000"),
    ("auto.leader.rebalance.enable", "true"),
    ("leader.imbalance.check.interval.seconds", "300"),
    // Accepted and unused, as by Kafka's KRaft controller: every imbalanced partition is moved
    // at the next check, whatever the broker's share.
    ("leader.imbalance.per.broker.percentage", "10"),
];

/// Every known broker config with its default: [`DEFAULTS`] plus the replication settings.
pub(crate) fn all_defaults() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    DEFAULTS
        .iter()
        .chain(super::replication::DEFAULTS.iter())
        .chain(super::share::DEFAULTS.iter())
        .chain(super::security::DEFAULTS.iter())
        .chain(super::authorizer::DEFAULTS.iter())
        .chain(super::ops::DEFAULTS.iter())
        .chain(super::quotas::DEFAULTS.iter())
}

/// Broker `log.*` key → topic config key.
pub(crate) const LOG_KEY_MAP: &[(&str, &str)] = &[
    ("log.segment.bytes", "segment.bytes"),
    ("log.retention.bytes", "retention.bytes"),
    ("log.cleanup.policy", "cleanup.policy"),
    ("log.index.interval.bytes", "index.interval.bytes"),
    ("log.index.size.max.bytes", "segment.index.bytes"),
    ("log.flush.interval.messages", "flush.messages"),
    ("log.flush.interval.ms", "flush.ms"),
    ("message.max.bytes", "max.message.bytes"),
    ("log.message.timestamp.type", "message.timestamp.type"),
    ("log.cleaner.delete.retention.ms", "delete.retention.ms"),
    ("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
    ("log.segment.delete.delay.ms", "file.delete.delay.ms"),
];

/// Topic configs whose default comes from a same-named broker config.
pub(crate) const SAME_NAME_TOPIC_KEYS: &[&str] = &[
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "compression.type",
];
