//! The broker's shared state: configuration, cluster id, the log manager, topic metadata, the
//! fetch wake-up signal and the fetch session cache.
//!
//! Topic metadata (assignments, leaders, epochs, configs) comes from the Raft metadata log
//! (`weir-meta`): [`Broker::meta`] is this node's Raft member, [`Broker::topics`] a view of the
//! applied image, and `metadata_sync` keeps local logs in line with it.

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
use weir_meta::raft::{MetaConfig, MetaNode};

/// File name of Kafka's per-log-dir identity file.
pub const META_PROPERTIES: &str = "meta.properties";
/// File name of the pre-Raft topic metadata store inside the log dir (migrated at start-up).
pub const TOPICS_FILE: &str = "weir-topics.json";

/// Shared broker state; one per process, behind an `Arc`.
pub struct Broker {
    /// Effective configuration.
    pub config: BrokerConfig,
    /// Cluster id, generated once and persisted in `<log_dir>/meta.properties`.
    pub cluster_id: String,
    /// All partition logs.
    pub logs: Arc<LogManager>,
    /// This node's metadata-quorum member (and, while Raft leader, the active controller).
    pub meta: Arc<MetaNode>,
    /// Topics as the applied metadata image has them.
    pub topics: TopicStore,
    /// This process's broker incarnation (registered with the controller).
    pub incarnation: uuid::Uuid,
    /// Serialises `reconcile`.
    pub(crate) reconcile_lock: Mutex<()>,
    /// Topics seen in the last reconciled image (to notice deletions).
    pub(crate) known_topics: Mutex<std::collections::BTreeSet<String>>,
    /// Partitions this node replicated in the last reconciled image, with their topic ids (to
    /// notice reassignments that moved them away).
    pub(crate) known_replicas: Mutex<std::collections::HashMap<TopicPartition, uuid::Uuid>>,
    /// The group coordinator (consumer groups and committed offsets).
    pub groups: GroupCoordinator,
    /// Producer id allocation for idempotent producers.
    pub producer_ids: crate::producer_ids::ProducerIdManager,
    /// Replication: leader bookkeeping and follower fetch targets.
    pub replication: crate::replication::ReplicaManager,
    /// Bumped whenever a high watermark advances; long-polling fetches watch it.
    new_data: watch::Sender<u64>,
    /// Bumped whenever a leader appends (and with every high-watermark move); follower fetches
    /// long-poll on it.
    new_appends: watch::Sender<u64>,
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
    /// Open the broker: create the log dir, read or write `meta.properties`, start this node's
    /// metadata-quorum member (single voter by default; `controller.quorum.voters` for a cluster,
    /// Raft RPC on the CONTROLLER listener), open the log manager, move a pre-Raft topic table
    /// onto the metadata log, open the partitions this node replicates and replay
    /// `__consumer_offsets`. Fails if `meta.properties` names another node id, or if more than
    /// one log dir is configured (Weir supports exactly one log dir for now; Kafka supports JBOD).
    pub async fn open(config: BrokerConfig) -> Result<Arc<Broker>, BrokerError> {
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
        let (meta_config, listener) = meta_setup(&config).await?;
        let single = meta_config.voters.len() == 1;
        let meta = MetaNode::start(meta_config, listener).await?;
        let logs = LogManager::open(&log_dir, Arc::new(SystemClock))?;
        let topics = TopicStore::new(meta.clone());
        let (new_data, _) = watch::channel(0u64);
        let (new_appends, _) = watch::channel(0u64);
        let groups = GroupCoordinator::new(config.groups.clone(), Arc::new(SystemClock));
        let producer_ids = crate::producer_ids::ProducerIdManager::open(&log_dir)?;
        let broker = Arc::new(Broker {
            groups,
            producer_ids,
            config,
            cluster_id,
            logs,
            meta,
            topics,
            incarnation: uuid::Uuid::new_v4(),
            reconcile_lock: Mutex::new(()),
            known_topics: Mutex::new(Default::default()),
            known_replicas: Mutex::new(Default::default()),
            replication: Default::default(),
            new_data,
            new_appends,
            hw_lock: Mutex::new(()),
            fetch_sessions: FetchSessionCache::default(),
            bound_port: AtomicU16::new(0),
            shutting_down: AtomicBool::new(false),
        });
        if single {
            // The sole voter elects itself; topics and registration are available at once.
            broker
                .meta
                .wait_for_leader(std::time::Duration::from_secs(10))
                .await
                .ok_or_else(|| {
                    BrokerError::Config("metadata quorum of one did not elect itself".into())
                })?;
            broker.migrate_legacy_topics().await?;
            // A dedicated controller (process.roles=controller) hosts no partitions.
            if broker.is_broker() {
                broker.register().await?;
            }
        }
        let image = broker.meta.image();
        broker.reconcile(&image)?;
        let known: std::collections::HashSet<TopicPartition> =
            broker.logs.partitions_open().into_iter().collect();
        for tp in broker.logs.partitions_on_disk() {
            if !known.contains(&tp) && tp.topic != "__cluster_metadata" {
                warn!(partition = %tp.dir_name(), "log directory belongs to no known topic; left untouched");
            }
        }
        info!(topics = image.topics.len(), "topic metadata loaded");
        broker.ensure_fetchers();
        tokio::spawn(crate::metadata_sync::follow(broker.clone()));
        tokio::spawn(crate::replication::isr::shrink_loop(broker.clone()));
        Ok(broker)
    }

