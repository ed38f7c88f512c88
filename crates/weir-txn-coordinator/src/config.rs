//! The transaction coordinator's settings (parsed by the broker's config).

/// The transaction coordinator's settings, with Kafka's names and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionConfig {
    /// `transaction.max.timeout.ms`: the largest transaction timeout a producer may ask for
    /// (InitProducerId answers INVALID_TRANSACTION_TIMEOUT above it).
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`: a transactional id without a transaction and without
    /// any change for this long is removed.
    pub transactional_id_expiration_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often transactions
    /// past their timeout are looked for (and aborted).
    pub abort_timed_out_interval_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`: how often expired
    /// transactional ids are looked for (and removed).
    pub remove_expired_interval_ms: i64,
    /// `transaction.state.log.num.partitions`: partitions of `__transaction_state` (fixed once
    /// created).
    pub state_log_partitions: i32,
    /// `transaction.state.log.replication.factor` (capped at the number of live brokers).
    pub state_log_replication_factor: i16,
    /// `transaction.state.log.min.isr`.
    pub state_log_min_isr: i32,
    /// `transaction.state.log.segment.bytes`.
    pub state_log_segment_bytes: i64,
}

/// Kafka's defaults.
impl Default for TransactionConfig {
    fn default() -> Self {
        TransactionConfig {
            max_timeout_ms: 900_000,
            transactional_id_expiration_ms: 604_800_000,
            abort_timed_out_interval_ms: 10_000,
            remove_expired_interval_ms: 3_600_000,
            state_log_partitions: 50,
            state_log_replication_factor: 3,
            state_log_min_isr: 2,
            state_log_segment_bytes: 104_857_600,
        }
    }
}

impl TransactionConfig {
    /// The configs `__transaction_state` is created with (Kafka's `transactionTopicConfigs`):
    /// compacted, uncompressed, no unclean election, `min.insync.replicas` and
    /// `segment.bytes` from the settings.
    pub fn topic_configs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("cleanup.policy", "compact".into()),
            ("compression.type", "uncompressed".into()),
            ("unclean.leader.election.enable", "false".into()),
            ("min.insync.replicas", self.state_log_min_isr.to_string()),
            ("segment.bytes", self.state_log_segment_bytes.to_string()),
        ]
    }
}
