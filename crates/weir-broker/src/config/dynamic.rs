//! Dynamic broker configs (Kafka's `DynamicBrokerConfig`): which broker configs can change
//! without a restart, through IncrementalAlterConfigs / AlterConfigs on a BROKER resource (one
//! node, "N", or the cluster-wide default, ""), and the validation of such a change. The values
//! live in the metadata log (`SetConfig` records); [`super::layers`] resolves them.
//!
//! Weir applies live the broker defaults of topic configs (`log.*`, `message.max.bytes`,
//! `min.insync.replicas`, `unclean.leader.election.enable`, `compression.type`), which Kafka
//! lists as dynamic at both levels. Other broker configs are read-only at run time: Kafka
//! refuses them with "Cannot update these configs dynamically"; so does Weir, also for the few
//! that Kafka updates live and Weir does not yet (thread pools, listeners, TLS stores — Weir
//! has no thread-pool configs; see docs/compatibility.md).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use weir_log::LogConfig;
use weir_meta::image::MetadataImage;
use weir_meta::records::ConfigResource;

use super::defaults::{all_defaults, LOG_KEY_MAP};
use super::layers::{Layers, NULL_DEFAULT_KEYS};
use super::topic::validate_topic_config;
use super::{security, BrokerConfig};
use crate::error::BrokerError;

/// Broker configs Weir changes without a restart (cluster-wide and per broker).
pub const DYNAMIC: &[&str] = &[
    "log.segment.bytes",
    "log.roll.ms",
    "log.roll.hours",
    "log.retention.ms",
    "log.retention.minutes",
    "log.retention.hours",
    "log.retention.bytes",
    "log.cleanup.policy",
    "log.index.interval.bytes",
    "log.index.size.max.bytes",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "message.max.bytes",
    "log.message.timestamp.type",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.min.compaction.lag.ms",
    "log.segment.delete.delay.ms",
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "compression.type",
];

/// List-typed dynamic configs (IncrementalAlterConfigs APPEND / SUBTRACT apply).
pub const LIST_CONFIGS: &[&str] = &["log.cleanup.policy"];

/// Which BROKER resource a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerTarget {
    /// One node's own configs (resource name "N").
    Node(i32),
    /// The cluster-wide default (resource name "").
    Default,
}

impl BrokerTarget {
    /// The resource named `name` ("" or a broker id); INVALID_REQUEST otherwise, as Kafka.
    pub fn parse(name: &str) -> Result<Self, BrokerError> {
        if name.is_empty() {
            return Ok(BrokerTarget::Default);
        }
        name.parse::<i32>()
            .ok()
            .filter(|id| *id >= 0)
            .map(BrokerTarget::Node)
            .ok_or_else(|| {
                BrokerError::kafka(
                    ResponseError::InvalidRequest,
                    format!("broker resource name must be a broker id or empty, got {name:?}"),
                )
            })
    }

    /// The metadata resource holding this target's configs.
    pub fn resource(self) -> ConfigResource {
        match self {
            BrokerTarget::Node(id) => ConfigResource::Broker(id),
            BrokerTarget::Default => ConfigResource::BrokerDefault,
        }
    }

    /// This target's dynamic configs in `image`.
    pub fn current(self, image: &MetadataImage) -> BTreeMap<String, String> {
        match self {
            BrokerTarget::Node(id) => image.broker_configs.get(&id).cloned().unwrap_or_default(),
            BrokerTarget::Default => image.broker_default_configs.clone(),
        }
    }
}

/// Is `key` a broker config Weir knows?
pub fn is_known(key: &str) -> bool {
    all_defaults().any(|(k, _)| *k == key)
        || security::is_known(key)
        || NULL_DEFAULT_KEYS.contains(&key)
}

/// Can `key` change without a restart?
pub fn is_dynamic(key: &str) -> bool {
    DYNAMIC.contains(&key)
}

/// May `key` be named in a dynamic change: INVALID_CONFIG for an unknown name, INVALID_REQUEST
/// for a read-only one (Kafka's "Cannot update these configs dynamically").
pub fn check_key(key: &str) -> Result<(), BrokerError> {
    if !is_known(key) {
        return Err(BrokerError::kafka(
            ResponseError::InvalidConfig,
            format!("Unknown broker config name: {key}"),
        ));
    }
    if !is_dynamic(key) {
        return Err(BrokerError::kafka(
            ResponseError::InvalidRequest,
            format!("Cannot update these configs dynamically: [{key}] (read-only: set it at start-up and restart)"),
        ));
    }
    Ok(())
}

