//! The metadata records (what the Raft log holds), with serde so they travel as JSON in Raft RPCs
//! and in the on-disk log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::acl::AclBinding;
use crate::quota::{QuotaEntity, QuotaValue};

/// One advertised endpoint of a broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Listener name, e.g. PLAINTEXT.
    pub name: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// One partition's assignment and leadership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// Replica broker ids, preferred leader first. During a reassignment (KIP-455): the target
    /// replicas followed by the replicas being removed.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Leader broker id, -1 when there is none.
    pub leader: i32,
    /// Bumped on every leader change.
    pub leader_epoch: i32,
    /// Bumped on every change of the partition.
    pub partition_epoch: i32,
    /// Replicas a reassignment in progress adds (members of `replicas`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<i32>,
    /// Replicas a reassignment in progress removes (members of `replicas`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<i32>,
}

impl PartitionInfo {
    /// A partition led by the first of `replicas`, all in sync, at epoch 0.
    pub fn new(replicas: Vec<i32>) -> Self {
        PartitionInfo {
            leader: replicas.first().copied().unwrap_or(-1),
            isr: replicas.clone(),
            replicas,
            ..PartitionInfo::default()
        }
    }

    /// True while a reassignment is in progress.
    pub fn is_reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }

    /// The replicas the partition will have once its reassignment completes (`replicas` when
    /// none is in progress).
    pub fn target_replicas(&self) -> Vec<i32> {
        without(&self.replicas, &self.removing_replicas)
    }

    /// The replicas the partition had before its reassignment started (what cancelling it
    /// restores; `replicas` when none is in progress).
    pub fn original_replicas(&self) -> Vec<i32> {
        without(&self.replicas, &self.adding_replicas)
    }
}

/// `list` minus the members of `remove`, in order.
pub fn without(list: &[i32], remove: &[i32]) -> Vec<i32> {
    list.iter()
        .copied()
        .filter(|r| !remove.contains(r))
        .collect()
}

/// What a config record applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConfigResource {
    /// A topic by name.
    Topic(String),
    /// A broker by id (its per-broker dynamic configs, Kafka's BROKER resource named "N").
    Broker(i32),
    /// The cluster-wide dynamic broker default (Kafka's BROKER resource named "").
    BrokerDefault,
    /// A group by id (share group configs, KIP-932: resource type GROUP).
    Group(String),
}

