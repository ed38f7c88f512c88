//! The metadata state machine. [`MetadataImage::apply`] validates a record against the current
//! state and either applies it completely or returns the error and changes nothing, so every node
//! that applies the same log reaches the same image.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::acl::AclBinding;
use crate::quota::QuotaStore;
use crate::records::{ConfigResource, Endpoint, MetadataRecord, PartitionInfo};
use crate::scram::{mechanism_name, ScramCredential, MAX_ITERATIONS, MIN_ITERATIONS};
use crate::MetaError;

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerInfo {
    /// Broker id.
    pub id: i32,
    /// Process incarnation.
    pub incarnation: Uuid,
    /// Client endpoints.
    pub listeners: Vec<Endpoint>,
    /// Rack.
    pub rack: Option<String>,
    /// Fenced brokers lead nothing and get no new replicas.
    pub fenced: bool,
}

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// Topic id.
    pub id: Uuid,
    /// Partitions, by index.
    pub partitions: Vec<PartitionInfo>,
    /// Config overrides.
    pub configs: BTreeMap<String, String>,
}

/// The applied metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    /// Brokers by id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicInfo>,
    /// Per-broker dynamic config overrides, by broker id (a broker's entry is dropped when its
    /// last override is deleted).
    pub broker_configs: BTreeMap<i32, BTreeMap<String, String>>,
    /// Cluster-wide dynamic broker config defaults (Kafka's BROKER resource `""`); snapshots
    /// written before they existed have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub broker_default_configs: BTreeMap<String, String>,
    /// Group config overrides (share groups' `share.*` configs), by group id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_configs: BTreeMap<String, BTreeMap<String, String>>,
    /// First producer id not yet handed out.
    pub next_producer_id: i64,
    /// The cluster id, once agreed (snapshots written before it existed have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// SCRAM credentials by user, then mechanism type id (1 = SHA-256, 2 = SHA-512).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scram_credentials: BTreeMap<String, BTreeMap<i8, ScramCredential>>,
    /// ACLs by id (snapshots written before ACLs existed have none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub acls: BTreeMap<Uuid, AclBinding>,
    /// Finalized feature levels set through UpdateFeatures, by name (snapshots written before
    /// they existed have none: the brokers' static levels apply).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub finalized_features: BTreeMap<String, i16>,
    /// Bumped by every feature level change (ApiVersions' `finalized_features_epoch`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub features_epoch: i64,
    /// Client quotas by entity (snapshots written before quotas existed have none).
    #[serde(default, skip_serializing_if = "QuotaStore::is_empty")]
    pub quotas: QuotaStore,
}

/// What applying a record produced (for the proposer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// Applied; nothing to report.
    Done,
    /// Producer ids `[start, start + count)` reserved.
    ProducerIds {
        /// First id.
        start: i64,
        /// How many.
        count: i64,
    },
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn unknown(topic: &str, partition: Option<i32>) -> MetaError {
    MetaError::UnknownTopicOrPartition(match partition {
        Some(p) => format!("{topic}-{p}"),
        None => topic.to_string(),
    })
}

