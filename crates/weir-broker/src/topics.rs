//! Persisted topic metadata (names, ids, partition counts, config overrides).
//!
//! Stored as `<log_dir>/weir-topics.json`, rewritten atomically (temp file, fsync, rename,
//! directory fsync) on every change. This moves onto the Raft metadata log when `weir-meta`
//! lands; callers only see [`TopicStore`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// The topic table; every mutation is durable before it returns.
#[derive(Debug)]
pub struct TopicStore {
    path: PathBuf,
    topics: RwLock<BTreeMap<String, TopicMeta>>,
}

impl TopicStore {
    /// Load the table from `path` (missing file = no topics; unparsable = a clear error).
    pub fn load(path: &Path) -> Result<Self, BrokerError> {
        let topics = match std::fs::read(path) {
            Ok(bytes) => {
                let d: OnDisk = serde_json::from_slice(&bytes).map_err(|e| {
                    BrokerError::Config(format!("corrupt topic metadata {}: {e}", path.display()))
                })?;
                d.topics.into_iter().map(|t| (t.name.clone(), t)).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(TopicStore {
            path: path.to_path_buf(),
            topics: RwLock::new(topics),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, TopicMeta>> {
        self.topics.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A topic by name.
    pub fn get(&self, name: &str) -> Option<TopicMeta> {
        self.read().get(name).cloned()
    }

    /// A topic by id.
    pub fn get_by_id(&self, id: Uuid) -> Option<TopicMeta> {
        self.read().values().find(|t| t.id == id).cloned()
    }

    /// Every topic, by name.
    pub fn list(&self) -> Vec<TopicMeta> {
        self.read().values().cloned().collect()
    }

    fn persist(&self, topics: &BTreeMap<String, TopicMeta>) -> Result<(), BrokerError> {
        let d = OnDisk {
            version: 1,
            topics: topics.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&d)
            .map_err(|e| BrokerError::Config(format!("cannot encode topic metadata: {e}")))?;
        weir_log::checkpoint::write_atomic(&self.path, &bytes)?;
        Ok(())
    }

    /// Insert or replace a topic, durably.
    pub fn upsert(&self, meta: TopicMeta) -> Result<(), BrokerError> {
        let mut t = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let mut next = t.clone();
        next.insert(meta.name.clone(), meta);
        self.persist(&next)?;
        *t = next;
        Ok(())
    }

    /// Remove a topic, durably; returns it if it existed.
    pub fn remove(&self, name: &str) -> Result<Option<TopicMeta>, BrokerError> {
        let mut t = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let mut next = t.clone();
        let old = next.remove(name);
        if old.is_some() {
            self.persist(&next)?;
            *t = next;
        }
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("weir-topics.json");
        let s = TopicStore::load(&p).unwrap();
        let meta = TopicMeta {
            name: "orders".into(),
            id: Uuid::new_v4(),
            partitions: 3,
            replication_factor: 1,
            configs: [("retention.ms".to_string(), "1000".to_string())].into(),
        };
        s.upsert(meta.clone()).unwrap();
        let again = TopicStore::load(&p).unwrap();
        assert_eq!(again.get("orders"), Some(meta.clone()));
        assert_eq!(
            again.get_by_id(meta.id).map(|m| m.name),
            Some("orders".into())
        );
        assert!(again.remove("orders").unwrap().is_some());
        assert!(TopicStore::load(&p).unwrap().list().is_empty());
        std::fs::write(&p, b"{not json").unwrap();
        assert!(TopicStore::load(&p).is_err());
    }
}
