//! Topic metadata as the broker sees it: a read-only view of the Raft metadata image
//! (`weir-meta`). Changes go through `topic_admin` as metadata records.
//!
//! Before the Raft controller, Weir kept topics in `<log_dir>/weir-topics.json`; [`read_legacy`]
//! reads that file once so `Broker::open` can move its topics onto the metadata log.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use weir_meta::raft::MetaNode;
use weir_meta::records::PartitionInfo;

use crate::BrokerError;

/// One topic's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    /// Topic name.
    pub name: String,
    /// Topic id (never nil).
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i16,
    /// Topic-level config overrides only.
    pub configs: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    topics: Vec<TopicMeta>,
}

/// Read the pre-Raft topic table (`weir-topics.json`); None when the file does not exist.
pub fn read_legacy(path: &Path) -> Result<Option<Vec<TopicMeta>>, BrokerError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let d: OnDisk = serde_json::from_slice(&bytes).map_err(|e| {
                BrokerError::Config(format!("corrupt topic metadata {}: {e}", path.display()))
            })?;
            Ok(Some(d.topics))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Read access to the topics of the applied metadata image.
#[derive(Debug, Clone)]
pub struct TopicStore {
    meta: Arc<MetaNode>,
}

fn to_meta(name: &str, t: &weir_meta::image::TopicInfo) -> TopicMeta {
    TopicMeta {
        name: name.to_string(),
        id: t.id,
        partitions: t.partitions.len() as i32,
        replication_factor: t
            .partitions
            .first()
            .map(|p| p.target_replicas().len())
            .unwrap_or(1) as i16,
        configs: t.configs.clone(),
    }
}

impl TopicStore {
    /// A view over `meta`'s image.
    pub fn new(meta: Arc<MetaNode>) -> Self {
        TopicStore { meta }
    }

    /// The topic called `name`.
    pub fn get(&self, name: &str) -> Option<TopicMeta> {
        let img = self.meta.image();
        img.topics.get(name).map(|t| to_meta(name, t))
    }

    /// The topic with id `id`.
    pub fn get_by_id(&self, id: Uuid) -> Option<TopicMeta> {
        let img = self.meta.image();
        img.topic_by_id(id).map(|(n, t)| to_meta(n, t))
    }

    /// Every topic, by name.
    pub fn list(&self) -> Vec<TopicMeta> {
        let img = self.meta.image();
        img.topics.iter().map(|(n, t)| to_meta(n, t)).collect()
    }

    /// One partition's assignment and leadership.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<PartitionInfo> {
        self.meta.image().partition(topic, partition).cloned()
    }
}