impl MetadataImage {
    /// The partition, if it exists.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionInfo> {
        self.topics
            .get(topic)?
            .partitions
            .get(usize::try_from(partition).ok()?)
    }

    /// Unfenced brokers, by id.
    pub fn live_brokers(&self) -> Vec<&BrokerInfo> {
        self.brokers.values().filter(|b| !b.fenced).collect()
    }

    /// Topic name by id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<(&String, &TopicInfo)> {
        self.topics.iter().find(|(_, t)| t.id == id)
    }

    fn check_partitions(&self, parts: &[PartitionInfo]) -> Result<(), MetaError> {
        if parts.is_empty() {
            return Err(MetaError::InvalidPartitions("no partitions".into()));
        }
        for p in parts {
            if p.replicas.is_empty() {
                return Err(MetaError::InvalidReplicationFactor(
                    "a partition has no replicas".into(),
                ));
            }
            let mut sorted = p.replicas.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != p.replicas.len() {
                return Err(MetaError::InvalidRequest("duplicate replica".into()));
            }
            if p.isr.iter().any(|r| !p.replicas.contains(r)) {
                return Err(MetaError::InvalidRequest("ISR member not a replica".into()));
            }
            if p.leader != -1 && !p.isr.contains(&p.leader) {
                return Err(MetaError::InvalidRequest("leader not in the ISR".into()));
            }
            // Adding and removing replicas: distinct members of the assignment.
            let mut moving: Vec<i32> = p
                .adding_replicas
                .iter()
                .chain(&p.removing_replicas)
                .copied()
                .collect();
            let outside = moving.iter().any(|r| !p.replicas.contains(r));
            let n = moving.len();
            moving.sort_unstable();
            moving.dedup();
            if outside || moving.len() != n {
                return Err(MetaError::InvalidReplicaAssignment(format!(
                    "adding {:?} and removing {:?} must be distinct replicas of {:?}",
                    p.adding_replicas, p.removing_replicas, p.replicas
                )));
            }
        }
        Ok(())
    }

    /// Validate and apply one record. On `Err` the image is unchanged.
    pub fn apply(&mut self, rec: &MetadataRecord) -> Result<Applied, MetaError> {
        match rec {
            MetadataRecord::RegisterBroker {
                id,
                incarnation,
                listeners,
                rack,
            } => {
                let fenced = self
                    .brokers
                    .get(id)
                    .is_none_or(|b| b.incarnation != *incarnation || b.fenced);
                self.brokers.insert(
                    *id,
                    BrokerInfo {
                        id: *id,
                        incarnation: *incarnation,
                        listeners: listeners.clone(),
                        rack: rack.clone(),
                        fenced,
                    },
                );
            }
            MetadataRecord::FenceBroker { id } | MetadataRecord::UnfenceBroker { id } => {
                let b = self
                    .brokers
                    .get_mut(id)
                    .ok_or_else(|| MetaError::BrokerNotAvailable(format!("broker {id}")))?;
                b.fenced = matches!(rec, MetadataRecord::FenceBroker { .. });
            }
            MetadataRecord::UnregisterBroker { id } => match self.brokers.get(id) {
                None => {
                    return Err(MetaError::BrokerIdNotRegistered(format!(
                        "broker {id} is not registered"
                    )))
                }
                Some(b) if !b.fenced => {
                    return Err(MetaError::InvalidRequest(format!(
                        "broker {id} is active (unfenced): shut it down before unregistering it"
                    )))
                }
                Some(_) => {
                    self.brokers.remove(id);
                }
            },
            MetadataRecord::CreateTopic {
                name,
                id,
                partitions,
                configs,
            } => {
                if self.topics.contains_key(name) {
                    return Err(MetaError::TopicAlreadyExists(name.clone()));
                }
                if self.topic_by_id(*id).is_some() {
                    return Err(MetaError::InvalidRequest(format!("topic id {id} in use")));
                }
                self.check_partitions(partitions)?;
                self.topics.insert(
                    name.clone(),
                    TopicInfo {
                        id: *id,
                        partitions: partitions.clone(),
                        configs: configs.clone(),
                    },
                );
            }
            MetadataRecord::CreatePartitions {
                topic,
                partitions,
                expected_count,
            } => {
                self.check_partitions(partitions)?;
                let t = self
                    .topics
                    .get_mut(topic)
                    .ok_or_else(|| unknown(topic, None))?;
                if let Some(n) = expected_count {
                    if t.partitions.len() as i32 != *n {
                        return Err(MetaError::InvalidPartitions(format!(
                            "topic {topic} has {} partitions, the request expected {n}",
                            t.partitions.len()
                        )));
                    }
                }
                t.partitions.extend(partitions.iter().cloned());
            }
            MetadataRecord::ChangePartition {
                topic,
                partition,
                leader,
                isr,
                partition_epoch,
            } => {
                let p = self
                    .topics
                    .get(topic)
                    .and_then(|t| t.partitions.get(usize::try_from(*partition).ok()?))
                    .ok_or_else(|| unknown(topic, Some(*partition)))?;
                if let Some(e) = partition_epoch {
                    if *e != p.partition_epoch {
                        return Err(MetaError::InvalidUpdateVersion(format!(
                            "{topic}-{partition}: partition epoch {e}, current {}",
                            p.partition_epoch
                        )));
                    }
                }
                let mut next = p.clone();
                if let Some(isr) = isr {
                    next.isr = isr.clone();
                }
                if let Some(l) = leader {
                    if *l != next.leader {
                        next.leader = *l;
                        next.leader_epoch += 1;
                    }
                }
                next.partition_epoch += 1;
                self.check_partitions(std::slice::from_ref(&next))?;
                if let Some(t) = self.topics.get_mut(topic) {
                    t.partitions[*partition as usize] = next;
                }
            }
            MetadataRecord::SetConfig {
                resource,
                key,
                value,
            } => {
                let map = match resource {
                    ConfigResource::Topic(t) => {
                        &mut self
                            .topics
                            .get_mut(t)
                            .ok_or_else(|| unknown(t, None))?
                            .configs
                    }
                    ConfigResource::Broker(b) => self.broker_configs.entry(*b).or_default(),
                    ConfigResource::BrokerDefault => &mut self.broker_default_configs,
                    ConfigResource::Group(g) => self.group_configs.entry(g.clone()).or_default(),
                };
                match value {
                    Some(v) => map.insert(key.clone(), v.clone()),
                    None => map.remove(key),
                };
                match resource {
                    ConfigResource::Group(g)
                        if self.group_configs.get(g).is_some_and(|m| m.is_empty()) =>
                    {
                        self.group_configs.remove(g);
                    }
                    ConfigResource::Broker(b)
                        if self.broker_configs.get(b).is_some_and(|m| m.is_empty()) =>
                    {
                        self.broker_configs.remove(b);
                    }
                    _ => {}
                }
            }
            MetadataRecord::AllocateProducerIds { count, .. } => {
                if *count < 1 {
                    return Err(MetaError::InvalidRequest(
                        "producer id block of size < 1".into(),
                    ));
                }
                let start = self.next_producer_id;
                self.next_producer_id += count;
                return Ok(Applied::ProducerIds {
                    start,
                    count: *count,
                });
            }
            MetadataRecord::DeleteTopic { name } => {
                self.topics
                    .remove(name)
                    .ok_or_else(|| unknown(name, None))?;
            }
            MetadataRecord::ReassignPartition {
                topic,
                partition,
                replicas,
                adding_replicas,
                removing_replicas,
                isr,
                leader,
                partition_epoch,
            } => {
                let p = self
                    .partition(topic, *partition)
                    .ok_or_else(|| unknown(topic, Some(*partition)))?;
                if *partition_epoch != p.partition_epoch {
                    return Err(MetaError::InvalidUpdateVersion(format!(
                        "{topic}-{partition}: partition epoch {partition_epoch}, current {}",
                        p.partition_epoch
                    )));
                }
                if let Some(b) = adding_replicas
                    .iter()
                    .find(|b| !self.brokers.contains_key(b))
                {
                    return Err(MetaError::InvalidReplicaAssignment(format!(
                        "broker {b} is not registered"
                    )));
                }
                let mut next = p.clone();
                next.replicas = replicas.clone();
                next.adding_replicas = adding_replicas.clone();
                next.removing_replicas = removing_replicas.clone();
                next.isr = isr.clone();
                if *leader != next.leader {
                    next.leader = *leader;
                    next.leader_epoch += 1;
                }
                next.partition_epoch += 1;
                self.check_partitions(std::slice::from_ref(&next))?;
                if let Some(t) = self.topics.get_mut(topic) {
                    t.partitions[*partition as usize] = next;
                }
            }
            MetadataRecord::SetClusterId { id } => match &self.cluster_id {
                None => self.cluster_id = Some(id.clone()),
                Some(have) if have == id => {}
                Some(have) => {
                    return Err(MetaError::InvalidRequest(format!(
                        "the cluster id is {have}; it cannot become {id}"
                    )))
                }
            },
            MetadataRecord::UserScramCredential {
                user,
                mechanism,
                credential,
            } => self.apply_scram(user, *mechanism, credential.as_ref())?,
            MetadataRecord::CreateAcl { id, acl } => {
                if let Some(why) = acl.invalid_reason() {
                    return Err(MetaError::InvalidRequest(why));
                }
                if self.acls.values().any(|a| a == acl) {
                    return Ok(Applied::Done);
                }
                if self.acls.contains_key(id) {
                    return Err(MetaError::InvalidRequest(format!("acl id {id} in use")));
                }
                self.acls.insert(*id, acl.clone());
            }
            MetadataRecord::RemoveAcl { id } => {
                self.acls.remove(id);
            }
            MetadataRecord::FeatureLevel { name, level } => {
                if name.is_empty() || *level < 0 {
                    return Err(MetaError::InvalidRequest(format!(
                        "bad feature level record: {name:?} at {level}"
                    )));
                }
                if *level == 0 {
                    self.finalized_features.remove(name);
                } else {
                    self.finalized_features.insert(name.clone(), *level);
                }
                self.features_epoch += 1;
            }
            MetadataRecord::ClientQuota {
                entity,
                key,
                value,
                remove,
            } => {
                let value = (!remove).then_some(value.0);
                self.quotas
                    .apply(entity, key, value)
                    .map_err(MetaError::InvalidRequest)?;
            }
        }
        Ok(Applied::Done)
    }

    fn apply_scram(
        &mut self,
        user: &str,
        mechanism: i8,
        credential: Option<&ScramCredential>,
    ) -> Result<(), MetaError> {
        if user.is_empty() || mechanism_name(mechanism).is_none() {
            return Err(MetaError::InvalidRequest(format!(
                "bad SCRAM credential record: user {user:?}, mechanism {mechanism}"
            )));
        }
        match credential {
            Some(c) => {
                if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&c.iterations) {
                    return Err(MetaError::InvalidRequest(format!(
                        "SCRAM iterations {} outside {MIN_ITERATIONS}..={MAX_ITERATIONS}",
                        c.iterations
                    )));
                }
                self.scram_credentials
                    .entry(user.to_string())
                    .or_default()
                    .insert(mechanism, c.clone());
            }
            None => {
                let per_user = self.scram_credentials.get_mut(user);
                if per_user.and_then(|m| m.remove(&mechanism)).is_none() {
                    return Err(MetaError::InvalidRequest(format!(
                        "no SCRAM credential of user {user} for mechanism {mechanism}"
                    )));
                }
                if self
                    .scram_credentials
                    .get(user)
                    .is_some_and(|m| m.is_empty())
                {
                    self.scram_credentials.remove(user);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
