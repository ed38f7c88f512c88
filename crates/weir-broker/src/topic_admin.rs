//! Creating, deleting and altering topics (used by the admin handlers and Metadata auto-create).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use uuid::Uuid;
use weir_log::LogConfig;
use weir_meta::controller::Controller;
use weir_meta::records::{ConfigResource, MetadataRecord};

use crate::topics::TopicMeta;
use crate::{Broker, BrokerError};

/// Topic configs that are not storage configs but are valid on a topic.
pub const NON_LOG_TOPIC_CONFIGS: &[&str] = &[
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "compression.type",
];

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

/// Validate one topic config key/value (INVALID_CONFIG on failure).
pub fn validate_topic_config(key: &str, value: &str) -> Result<(), BrokerError> {
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
        "compression.type" => match value.trim() {
            "producer" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd" => Ok(()),
            _ => Err(invalid(
                "must be producer, uncompressed, gzip, snappy, lz4 or zstd".into(),
            )),
        },
        _ => Err(BrokerError::kafka(
            ResponseError::InvalidConfig,
            format!("unknown topic config {key}"),
        )),
    }
}

impl Broker {
    /// The effective storage config of a topic: broker defaults overlaid with its overrides.
    pub fn log_config_for(&self, topic: &TopicMeta) -> Result<LogConfig, BrokerError> {
        let mut cfg = self.config.log_defaults.clone();
        for (k, v) in &topic.configs {
            if LogConfig::is_log_config(k) {
                cfg.set(k, v)
                    .map_err(|e| BrokerError::kafka(ResponseError::InvalidConfig, e.to_string()))?;
            }
        }
        Ok(cfg)
    }

    /// Create a topic (or only validate the request). -1 partitions / replication factor mean the
    /// broker defaults. The CreateTopic record (replicas placed by the controller logic on the
    /// unfenced brokers) is committed through Raft; this returns once the local image has it and
    /// the local partition logs exist. Concurrent creations of one name: Raft orders them and the
    /// second fails validation with TOPIC_ALREADY_EXISTS.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicMeta, BrokerError> {
        validate_topic_name(name)?;
        if self.topics.get(name).is_some() {
            return Err(BrokerError::kafka(
                ResponseError::TopicAlreadyExists,
                format!("topic {name} already exists"),
            ));
        }
        let partitions = if partitions == -1 {
            self.config.num_partitions
        } else {
            partitions
        };
        let rf = if replication_factor == -1 {
            self.config.default_replication_factor
        } else {
            replication_factor
        };
        if rf < 1 {
            return Err(BrokerError::kafka(
                ResponseError::InvalidReplicationFactor,
                format!("replication factor must be at least 1, got {rf}"),
            ));
        }
        for (k, v) in &configs {
            validate_topic_config(k, v)?;
        }
        let id = Uuid::new_v4();
        let image = self.meta.image();
        let record = Controller::create_topic(&image, name, id, partitions, rf, configs.clone())?;
        let meta = TopicMeta {
            name: name.to_string(),
            id,
            partitions,
            replication_factor: rf,
            configs,
        };
        self.log_config_for(&meta)?;
        if validate_only {
            return Ok(meta);
        }
        self.meta.propose(vec![record]).await?;
        self.await_image(|img| img.topics.get(name).is_some_and(|t| t.id == id))
            .await?;
        tracing::info!(topic = name, partitions, "created topic");
        Ok(meta)
    }

    /// Delete a topic; every broker deletes its partition logs when it applies the record.
    pub async fn delete_topic(&self, name: &str) -> Result<TopicMeta, BrokerError> {
        let meta = self.topics.get(name).ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("topic {name} does not exist"),
            )
        })?;
        self.meta
            .propose(vec![MetadataRecord::DeleteTopic {
                name: name.to_string(),
            }])
            .await?;
        self.await_image(|img| img.topics.get(name).is_none_or(|t| t.id != meta.id))
            .await?;
        tracing::info!(topic = name, "deleted topic");
        Ok(meta)
    }

    /// Grow a topic to `total` partitions (increase only).
    pub async fn create_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let image = self.meta.image();
        let record = Controller::create_partitions(&image, name, total)?;
        if validate_only {
            return Ok(());
        }
        self.meta.propose(vec![record]).await?;
        self.await_image(|img| {
            img.topics
                .get(name)
                .is_some_and(|t| t.partitions.len() as i32 >= total)
        })
        .await
    }

    /// Change a topic's config overrides. `incremental = false` replaces the whole override set
    /// (AlterConfigs); `true` applies each entry (`None` deletes the override). One atomic
    /// proposal of SetConfig records; open logs pick the change up when the image applies.
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, Option<String>>,
        incremental: bool,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let mut meta = self.topics.get(name).ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("topic {name} does not exist"),
            )
        })?;
        let mut next = if incremental {
            meta.configs.clone()
        } else {
            BTreeMap::new()
        };
        for (k, v) in configs {
            match v {
                Some(v) => {
                    validate_topic_config(&k, &v)?;
                    next.insert(k, v);
                }
                None => {
                    if !LogConfig::is_log_config(&k) && !NON_LOG_TOPIC_CONFIGS.contains(&k.as_str())
                    {
                        return Err(BrokerError::kafka(
                            ResponseError::InvalidConfig,
                            format!("unknown topic config {k}"),
                        ));
                    }
                    next.remove(&k);
                }
            }
        }
        let old = std::mem::replace(&mut meta.configs, next.clone());
        self.log_config_for(&meta)?;
        if validate_only {
            return Ok(());
        }
        let resource = ConfigResource::Topic(name.to_string());
        let mut records: Vec<MetadataRecord> = old
            .keys()
            .filter(|k| !next.contains_key(*k))
            .map(|k| MetadataRecord::SetConfig {
                resource: resource.clone(),
                key: k.clone(),
                value: None,
            })
            .collect();
        records.extend(
            next.iter()
                .filter(|(k, v)| old.get(*k) != Some(v))
                .map(|(k, v)| MetadataRecord::SetConfig {
                    resource: resource.clone(),
                    key: k.clone(),
                    value: Some(v.clone()),
                }),
        );
        if records.is_empty() {
            return Ok(());
        }
        self.meta.propose(records).await?;
        self.await_image(|img| img.topics.get(name).is_some_and(|t| t.configs == next))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for (k, v) in [
            ("retention.ms", "x"),
            ("min.insync.replicas", "0"),
            ("no.such", "1"),
            ("cleanup.policy", "keep"),
        ] {
            assert_eq!(
                validate_topic_config(k, v).unwrap_err().code(),
                ResponseError::InvalidConfig.code()
            );
        }
    }
}
