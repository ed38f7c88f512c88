//! Topic administration: create, delete, add partitions and change configs, as proposals to
//! the metadata quorum that return once this broker has applied them (so a topic created here
//! can be produced to at once), or, when applying takes longer than the request's timeout
//! (thousands of new partitions), once they are committed (`proposal.rs`).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use uuid::Uuid;
use weir_log::LogConfig;
use weir_meta::controller::Controller;
use weir_meta::records::{ConfigResource, MetadataRecord};

use crate::applier::MetadataApplier;
use crate::config::topic::{
    validate_topic_config, validate_topic_name, IGNORED_TOPIC_CONFIGS, NON_LOG_TOPIC_CONFIGS,
};
use crate::error::BrokerError;
use crate::metadata::topic_meta::TopicMeta;
use crate::metadata::view::MetadataView;
use std::sync::Arc;
use tokio::time::Instant;
use weir_meta::raft::MetaNode;

/// The broker defaults topic creation falls back to.
#[derive(Debug, Clone, Copy)]
pub struct TopicDefaults {
    /// `num.partitions`.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub replication_factor: i16,
}

/// Creates, deletes and alters topics through the metadata quorum.
#[derive(Debug)]
pub struct TopicAdmin {
    pub(super) quorum: Arc<MetaNode>,
    pub(super) view: Arc<MetadataView>,
    pub(super) applier: Arc<MetadataApplier>,
    defaults: TopicDefaults,
}

impl TopicAdmin {
    /// Topic administration over `quorum`, waiting for changes through `applier`.
    pub fn new(
        quorum: Arc<MetaNode>,
        view: Arc<MetadataView>,
        applier: Arc<MetadataApplier>,
        defaults: TopicDefaults,
    ) -> Self {
        TopicAdmin {
            quorum,
            view,
            applier,
            defaults,
        }
    }