/// A record of the metadata log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// A broker (re)registers; a new incarnation replaces the old registration (fenced until its
    /// first heartbeat is seen by the controller).
    RegisterBroker {
        /// Broker id.
        id: i32,
        /// Unique per process start.
        incarnation: Uuid,
        /// Client endpoints.
        listeners: Vec<Endpoint>,
        /// Rack, for rack-aware placement.
        rack: Option<String>,
    },
    /// The broker stopped heartbeating: it leads nothing and is not placed on.
    FenceBroker {
        /// Broker id.
        id: i32,
    },
    /// The broker heartbeats again.
    UnfenceBroker {
        /// Broker id.
        id: i32,
    },
    /// An operator removes a fenced broker's registration (UnregisterBroker, Kafka's
    /// `UnregisterBrokerRecord`): refused for an unknown broker and for an unfenced (active)
    /// one. Its partitions keep it as a replica; it is placed on again only once it registers.
    UnregisterBroker {
        /// Broker id.
        id: i32,
    },
    /// A new topic with its partitions.
    CreateTopic {
        /// Name.
        name: String,
        /// Topic id.
        id: Uuid,
        /// Partitions 0..n.
        partitions: Vec<PartitionInfo>,
        /// Topic config overrides.
        configs: BTreeMap<String, String>,
    },
    /// More partitions for a topic (appended after the existing ones).
    CreatePartitions {
        /// Topic.
        topic: String,
        /// The new partitions.
        partitions: Vec<PartitionInfo>,
        /// The partition count the topic must have for the record to apply (so a proposal
        /// retried after an unknown outcome never adds the partitions twice); `None` in records
        /// written before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected_count: Option<i32>,
    },
    /// Leader and/or ISR change of one partition. Applied only if `partition_epoch` matches (when
    /// given); a leader change bumps the leader epoch; every change bumps the partition epoch.
    ChangePartition {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// New leader.
        leader: Option<i32>,
        /// New ISR.
        isr: Option<Vec<i32>>,
        /// Expected current partition epoch.
        partition_epoch: Option<i32>,
    },
    /// Set (Some) or delete (None) a config.
    SetConfig {
        /// Resource.
        resource: ConfigResource,
        /// Key.
        key: String,
        /// Value.
        value: Option<String>,
    },
    /// Reserve the next block of producer ids for a broker.
    AllocateProducerIds {
        /// Requesting broker.
        broker: i32,
        /// Block size.
        count: i64,
    },
    /// Delete a topic.
    DeleteTopic {
        /// Name.
        name: String,
    },
    /// A partition reassignment (KIP-455) starts, is cancelled or completes: the partition's
    /// whole new assignment as the controller computed it. Applied only at `partition_epoch`;
    /// bumps the partition epoch, and the leader epoch when the leader changes. (Kafka 3.6+ also
    /// bumps the leader epoch when replicas leave while the leader stays; Weir does not, so
    /// the leader's replication state and its acks=all waits carry on undisturbed.)
    ReassignPartition {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// New replicas (target first, then the replicas being removed).
        replicas: Vec<i32>,
        /// Replicas being added (empty once complete).
        adding_replicas: Vec<i32>,
        /// Replicas being removed (empty once complete).
        removing_replicas: Vec<i32>,
        /// New ISR.
        isr: Vec<i32>,
        /// New leader (-1 = none).
        leader: i32,
        /// Expected current partition epoch.
        partition_epoch: i32,
    },
    /// The cluster id (`cluster.id` of `meta.properties`), agreed through the quorum: the first
    /// record sets it; a later one with the same id is a no-op, with another id it is refused.
    SetClusterId {
        /// The Kafka-style cluster id (22 characters of base64url).
        id: String,
    },
    /// Set (`credential` Some) or delete (None) a user's SCRAM credential for one mechanism
    /// (Kafka's `UserScramCredentialRecord` / `RemoveUserScramCredentialRecord`). Deleting one
    /// that does not exist is refused.
    UserScramCredential {
        /// User name.
        user: String,
        /// Mechanism type id (1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512).
        mechanism: i8,
        /// The salted credential; None deletes it.
        credential: Option<crate::scram::ScramCredential>,
    },
    /// An ACL is created (Kafka's `AccessControlEntryRecord`). Creating a binding that already
    /// exists (under any id) is a no-op, so a retried proposal never stores it twice; an id in
    /// use by another binding is refused.
    CreateAcl {
        /// The ACL's id.
        id: Uuid,
        /// The ACL.
        acl: AclBinding,
    },
    /// An ACL is removed (Kafka's `RemoveAccessControlEntryRecord`); an unknown id is a no-op
    /// (a retried removal).
    RemoveAcl {
        /// The ACL's id.
        id: Uuid,
    },
    /// A cluster feature's finalized level changes (UpdateFeatures, Kafka's `FeatureLevelRecord`);
    /// level 0 removes the feature. Refused for an empty name or a negative level. Which
    /// features and levels exist is the broker's check.
    FeatureLevel {
        /// Feature name, e.g. `transaction.version`.
        name: String,
        /// The new finalized level.
        level: i16,
    },
    /// A client quota is set or removed (Kafka's `ClientQuotaRecord`). Setting replaces the
    /// value; removing an absent quota is a no-op (a retried proposal). Refused (nothing changes)
    /// for an invalid entity, an unknown key or a non-positive value.
    ClientQuota {
        /// The entity: entity type (`user`, `client-id`, `ip`) → name, `None` = default entity.
        entity: QuotaEntity,
        /// The quota key, e.g. `producer_byte_rate`.
        key: String,
        /// The value (ignored when `remove`).
        value: QuotaValue,
        /// Remove the quota instead of setting it.
        remove: bool,
    },
}
