//! Topic names and topic configs: Kafka's validation rules and the effective storage config of a
//! topic (broker defaults overlaid with the topic's overrides).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use weir_log::LogConfig;

use crate::error::BrokerError;

/// KIP-1191's topic config (Kafka's `TopicConfig.ERRORS_DEADLETTERQUEUE_GROUP_ENABLE_CONFIG`,
/// default false): share groups may write dead letters to the topic only when it is true.
pub const DLQ_GROUP_ENABLE: &str = "errors.deadletterqueue.group.enable";

/// Topic configs that are not storage configs but are valid on a topic.
pub const NON_LOG_TOPIC_CONFIGS: &[&str] = &[
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "compression.type",
    DLQ_GROUP_ENABLE,
];

/// Non-storage topic configs whose default is fixed, not a broker config: (name, default).
pub const TOPIC_ONLY_DEFAULTS: &[(&str, &str)] = &[(DLQ_GROUP_ENABLE, "false")];

/// Is `errors.deadletterqueue.group.enable` true in these topic overrides (Kafka parses the
/// boolean case-insensitively; absent means the default, false)?
pub fn dlq_group_enabled(overrides: &BTreeMap<String, String>) -> bool {
    overrides
        .get(DLQ_GROUP_ENABLE)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Kafka's topic name rules: 1..=249 chars of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), BrokerError> {
    let invalid = |why: &str| {
        BrokerError::kafka(
            ResponseError::InvalidTopicException,
            format!("topic name {name:?} is illegal: {why}"),
        )
    };
    if name.is_empty() {
        return Err(invalid("empty"));
    }
    if name == "." || name == ".." {
        return Err(invalid("'.' and '..' are not allowed"));
    }
    if name.len() > 249 {
        return Err(invalid("longer than 249 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(invalid(
            "only ASCII alphanumerics, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

/// Topic configs accepted and ignored: `message.format.version`, which Kafka 3.x clients and
/// tools still set (Kafka 3.x ignores it for the v2 format). Kafka 4.x removed it (KIP-724) and
/// refuses it; Weir accepts it so those tools keep working (a documented deviation). It has no
/// effect and DescribeConfigs does not list it.
pub const IGNORED_TOPIC_CONFIGS: &[&str] = &["message.format.version"];

/// Validate one topic config key/value (INVALID_CONFIG on failure). [`IGNORED_TOPIC_CONFIGS`] are
/// accepted; other names Kafka 4.x removed are unknown, as there: `message.downconversion.enable`
/// (down-conversion is gone with Produce/Fetch v0–v3) is refused with Kafka's "Unknown topic
/// config name".
pub fn validate_topic_config(key: &str, value: &str) -> Result<(), BrokerError> {
    if IGNORED_TOPIC_CONFIGS.contains(&key) {
        return Ok(());
    }
    let invalid = |why: String| {
        BrokerError::kafka(
            ResponseError::InvalidConfig,
            format!("{key}={value}: {why}"),
        )
    };
    if LogConfig::is_log_config(key) {
        return LogConfig::default()
            .set(key, value)
            .map(|_| ())
            .map_err(|e| invalid(e.to_string()));
    }
    match key {
        "min.insync.replicas" => match value.trim().parse::<i32>() {
            Ok(v) if v >= 1 => Ok(()),
            _ => Err(invalid("must be an integer >= 1".into())),
        },
        "unclean.leader.election.enable" => match value.trim() {
            "true" | "false" => Ok(()),
            _ => Err(invalid("must be true or false".into())),
        },
        DLQ_GROUP_ENABLE => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err(invalid("must be true or false".into())),
        },
        "compression.type" => match value.trim() {
            "producer" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd" => Ok(()),
            _ => Err(invalid(
                "must be producer, uncompressed, gzip, snappy, lz4 or zstd".into(),
            )),
        },
        _ => Err(BrokerError::kafka(
            ResponseError::InvalidConfig,
            format!("Unknown topic config name: {key}"),
        )),
    }
}

/// The effective storage config of a topic: `defaults` (the broker's `log.*` configs) overlaid
/// with the topic's overrides; INVALID_CONFIG when an override does not parse.
pub fn effective_log_config(
    defaults: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, BrokerError> {
    let mut cfg = defaults.clone();
    for (k, v) in overrides {
        if LogConfig::is_log_config(k) {
            cfg.set(k, v)
                .map_err(|e| BrokerError::kafka(ResponseError::InvalidConfig, e.to_string()))?;
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlq_group_enable_defaults_to_false() {
        let with = |v: &str| BTreeMap::from([(DLQ_GROUP_ENABLE.to_string(), v.to_string())]);
        assert!(!dlq_group_enabled(&BTreeMap::new()));
        assert!(!dlq_group_enabled(&with("false")));
        assert!(dlq_group_enabled(&with("true")));
        assert!(dlq_group_enabled(&with("True")));
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-2").is_ok());
        assert!(validate_topic_name("__consumer_offsets").is_ok());
        for bad in ["", ".", "..", "has space", "slash/y", &"x".repeat(250)] {
            let e = validate_topic_name(bad).unwrap_err();
            assert_eq!(
                e.code(),
                ResponseError::InvalidTopicException.code(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn topic_configs_are_validated() {
        assert!(validate_topic_config("retention.ms", "86400000").is_ok());
        assert!(validate_topic_config("min.insync.replicas", "2").is_ok());
        assert!(validate_topic_config(DLQ_GROUP_ENABLE, "true").is_ok());
        assert!(validate_topic_config(DLQ_GROUP_ENABLE, "FALSE").is_ok());
        // Kafka 4.x: an empty cleanup.policy list is valid (neither deletion nor compaction).
        assert!(validate_topic_config("cleanup.policy", "").is_ok());
        // Kafka 3.x tools still set it: accepted and ignored (Kafka 4.x refuses it).
        assert!(validate_topic_config("message.format.version", "3.0-IV1").is_ok());
        let e = validate_topic_config("message.downconversion.enable", "true").unwrap_err();
        assert_eq!(
            e.message(),
            "Unknown topic config name: message.downconversion.enable"
        );
        for (k, v) in [
            ("retention.ms", "x"),
            ("min.insync.replicas", "0"),
            (DLQ_GROUP_ENABLE, "yes"),
            ("no.such", "1"),
            ("cleanup.policy", "keep"),
            ("cleanup.policy", "delete,"),
            // Removed in Kafka 4.0 (KIP-724): unknown there, as here.
            ("message.downconversion.enable", "true"),
        ] {
            assert_eq!(
                validate_topic_config(k, v).unwrap_err().code(),
                ResponseError::InvalidConfig.code()
            );
        }
    }
}
