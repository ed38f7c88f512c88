//! One topic's metadata as clients and admin APIs see it ([`TopicMeta`], derived from the
//! metadata image), and the reader of the pre-Raft topic table.
//!
//! Before the Raft controller, Weir kept topics in `<log_dir>/weir-topics.json`; [`read_legacy`]
//! reads that file once so start-up can move its topics onto the metadata log.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::BrokerError;

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

/// The [`TopicMeta`] of image topic `name`.
pub fn to_meta(name: &str, t: &weir_meta::image::TopicInfo) -> TopicMeta {
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
