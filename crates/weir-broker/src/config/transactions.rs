//! The transaction coordinator's settings (`transaction.*`, `transactional.id.*`).

use crate::error::BrokerError;

use super::parse::{bad, parse};

pub use weir_txn_coordinator::TransactionConfig;

/// Read the transaction settings through `get` (the configured or default value of a key).
/// Partition counts, replication factors and timeouts must be positive.
pub fn parse_transaction_config(
    get: &dyn Fn(&str) -> String,
) -> Result<TransactionConfig, BrokerError> {
    let p = |k: &str| get(k);
    let cfg = TransactionConfig {
        max_timeout_ms: parse(
            "transaction.max.timeout.ms",
            &p("transaction.max.timeout.ms"),
        )?,
        transactional_id_expiration_ms: parse(
            "transactional.id.expiration.ms",
            &p("transactional.id.expiration.ms"),
        )?,
        abort_timed_out_interval_ms: parse(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            &p("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
        )?,
        remove_expired_interval_ms: parse(
            "transaction.remove.expired.transaction.cleanup.interval.ms",
            &p("transaction.remove.expired.transaction.cleanup.interval.ms"),
        )?,
        state_log_partitions: parse(
            "transaction.state.log.num.partitions",
            &p("transaction.state.log.num.partitions"),
        )?,
        state_log_replication_factor: parse(
            "transaction.state.log.replication.factor",
            &p("transaction.state.log.replication.factor"),
        )?,
        state_log_min_isr: parse(
            "transaction.state.log.min.isr",
            &p("transaction.state.log.min.isr"),
        )?,
        state_log_segment_bytes: parse(
            "transaction.state.log.segment.bytes",
            &p("transaction.state.log.segment.bytes"),
        )?,
    };
    let positive = [
        ("transaction.max.timeout.ms", i64::from(cfg.max_timeout_ms)),
        (
            "transactional.id.expiration.ms",
            cfg.transactional_id_expiration_ms,
        ),
        (
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            cfg.abort_timed_out_interval_ms,
        ),
        (
            "transaction.remove.expired.transaction.cleanup.interval.ms",
            cfg.remove_expired_interval_ms,
        ),
        (
            "transaction.state.log.num.partitions",
            i64::from(cfg.state_log_partitions),
        ),
        (
            "transaction.state.log.replication.factor",
            i64::from(cfg.state_log_replication_factor),
        ),
        (
            "transaction.state.log.min.isr",
            i64::from(cfg.state_log_min_isr),
        ),
        (
            "transaction.state.log.segment.bytes",
            cfg.state_log_segment_bytes,
        ),
    ];
    for (key, v) in positive {
        if v < 1 {
            return Err(bad(key, &v.to_string(), "must be >= 1"));
        }
    }
    Ok(cfg)
}