    /// Create a topic (or only validate the request). -1 partitions / replication factor mean the
    /// broker defaults. The CreateTopic record (replicas placed by the controller logic on the
    /// unfenced brokers) is committed through Raft; this returns once the local image has it and
    /// the local partition logs exist, or by `deadline`: a success when the topic is committed
    /// and in the local image (its logs are still being created), else NOT_CONTROLLER /
    /// REQUEST_TIMED_OUT.
    /// Concurrent creations of one name: Raft orders them and the second fails validation with
    /// TOPIC_ALREADY_EXISTS (a retry of our own committed record is a success: same topic id).
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
        deadline: Instant,
    ) -> Result<TopicMeta, BrokerError> {
        validate_topic_name(name)?;
        if self.view.topic(name).is_some() {
            return Err(BrokerError::kafka(
                ResponseError::TopicAlreadyExists,
                format!("topic {name} already exists"),
            ));
        }
        let partitions = if partitions == -1 {
            self.defaults.num_partitions
        } else {
            partitions
        };
        let rf = if replication_factor == -1 {
            self.defaults.replication_factor
        } else {
            replication_factor
        };
        if rf < 1 {
            return Err(BrokerError::kafka(
                ResponseError::InvalidReplicationFactor,
                format!("replication factor must be at least 1, got {rf}"),
            ));
        }
        let id = Uuid::new_v4();
        let image = self.view.image();
        let record = Controller::create_topic(&image, name, id, partitions, rf, configs.clone())?;
        self.commit_new_topic(name, id, record, configs, validate_only, deadline)
            .await
    }

    /// Create a topic whose replicas the operator chose (`assignment[i]`: partition i's
    /// replicas), checked as Kafka does (`Controller::create_topic_assigned`); otherwise as
    /// [`create_topic`](Self::create_topic).
    pub async fn create_topic_assigned(
        &self,
        name: &str,
        assignment: &[Vec<i32>],
        configs: BTreeMap<String, String>,
        validate_only: bool,
        deadline: Instant,
    ) -> Result<TopicMeta, BrokerError> {
        validate_topic_name(name)?;
        let id = Uuid::new_v4();
        let image = self.view.image();
        let record =
            Controller::create_topic_assigned(&image, name, id, assignment, configs.clone())?;
        self.commit_new_topic(name, id, record, configs, validate_only, deadline)
            .await
    }

    /// Validate `configs`, then commit the CreateTopic `record` (unless `validate_only`).
    async fn commit_new_topic(
        &self,
        name: &str,
        id: Uuid,
        record: MetadataRecord,
        configs: BTreeMap<String, String>,
        validate_only: bool,
        deadline: Instant,
    ) -> Result<TopicMeta, BrokerError> {
        for (k, v) in &configs {
            validate_topic_config(k, v)?;
        }
        let MetadataRecord::CreateTopic { partitions, .. } = &record else {
            return Err(BrokerError::kafka(
                ResponseError::UnknownServerError,
                "a topic creation produced another record",
            ));
        };
        let (count, rf) = (
            partitions.len() as i32,
            partitions.first().map_or(0, |p| p.replicas.len() as i16),
        );
        let meta = TopicMeta {
            name: name.to_string(),
            id,
            partitions: count,
            replication_factor: rf,
            configs,
        };
        self.applier.log_config(&meta.configs)?;
        if validate_only {
            return Ok(meta);
        }
        self.commit(vec![record], deadline, |img| {
            img.topics.get(name).is_some_and(|t| t.id == id)
        })
        .await?;
        tracing::info!(topic = name, partitions = count, "created topic");
        Ok(meta)
    }

    /// Wait until topic `name` is in the applied image (created through another broker), then
    /// return it; UNKNOWN_TOPIC_OR_PARTITION if it is deleted again meanwhile.
    pub async fn await_topic(&self, name: &str) -> Result<TopicMeta, BrokerError> {
        self.applier
            .await_image(|img| img.topics.contains_key(name))
            .await?;
        self.view.topic(name).ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("topic {name} vanished"),
            )
        })
    }

    /// Delete a topic by `deadline`; every broker deletes its partition logs when it applies the
    /// record.
    pub async fn delete_topic(
        &self,
        name: &str,
        deadline: Instant,
    ) -> Result<TopicMeta, BrokerError> {
        let meta = self.view.topic(name).ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("topic {name} does not exist"),
            )
        })?;
        let record = MetadataRecord::DeleteTopic {
            name: name.to_string(),
        };
        self.commit(vec![record], deadline, |img| {
            img.topics.get(name).is_none_or(|t| t.id != meta.id)
        })
        .await?;
        tracing::info!(topic = name, "deleted topic");
        Ok(meta)
    }

    /// Grow a topic to `total` partitions (increase only) by `deadline`.
    pub async fn create_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
        deadline: Instant,
    ) -> Result<(), BrokerError> {
        let image = self.view.image();
        let record = Controller::create_partitions(&image, name, total)?;
        if validate_only {
            return Ok(());
        }
        self.commit(vec![record], deadline, |img| {
            img.topics
                .get(name)
                .is_some_and(|t| t.partitions.len() as i32 >= total)
        })
        .await
    }

    /// Change a topic's config overrides. `incremental = false` replaces the whole override set
    /// (AlterConfigs); `true` applies each entry (`None` deletes the override). One atomic
    /// proposal of SetConfig records (by `deadline`); open logs pick the change up when the image
    /// applies.
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, Option<String>>,
        incremental: bool,
        validate_only: bool,
        deadline: Instant,
    ) -> Result<(), BrokerError> {
        let mut meta = self.view.topic(name).ok_or_else(|| {
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
                    if !LogConfig::is_log_config(&k)
                        && !NON_LOG_TOPIC_CONFIGS.contains(&k.as_str())
                        && !IGNORED_TOPIC_CONFIGS.contains(&k.as_str())
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
        self.applier.log_config(&meta.configs)?;
        if validate_only {
            return Ok(());
        }
        let resource = ConfigResource::Topic(name.to_string());
        let records = super::config_records::config_changes(&resource, &old, &next);
        if records.is_empty() {
            return Ok(());
        }
        self.commit(records, deadline, |img| {
            img.topics.get(name).is_some_and(|t| t.configs == next)
        })
        .await
    }
}
