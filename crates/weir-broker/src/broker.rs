//! The broker's shared state: configuration, cluster id, the log manager, topic metadata, the
//! fetch wake-up signal and the fetch session cache.
//!
//! Single node: every partition is led by this node with leader epoch 0, and its replica set and
//! ISR are exactly `[node.id]`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use kafka_protocol::error::ResponseError;
use tokio::sync::watch;
use tracing::{info, warn};
use weir_log::{LogManager, PartitionLog, SystemClock, TopicPartition};

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::groups::GroupCoordinator;
use crate::handlers::fetch_session::FetchSessionCache;
use crate::topics::TopicStore;

/// The leader epoch of every partition (single node, no leader changes yet).
pub const LEADER_EPOCH: i32 = 0;

/// File name of Kafka's per-log-dir identity file.
pub const META_PROPERTIES: &str = "meta.properties";
/// File name of the topic metadata store inside the log dir.
pub const TOPICS_FILE: &str = "weir-topics.json";

/// Shared broker state; one per process, behind an `Arc`.
pub struct Broker {
    /// Effective configuration.
    pub config: BrokerConfig,
    /// Cluster id, generated once and persisted in `<log_dir>/meta.properties`.
    pub cluster_id: String,
    /// All partition logs.
    pub logs: Arc<LogManager>,
    /// Persistent topic metadata.
    pub topics: TopicStore,
    /// The group coordinator (consumer groups and committed offsets).
    pub groups: GroupCoordinator,
    /// Producer id allocation for idempotent producers.
    pub producer_ids: crate::producer_ids::ProducerIdManager,
    /// Bumped whenever a high watermark advances; long-polling fetches watch it.
    new_data: watch::Sender<u64>,
    /// Serialises high-watermark advances so they are monotonic.
    hw_lock: Mutex<()>,
    /// KIP-227 fetch sessions.
    fetch_sessions: FetchSessionCache,
    /// Port actually bound by the first client listener (0 = not serving yet).
    bound_port: AtomicU16,
    /// Set once shutdown begins: long polls stop waiting.
    shutting_down: AtomicBool,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("node_id", &self.config.node_id)
            .field("cluster_id", &self.cluster_id)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Open the broker: create the log dir, read or write `meta.properties`, open the log
    /// manager, load the topic store, and open every partition of every known topic with its
    /// effective config. Fails if `meta.properties` names another node id, or if more than
    /// one log dir is configured (Weir supports exactly one log dir for now; Kafka supports
    /// JBOD).
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, BrokerError> {
        let log_dir = match config.log_dirs.as_slice() {
            [one] => one.clone(),
            [] => return Err(BrokerError::Config("log.dirs is empty".into())),
            _ => {
                return Err(BrokerError::Config(
                    "Weir supports exactly one entry in log.dirs for now".into(),
                ))
            }
        };
        std::fs::create_dir_all(&log_dir)?;
        let cluster_id = load_or_create_meta(&log_dir, config.node_id)?;
        let logs = LogManager::open(&log_dir, Arc::new(SystemClock))?;
        let topics = TopicStore::load(&log_dir.join(TOPICS_FILE))?;
        let (new_data, _) = watch::channel(0u64);
        let groups = GroupCoordinator::new(config.groups.clone(), Arc::new(SystemClock));
        let producer_ids = crate::producer_ids::ProducerIdManager::open(&log_dir)?;
        let broker = Arc::new(Broker {
            groups,
            producer_ids,
            config,
            cluster_id,
            logs,
            topics,
            new_data,
            hw_lock: Mutex::new(()),
            fetch_sessions: FetchSessionCache::default(),
            bound_port: AtomicU16::new(0),
            shutting_down: AtomicBool::new(false),
        });
        broker.open_partitions()?;
        crate::groups::store::replay(&broker, &broker.groups)?;
        Ok(broker)
    }

    /// Open every partition of every topic; on a single node every byte in the log after
    /// recovery is the leader's own data, so the high watermark starts at the log end offset.
    fn open_partitions(&self) -> Result<(), BrokerError> {
        let metas = self.topics.list();
        let mut known = std::collections::HashSet::new();
        for meta in &metas {
            let cfg = self.log_config_for(meta)?;
            for p in 0..meta.partitions {
                let tp = TopicPartition::new(meta.name.clone(), p);
                let log = self.logs.get_or_create(&tp, cfg.clone())?;
                log.set_high_watermark(log.log_end_offset());
                known.insert(tp);
            }
        }
        for tp in self.logs.partitions_on_disk() {
            if !known.contains(&tp) {
                warn!(partition = %tp.dir_name(), "log directory belongs to no known topic; left untouched");
            }
        }
        info!(topics = metas.len(), "topic metadata loaded");
        Ok(())
    }

    /// The open log of a partition, if the partition exists.
    pub fn partition_log(&self, tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        self.logs.get(tp)
    }