/// Validate one dynamic value (INVALID_CONFIG naming key and value).
pub fn check_value(key: &str, value: &str) -> Result<(), BrokerError> {
    let invalid = |why: String| {
        BrokerError::kafka(
            ResponseError::InvalidConfig,
            format!("Invalid value {value} for configuration {key}: {why}"),
        )
    };
    if let Some((_, topic_key)) = LOG_KEY_MAP.iter().find(|(b, _)| *b == key) {
        return LogConfig::default()
            .set(topic_key, value)
            .map(|_| ())
            .map_err(|e| invalid(e.to_string()));
    }
    let min = match key {
        "log.retention.ms" | "log.retention.minutes" | "log.retention.hours" => -1,
        "log.roll.ms" | "log.roll.hours" => 1,
        _ => {
            return validate_topic_config(key, value).map_err(|e| invalid(e.message()));
        }
    };
    match value.trim().parse::<i64>() {
        Ok(v) if v >= min => Ok(()),
        _ => Err(invalid(format!("must be an integer >= {min}"))),
    }
}

/// Validate the new dynamic config set `next` of `target` against the current `image`: every
/// key known and dynamic, every value valid, and the resulting topic defaults of this node
/// (`config`) consistent. Nothing is changed.
pub fn validate(
    config: &BrokerConfig,
    image: &MetadataImage,
    target: BrokerTarget,
    next: &BTreeMap<String, String>,
) -> Result<(), BrokerError> {
    for (k, v) in next {
        check_key(k)?;
        check_value(k, v)?;
    }
    let node = match target {
        BrokerTarget::Node(id) => id,
        BrokerTarget::Default => config.node_id,
    };
    let layers = Layers::new(config, image, node);
    let layers = match target {
        BrokerTarget::Node(_) => layers.with_node(next),
        BrokerTarget::Default => layers.with_cluster(next),
    };
    layers.log_defaults().map(|_| ()).map_err(|(k, v, why)| {
        BrokerError::kafka(
            ResponseError::InvalidConfig,
            format!("Invalid value {v} for configuration {k}: {why}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_a_broker_id_or_the_default() {
        assert_eq!(BrokerTarget::parse("").unwrap(), BrokerTarget::Default);
        assert_eq!(BrokerTarget::parse("3").unwrap(), BrokerTarget::Node(3));
        for bad in ["x", "-1", " 1"] {
            assert_eq!(
                BrokerTarget::parse(bad).unwrap_err().code(),
                ResponseError::InvalidRequest.code()
            );
        }
    }

    #[test]
    fn unknown_names_read_only_names_and_bad_values_are_refused() {
        let code = |r: Result<(), BrokerError>| r.unwrap_err().code();
        assert_eq!(
            code(check_key("no.such.config")),
            ResponseError::InvalidConfig.code()
        );
        for ro in ["node.id", "log.dirs", "process.roles", "listeners"] {
            assert_eq!(code(check_key(ro)), ResponseError::InvalidRequest.code());
        }
        for ok in DYNAMIC {
            check_key(ok).unwrap();
        }
        check_value("log.segment.bytes", "1048576").unwrap();
        check_value("log.retention.hours", "-1").unwrap();
        check_value("min.insync.replicas", "2").unwrap();
        check_value("log.cleanup.policy", "compact,delete").unwrap();
        for (k, v) in [
            ("log.segment.bytes", "1"),
            ("log.retention.ms", "soon"),
            ("log.roll.hours", "0"),
            ("min.insync.replicas", "0"),
            ("unclean.leader.election.enable", "maybe"),
            ("log.cleanup.policy", "archive"),
        ] {
            assert_eq!(
                code(check_value(k, v)),
                ResponseError::InvalidConfig.code(),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn a_whole_change_is_validated_before_anything_applies() {
        let config = BrokerConfig::default_single_node();
        let image = MetadataImage::default();
        let next = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        validate(
            &config,
            &image,
            BrokerTarget::Default,
            &next(&[
                ("log.segment.bytes", "1048576"),
                ("log.retention.ms", "1000"),
            ]),
        )
        .unwrap();
        let e = validate(
            &config,
            &image,
            BrokerTarget::Node(1),
            &next(&[("log.segment.bytes", "1048576"), ("node.id", "2")]),
        )
        .unwrap_err();
        assert_eq!(e.code(), ResponseError::InvalidRequest.code());
        assert!(e.message().contains("node.id"), "{}", e.message());
    }
}
