//! The replication settings a broker reads from its config (Kafka names and defaults).

use crate::error::BrokerError;

/// Replication settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// `replica.lag.time.max.ms` (30 000): an ISR member not caught up for this long is removed.
    pub lag_time_max_ms: i64,
    /// `replica.fetch.wait.max.ms` (500): a follower's fetch long-polls at most this long.
    pub fetch_wait_max_ms: i32,
    /// `replica.fetch.max.bytes` (1 MiB): per-partition fetch size (at least one batch).
    pub fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes` (10 MiB): whole-response fetch size.
    pub fetch_response_max_bytes: i32,
    /// `replica.fetch.backoff.ms` (1000): pause after a failed fetch.
    pub fetch_backoff_ms: u64,
    /// `controlled.shutdown.enable` (true): on SIGTERM, move leadership away before stopping.
    pub controlled_shutdown: bool,
    /// `replica.selector.class`: empty = consumers always read from the leader; any value
    /// naming the rack-aware selector (`…RackAwareReplicaSelector` or `rack-aware`) lets a
    /// consumer with `client.rack` read from a replica in its rack (KIP-392).
    pub rack_aware_selector: bool,
}

/// (key, default) of every replication config, for the broker's config table.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("replica.lag.time.max.ms", "30000"),
    ("replica.fetch.wait.max.ms", "500"),
    ("replica.fetch.max.bytes", "1048576"),
    ("replica.fetch.response.max.bytes", "10485760"),
    ("replica.fetch.backoff.ms", "1000"),
    ("controlled.shutdown.enable", "true"),
    ("replica.selector.class", ""),
];

impl ReplicationConfig {
    /// Read the settings through `get` (returns the configured or default value of a key).
    pub fn parse(get: &dyn Fn(&str) -> String) -> Result<Self, BrokerError> {
        fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, BrokerError> {
            v.trim()
                .parse()
                .map_err(|_| BrokerError::Config(format!("{key}={v}: not a valid number")))
        }
        let positive = |key: &str| -> Result<i64, BrokerError> {
            let v: i64 = num(key, &get(key))?;
            if v <= 0 {
                return Err(BrokerError::Config(format!("{key}={v}: must be > 0")));
            }
            Ok(v)
        };
        let shutdown = get("controlled.shutdown.enable");
        let selector = get("replica.selector.class");
        let selector = selector.trim();
        Ok(ReplicationConfig {
            lag_time_max_ms: positive("replica.lag.time.max.ms")?,
            fetch_wait_max_ms: positive("replica.fetch.wait.max.ms")?.min(i32::MAX as i64) as i32,
            fetch_max_bytes: positive("replica.fetch.max.bytes")?.min(i32::MAX as i64) as i32,
            fetch_response_max_bytes: positive("replica.fetch.response.max.bytes")?
                .min(i32::MAX as i64) as i32,
            fetch_backoff_ms: positive("replica.fetch.backoff.ms")? as u64,
            controlled_shutdown: match shutdown.trim() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(BrokerError::Config(format!(
                        "controlled.shutdown.enable={other}: must be true or false"
                    )))
                }
            },
            rack_aware_selector: if selector.is_empty() {
                false
            } else if selector.ends_with("RackAwareReplicaSelector") || selector == "rack-aware" {
                true
            } else {
                return Err(BrokerError::Config(format!(
                    "replica.selector.class={selector}: Weir knows only \
                     org.apache.kafka.common.replica.RackAwareReplicaSelector"
                )));
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(over: &[(&str, &str)]) -> Result<ReplicationConfig, BrokerError> {
        let over: Vec<(String, String)> = over
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ReplicationConfig::parse(&|k: &str| {
            over.iter()
                .find(|(ok, _)| ok == k)
                .map(|(_, v)| v.clone())
                .or_else(|| {
                    DEFAULTS
                        .iter()
                        .find(|(dk, _)| *dk == k)
                        .map(|(_, d)| d.to_string())
                })
                .unwrap_or_default()
        })
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = with(&[]).unwrap();
        assert_eq!(c.lag_time_max_ms, 30_000);
        assert_eq!(c.fetch_wait_max_ms, 500);
        assert!(c.controlled_shutdown);
        assert!(!c.rack_aware_selector);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(with(&[("replica.lag.time.max.ms", "0")]).is_err());
        assert!(with(&[("controlled.shutdown.enable", "yes")]).is_err());
        assert!(with(&[("replica.selector.class", "com.example.Mine")]).is_err());
        let c = with(&[(
            "replica.selector.class",
            "org.apache.kafka.common.replica.RackAwareReplicaSelector",
        )])
        .unwrap();
        assert!(c.rack_aware_selector);
    }
}
