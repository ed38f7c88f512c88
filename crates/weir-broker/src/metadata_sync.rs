//! The broker side of the metadata log: register and heartbeat with the active controller, keep
//! the local partition logs in line with the applied image (create logs for assigned partitions,
//! apply config changes and leader epochs, delete logs of deleted topics and of partitions a
//! reassignment moved away), and move a pre-Raft data dir's topics (`weir-topics.json`) onto the
//! log once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use weir_log::TopicPartition;
use weir_meta::image::MetadataImage;
use weir_meta::records::{Endpoint, MetadataRecord, PartitionInfo};

use crate::broker::{Broker, TOPICS_FILE};
use crate::error::BrokerError;
use crate::topics::{read_legacy, TopicMeta};

/// How long an admin operation waits for its committed change to reach the local image.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(10);

impl Broker {
    /// Wait until the local image satisfies `cond` (then reconcile the logs with it), or fail
    /// with REQUEST_TIMED_OUT after [`APPLY_TIMEOUT`].
    pub async fn await_image(
        &self,
        cond: impl Fn(&MetadataImage) -> bool,
    ) -> Result<(), BrokerError> {
        let mut rx = self.meta.subscribe();
        let deadline = tokio::time::Instant::now() + APPLY_TIMEOUT;
        loop {
            let img = rx.borrow_and_update().clone();
            if cond(&img) {
                return self.reconcile(&img);
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(BrokerError::kafka(
                    kafka_protocol::error::ResponseError::RequestTimedOut,
                    "the committed metadata change did not reach this broker in time",
                ));
            }
        }
    }

    /// Bring local logs in line with `image`: open (creating if needed) every partition this node
    /// replicates, with the topic's effective config; set the leader epoch where this node leads.
    /// A partition opened for the first time in this process starts with its high watermark at
    /// its log end (every byte on disk was acknowledged only once durable).
    pub fn reconcile(&self, image: &MetadataImage) -> Result<(), BrokerError> {
        let _serial = self
            .reconcile_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let node = self.config.node_id;
        self.stop_following_led(image);
        let mut replicated = HashMap::new();
        for (name, t) in &image.topics {
            let meta = TopicMeta {
                name: name.clone(),
                id: t.id,
                partitions: t.partitions.len() as i32,
                replication_factor: t
                    .partitions
                    .first()
                    .map(|p| p.target_replicas().len())
                    .unwrap_or(1) as i16,
                configs: t.configs.clone(),
            };
            let cfg = self.log_config_for(&meta)?;
            for (i, p) in t.partitions.iter().enumerate() {
                if !p.replicas.contains(&node) {
                    continue;
                }
                let tp = TopicPartition::new(name.clone(), i as i32);
                replicated.insert(tp.clone(), t.id);
                let fresh = self.logs.get(&tp).is_none();
                let log = self.logs.get_or_create(&tp, cfg.clone())?;
                // A replicated partition keeps its checkpointed high watermark: bytes past it
                // may never have reached the ISR.
                if fresh && p.replicas.len() == 1 {
                    log.set_high_watermark(log.log_end_offset());
                } else if log.config() != cfg {
                    log.update_config(cfg.clone());
                }
                if p.leader == node && log.latest_epoch().is_none_or(|e| e < p.leader_epoch) {
                    log.assign_epoch(p.leader_epoch, log.log_end_offset())?;
                }
            }
        }
        // Topics that left the image while this process ran are deleted locally.
        let mut known = self.known_topics.lock().unwrap_or_else(|p| p.into_inner());
        let now: BTreeSet<String> = image.topics.keys().cloned().collect();
        for gone in known.difference(&now) {
            for tp in self.logs.partitions_open() {
                if tp.topic == *gone {
                    self.logs.delete(&tp)?;
                }
            }
            tracing::info!(topic = %gone, "topic deleted from the metadata log: local logs removed");
        }
        *known = now;
        drop(known);
        self.reconcile_replication(image);
        self.sync_group_ownership();
        self.delete_moved_replicas(image, replicated);
        Ok(())
    }

    /// Delete the local logs of partitions this node replicated in the previous image of this
    /// process and no longer does (a reassignment removed it), as Kafka deletes a removed
    /// replica. Called after replication stopped following them. Only partitions of topics that
    /// still exist with the same id; a partition this node replicates is never deleted. (A
    /// replica removed while this process was down stays on disk.)
    fn delete_moved_replicas(
        &self,
        image: &MetadataImage,
        replicated: HashMap<TopicPartition, uuid::Uuid>,
    ) {
        let node = self.config.node_id;
        let mut known = self
            .known_replicas
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let previous = std::mem::replace(&mut *known, replicated);
        for (tp, id) in previous {
            if known.contains_key(&tp) {
                continue;
            }
            let moved = image.topics.get(&tp.topic).is_some_and(|t| {
                t.id == id
                    && usize::try_from(tp.partition)
                        .ok()
                        .and_then(|i| t.partitions.get(i))
                        .is_some_and(|p| !p.replicas.contains(&node))
            });
            if !moved {
                continue;
            }
            match self.logs.delete(&tp) {
                Ok(()) => {
                    tracing::info!(partition = %tp.dir_name(), "no longer a replica: local log deleted");
                }
                Err(e) => {
                    tracing::warn!(partition = %tp.dir_name(), error = %e, "could not delete a removed replica; retrying");
                    known.insert(tp, id);
                }
            }
        }
    }