    /// True when `process.roles` includes `broker` (a dedicated controller hosts no partitions and
    /// does not register).
    pub fn is_broker(&self) -> bool {
        self.config.process_roles.iter().any(|r| r == "broker")
    }

    /// The open log of a partition, if the partition exists.
    pub fn partition_log(&self, tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        self.logs.get(tp)
    }

    /// The open log of `topic`/`partition`. Otherwise, as Kafka: NOT_LEADER_OR_FOLLOWER when the
    /// partition exists but is not hosted here (e.g. a reassignment moved it away, so clients
    /// refresh their metadata), else UNKNOWN_TOPIC_OR_PARTITION.
    pub fn require_log(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<PartitionLog>, BrokerError> {
        self.partition_log(&TopicPartition::new(topic, partition))
            .ok_or_else(|| {
                let code = if self.partition_info(topic, partition).is_some() {
                    ResponseError::NotLeaderOrFollower
                } else {
                    ResponseError::UnknownTopicOrPartition
                };
                BrokerError::kafka(
                    code,
                    format!("This server does not host this topic-partition: {topic}-{partition}"),
                )
            })
    }

    /// Wake every long-polling fetch (call after a high watermark advanced).
    pub fn notify_new_data(&self) {
        self.new_data.send_modify(|n| *n = n.wrapping_add(1));
        self.new_appends.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wake long-polling follower fetches (call after a leader append).
    pub fn notify_new_appends(&self) {
        self.new_appends.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver of [`Broker::notify_new_appends`] (and high-watermark moves), for follower
    /// fetches; subscribe before reading.
    pub fn subscribe_new_appends(&self) -> watch::Receiver<u64> {
        self.new_appends.subscribe()
    }

    /// Number of fetch requests currently being served (each holds a new-data subscription
    /// while it reads or long-polls).
    pub fn fetches_in_progress(&self) -> usize {
        self.new_data.receiver_count()
    }

    /// Mark the broker as shutting down and wake every long-polling fetch so in-flight
    /// requests finish promptly (they answer with what is available now).
    pub fn begin_shutdown(&self) {
        self.replication.fetch_table().targets.clear();
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

    /// The controller id clients should see (Metadata, DescribeCluster): the active controller
    /// when it is also a live broker (combined nodes), otherwise this broker — like KRaft, which
    /// shows clients a broker and forwards controller requests, because dedicated controllers
    /// are not reachable on a client listener. -1 when neither is known.
    pub fn client_visible_controller(&self) -> i32 {
        let image = self.meta.image();
        let leader = self.meta.leader().and_then(|l| i32::try_from(l).ok());
        match leader {
            Some(l) if image.brokers.get(&l).is_some_and(|b| !b.fenced) => l,
            _ if self.is_broker() => self.config.node_id,
            _ => -1,
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

/// The metadata node's configuration and, in a cluster, its bound CONTROLLER listener.
async fn meta_setup(
    config: &BrokerConfig,
) -> Result<(MetaConfig, Option<tokio::net::TcpListener>), BrokerError> {
    let node = u64::try_from(config.node_id)
        .map_err(|_| BrokerError::Config(format!("node.id {} must be >= 0", config.node_id)))?;
    let voters_raw = config.controller_quorum_voters.trim();
    let mut meta = MetaConfig {
        node_id: node,
        dir: config.metadata_log_dir.clone().unwrap_or_else(|| {
            config
                .log_dirs
                .first()
                .cloned()
                .unwrap_or_default()
                .join("__cluster_metadata-0")
        }),
        voters: [(node, String::new())].into(),
        session_timeout_ms: config.broker_session_timeout_ms,
        unclean_leader_election: config.entries.iter().any(|e| {
            e.name == "unclean.leader.election.enable" && e.value.as_deref() == Some("true")
        }),
        learner_addr: None,
        auto_rebalance_interval_ms: config
            .auto_leader_rebalance
            .then_some(config.leader_imbalance_check_interval_ms),
    };
    if voters_raw.is_empty() {
        return Ok((meta, None));
    }
    meta.voters = weir_meta::raft::node::parse_voters(voters_raw)
        .map_err(|e| BrokerError::Config(format!("controller.quorum.voters: {e}")))?;
    let is_controller = config.process_roles.iter().any(|x| x == "controller");
    if is_controller != meta.voters.contains_key(&node) {
        return Err(BrokerError::Config(format!(
            "node.id {node} must be in controller.quorum.voters {voters_raw} exactly when \
             process.roles includes controller"
        )));
    }
    let l = config
        .listeners
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case("CONTROLLER"))
        .ok_or_else(|| {
            BrokerError::Config(
                "a cluster node needs a CONTROLLER listener in listeners (broker-only nodes receive \
                 the metadata log on it)"
                    .into(),
            )
        })?;
    if !is_controller {
        meta.learner_addr = Some(format!("{}:{}", l.host, l.port));
    }
    let listener = tokio::net::TcpListener::bind((l.host.as_str(), l.port))
        .await
        .map_err(|e| {
            BrokerError::Config(format!(
                "cannot bind CONTROLLER://{}:{}: {e}",
                l.host, l.port
            ))
        })?;
    Ok((meta, Some(listener)))
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
            weir_log::checkpoint::write_atomic(&path, text.as_bytes())?;
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