    /// The open log of `topic`/`partition`, or UNKNOWN_TOPIC_OR_PARTITION.
    pub fn require_log(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<PartitionLog>, BrokerError> {
        self.partition_log(&TopicPartition::new(topic, partition))
            .ok_or_else(|| {
                BrokerError::kafka(
                    ResponseError::UnknownTopicOrPartition,
                    format!("This server does not host this topic-partition: {topic}-{partition}"),
                )
            })
    }

    /// Wake every long-polling fetch (call after a high watermark advanced).
    pub fn notify_new_data(&self) {
        self.new_data.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Number of fetch requests currently being served (each holds a new-data subscription
    /// while it reads or long-polls).
    pub fn fetches_in_progress(&self) -> usize {
        self.new_data.receiver_count()
    }

    /// Mark the broker as shutting down and wake every long-polling fetch so in-flight
    /// requests finish promptly (they answer with what is available now).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.notify_new_data();
    }

    /// True once [`Broker::begin_shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// A receiver that observes every later [`Broker::notify_new_data`]; subscribe BEFORE
    /// reading so no wake-up between the read and the wait is lost.
    pub fn subscribe_new_data(&self) -> watch::Receiver<u64> {
        self.new_data.subscribe()
    }

    /// Raise the partition's high watermark to `offset` unless it is already higher
    /// (concurrent produces finish in any order; the high watermark never moves back).
    pub fn advance_high_watermark(&self, log: &PartitionLog, offset: i64) {
        // ok: the guarded data is `()`, a poisoned lock carries no broken state.
        let _guard = self.hw_lock.lock().unwrap_or_else(|p| p.into_inner());
        if offset > log.high_watermark() {
            log.set_high_watermark(offset);
        }
    }

    /// The fetch session cache.
    pub fn fetch_sessions(&self) -> &FetchSessionCache {
        &self.fetch_sessions
    }

    /// The single log directory.
    pub fn log_dir(&self) -> PathBuf {
        self.logs.log_dir()
    }

    /// Record the port the first client listener actually bound (matters for port 0).
    pub fn set_bound_port(&self, port: u16) {
        self.bound_port.store(port, Ordering::Relaxed);
    }

    /// The advertised listener clients should use (the first non-CONTROLLER one), as
    /// `(host, port)`. An advertised port of 0 is replaced by the port actually bound, as Kafka
    /// does for `listeners=PLAINTEXT://127.0.0.1:0`. Kafka answers with the listener the
    /// request arrived on; Weir has one client listener for now.
    pub fn advertised_endpoint(&self) -> (String, i32) {
        let (host, port) = self
            .config
            .advertised_listeners
            .iter()
            .chain(self.config.listeners.iter())
            .find(|l| !l.name.eq_ignore_ascii_case("CONTROLLER"))
            .map(|l| (l.host.clone(), l.port))
            .unwrap_or_else(|| ("127.0.0.1".to_string(), 9092));
        let port = if port == 0 {
            self.bound_port.load(Ordering::Relaxed)
        } else {
            port
        };
        (host, i32::from(port))
    }
}

/// Read `meta.properties` (Kafka format) or create it with a fresh cluster id; returns the
/// cluster id. A file naming another node id is an error, as in Kafka.
fn load_or_create_meta(log_dir: &Path, node_id: i32) -> Result<String, BrokerError> {
    let path = log_dir.join(META_PROPERTIES);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let props = parse_properties(&text);
            let get = |k: &str| {
                props
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            if let Some(stored) = get("node.id").or_else(|| get("broker.id")) {
                if stored.trim() != node_id.to_string() {
                    return Err(BrokerError::Config(format!(
                        "{} has node.id={stored} but this broker is node.id={node_id}",
                        path.display()
                    )));
                }
            }
            match get("cluster.id") {
                Some(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
                _ => Err(BrokerError::Config(format!(
                    "{} has no cluster.id",
                    path.display()
                ))),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster_id = new_cluster_id();
            let text = format!(
                "#\n#Written by Weir\nnode.id={node_id}\nversion=1\ncluster.id={cluster_id}\n"
            );
            write_atomically(&path, text.as_bytes())?;
            info!(%cluster_id, "formatted new log dir {}", log_dir.display());
            Ok(cluster_id)
        }
        Err(e) => Err(e.into()),
    }
}

/// Java-properties subset: `key=value` or `key:value` lines, `#`/`!` comments.
fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let idx = l.find(['=', ':'])?;
            Some((l[..idx].trim().to_string(), l[idx + 1..].trim().to_string()))
        })
        .collect()
}

/// A Kafka-style cluster id: a random UUID as 22 characters of unpadded base64url.
pub fn new_cluster_id() -> String {
    base64url_nopad(uuid::Uuid::new_v4().as_bytes())
}

fn base64url_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

/// Write `bytes` to `path` via a temp file, fsync, rename and directory fsync.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_22_chars_of_base64url() {
        let id = new_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, new_cluster_id());
    }

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url_nopad(b"f"), "Zg");
        assert_eq!(base64url_nopad(b"fo"), "Zm8");
        assert_eq!(base64url_nopad(b"foo"), "Zm9v");
        assert_eq!(base64url_nopad(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn meta_properties_round_trip_and_node_id_check() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_create_meta(dir.path(), 1).unwrap();
        let text = std::fs::read_to_string(dir.path().join(META_PROPERTIES)).unwrap();
        assert!(text.contains("version=1"));
        assert!(text.contains(&format!("cluster.id={id}")));
        assert_eq!(load_or_create_meta(dir.path(), 1).unwrap(), id);
        assert!(matches!(
            load_or_create_meta(dir.path(), 2),
            Err(BrokerError::Config(_))
        ));
    }
}