    /// Check that this broker leads `topic`-`partition` and that the client's
    /// `current_leader_epoch` (-1 = unchecked) is the leader epoch, as Kafka does:
    /// NOT_LEADER_OR_FOLLOWER (6), UNKNOWN_LEADER_EPOCH (75, newer) / FENCED_LEADER_EPOCH (74, older).
    /// Returns the leader epoch.
    pub fn check_leader(
        &self,
        topic: &str,
        partition: i32,
        current_leader_epoch: i32,
    ) -> Result<i32, BrokerError> {
        use kafka_protocol::error::ResponseError as E;
        let p = self.partition_info(topic, partition).ok_or_else(|| {
            BrokerError::kafka(
                E::UnknownTopicOrPartition,
                format!("{topic}-{partition} does not exist"),
            )
        })?;
        if p.leader != self.config.node_id {
            return Err(BrokerError::kafka(
                E::NotLeaderOrFollower,
                format!(
                    "broker {} does not lead {topic}-{partition} (leader {})",
                    self.config.node_id, p.leader
                ),
            ));
        }
        if current_leader_epoch > p.leader_epoch {
            return Err(BrokerError::kafka(
                E::UnknownLeaderEpoch,
                format!(
                    "leader epoch {current_leader_epoch} is newer than {}",
                    p.leader_epoch
                ),
            ));
        }
        if current_leader_epoch >= 0 && current_leader_epoch < p.leader_epoch {
            return Err(BrokerError::kafka(
                E::FencedLeaderEpoch,
                format!(
                    "leader epoch {current_leader_epoch} is older than {}",
                    p.leader_epoch
                ),
            ));
        }
        Ok(p.leader_epoch)
    }

    /// The partition's assignment and leadership from the image.
    pub fn partition_info(&self, topic: &str, partition: i32) -> Option<PartitionInfo> {
        self.topics.partition(topic, partition)
    }

    /// Move `weir-topics.json` (pre-Raft data dirs) onto the metadata log, keeping topic ids, then
    /// rename it to `weir-topics.json.migrated`.
    pub(crate) async fn migrate_legacy_topics(&self) -> Result<(), BrokerError> {
        let path = self.log_dir().join(TOPICS_FILE);
        let Some(topics) = read_legacy(&path)? else {
            return Ok(());
        };
        let image = self.meta.image();
        let node = self.config.node_id;
        let records: Vec<MetadataRecord> = topics
            .into_iter()
            .filter(|t| !image.topics.contains_key(&t.name))
            .map(|t| MetadataRecord::CreateTopic {
                name: t.name,
                id: t.id,
                partitions: (0..t.partitions)
                    .map(|_| PartitionInfo::new(vec![node]))
                    .collect(),
                configs: t.configs,
            })
            .collect();
        let n = records.len();
        if n > 0 {
            self.meta.propose(records).await?;
        }
        std::fs::rename(&path, path.with_extension("json.migrated"))?;
        tracing::info!(topics = n, "moved weir-topics.json onto the metadata log");
        Ok(())
    }

    /// Register this broker (a new incarnation) and send the first heartbeat, which unfences it.
    pub(crate) async fn register(&self) -> Result<(), BrokerError> {
        let (host, port) = self.advertised_endpoint();
        let record = MetadataRecord::RegisterBroker {
            id: self.config.node_id,
            incarnation: self.incarnation,
            listeners: vec![Endpoint {
                name: "PLAINTEXT".into(),
                host,
                port: port as u16,
            }],
            rack: self.config.broker_rack.clone(),
        };
        self.meta.propose(vec![record]).await?;
        self.meta.heartbeat(self.config.node_id).await?;
        Ok(())
    }
}

/// Follow the metadata log for the life of the process: reconcile local logs on every applied
/// change, and register + heartbeat with the active controller every
/// `broker.heartbeat.interval.ms` (re-registering when the controller lost this incarnation).
pub async fn follow(broker: Arc<Broker>) {
    let mut rx = broker.meta.subscribe();
    let period = Duration::from_millis(broker.config.broker_heartbeat_interval_ms.max(50));
    let mut beat = tokio::time::interval(period);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
                let img = rx.borrow_and_update().clone();
                let b = broker.clone();
                match tokio::task::spawn_blocking(move || b.reconcile(&img)).await {
                    Ok(Ok(())) => broker.ensure_fetchers(),
                    Ok(Err(e)) => tracing::warn!(error = %e, "applying metadata to local logs failed"),
                    Err(e) => tracing::warn!(error = %e, "metadata reconcile task failed"),
                }
            }
            _ = beat.tick() => {
                if broker.is_shutting_down() {
                    return;
                }
                if !broker.is_broker() || broker.replication.is_leaving() {
                    continue;
                }
                let registered = broker
                    .meta
                    .image()
                    .brokers
                    .get(&broker.config.node_id)
                    .is_some_and(|b| b.incarnation == broker.incarnation);
                let r = if registered {
                    broker
                        .meta
                        .heartbeat(broker.config.node_id)
                        .await
                        .map_err(BrokerError::from)
                } else {
                    broker.register().await
                };
                if let Err(e) = r {
                    tracing::debug!(error = %e, "controller heartbeat failed; retrying");
                }
            }
        }
    }
}
