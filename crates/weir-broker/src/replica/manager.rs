//! The replica manager's state (Kafka's `ReplicaManager`): the partition logs, the leader
//! bookkeeping of partitions led here, the follower fetch table, and the wake-ups of waiting
//! fetches. It is the only owner of high-watermark moves: [`ReplicaManager::advance_high_watermark`]
//! is private to the replica module and always wakes the fetches waiting for data.
//!
//! Appends (clients and coordinators alike) are in `append`, the leader/follower side of
//! replication in `leadership`, ISR changes in `isr`, the follower's fetch loop in `fetcher`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use kafka_protocol::error::ResponseError;
use tokio::sync::watch;
use weir_log::{LogManager, PartitionLog, TopicPartition};
use weir_meta::raft::MetaNode;

use super::leader_state::LeaderState;
use crate::config::replication::ReplicationConfig;
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;

/// What a follower copies from: the leader broker and its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowTarget {
    /// Leader broker id.
    pub leader: i32,
    /// Leader epoch the follower fetches in.
    pub leader_epoch: i32,
}

/// Follow targets plus the leaders that have a fetcher task running.
#[derive(Debug, Default)]
pub(crate) struct FetchTable {
    pub(crate) targets: HashMap<TopicPartition, FollowTarget>,
    pub(crate) running: HashSet<i32>,
    /// The fetch offsets of partitions in fetch requests sent and not yet answered (a leader may
    /// still count the offset claimed; `damage_repair.rs` waits for claims past a damage before
    /// truncating there).
    pub(crate) in_flight: HashMap<TopicPartition, Vec<i64>>,
}

/// The settings the replica manager reads.
#[derive(Debug, Clone)]
pub struct ReplicaSettings {
    /// `node.id`.
    pub node_id: i32,
    /// `min.insync.replicas` (static broker default; a dynamic broker config or the topic's
    /// override replace it, see [`ReplicaManager::default_min_insync`]).
    pub min_insync_replicas: i32,
    /// `replica.*` and `controlled.shutdown.enable`.
    pub replication: ReplicationConfig,
    /// How fetchers connect to leaders (`inter.broker.listener.name`, TLS, SASL).
    pub connector: Arc<crate::inter_broker::BrokerConnector>,
}

/// Owns the partition logs and everything about their replication on this broker.
pub struct ReplicaManager {
    pub(super) settings: ReplicaSettings,
    pub(super) logs: Arc<LogManager>,
    pub(super) view: Arc<MetadataView>,
    /// The metadata quorum member, used only to propose ISR changes (AlterPartition).
    pub(super) quorum: Arc<MetaNode>,
    pub(super) leaders: Mutex<HashMap<TopicPartition, LeaderState>>,
    fetch: Mutex<FetchTable>,
    /// Set by a controlled shutdown: stop following (the broker stays fenced).
    leaving: AtomicBool,
    /// Set once shutdown begins: long polls stop waiting, fetchers stop.
    shutting_down: AtomicBool,
    /// Set to the time of the move whenever a high watermark advances; long-polling consumer
    /// fetches watch it (the time measures their wake-up delay).
    new_data: watch::Sender<Instant>,
    /// Set whenever a leader appends (and with every high-watermark move); follower fetches
    /// long-poll on it.
    new_appends: watch::Sender<Instant>,
    /// Serialises high-watermark advances so they are monotonic.
    hw_lock: Mutex<()>,
    /// Bumped whenever the follow targets change; a fetcher whose long-poll does not cover a
    /// partition it now follows abandons it (`fetcher.rs`).
    targets_changed: watch::Sender<u64>,
}

impl std::fmt::Debug for ReplicaManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaManager")
            .field("node_id", &self.settings.node_id)
            .finish_non_exhaustive()
    }
}

/// Lock a mutex, recovering from poisoning (every holder leaves the data consistent).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl ReplicaManager {
    /// The `min.insync.replicas` of topics without an override: this node's dynamic broker
    /// config, else the cluster-wide dynamic default, else the static one.
    pub(crate) fn default_min_insync(&self) -> i32 {
        let image = self.view.image();
        crate::config::layers::dynamic_value(&image, self.settings.node_id, "min.insync.replicas")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(self.settings.min_insync_replicas)
    }

    /// A replica manager over `logs`; it leads and follows nothing until the metadata applier
    /// reconciles it with an image.
    pub fn new(
        settings: ReplicaSettings,
        logs: Arc<LogManager>,
        view: Arc<MetadataView>,
        quorum: Arc<MetaNode>,
    ) -> Self {
        ReplicaManager {
            settings,
            logs,
            view,
            quorum,
            leaders: Mutex::new(HashMap::new()),
            fetch: Mutex::new(FetchTable::default()),
            leaving: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            new_data: watch::channel(Instant::now()).0,
            new_appends: watch::channel(Instant::now()).0,
            hw_lock: Mutex::new(()),
            targets_changed: watch::channel(0).0,
        }
    }

    /// This broker's id.
    pub fn node_id(&self) -> i32 {
        self.settings.node_id
    }

    /// The replication settings.
    pub fn settings(&self) -> &ReplicaSettings {
        &self.settings
    }

    /// All partition logs of this broker.
    pub fn logs(&self) -> &Arc<LogManager> {
        &self.logs
    }

    /// The open log of a partition, if this broker hosts it.
    pub fn log(&self, tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        self.logs.get(tp)
    }

    /// The open log of `topic`/`partition`. Otherwise, as Kafka: KAFKA_STORAGE_ERROR when its log
    /// dir is offline, NOT_LEADER_OR_FOLLOWER when the
    /// partition exists but is not hosted here (e.g. a reassignment moved it away, so clients
    /// refresh their metadata), else UNKNOWN_TOPIC_OR_PARTITION.
    pub fn require_log(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<PartitionLog>, BrokerError> {
        let tp = TopicPartition::new(topic, partition);
        self.log(&tp).ok_or_else(|| {
            if self.logs.is_offline(&tp) {
                // As Kafka for a partition of an offline log dir: retriable, never acknowledged.
                return BrokerError::kafka(
                    ResponseError::KafkaStorageError,
                    format!("the log dir of {topic}-{partition} is offline on this broker"),
                );
            }
            let code = if self.view.partition(topic, partition).is_some() {
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

    /// A receiver that observes every later high-watermark move (its value: when the latest
    /// one happened); subscribe BEFORE reading so no wake-up between the read and the wait is
    /// lost.
    pub fn subscribe_new_data(&self) -> watch::Receiver<Instant> {
        self.new_data.subscribe()
    }

    /// A receiver of leader appends (and high-watermark moves), for follower fetches, valued
    /// with the time of the latest; subscribe before reading.
    pub fn subscribe_new_appends(&self) -> watch::Receiver<Instant> {
        self.new_appends.subscribe()
    }

    /// A receiver of follow-target changes (subscribe before reading the fetch table).
    pub(super) fn subscribe_targets(&self) -> watch::Receiver<u64> {
        self.targets_changed.subscribe()
    }

    /// Tell the fetchers that the follow targets changed.
    pub(super) fn notify_targets_changed(&self) {
        self.targets_changed.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Number of fetch requests currently being served (each holds a new-data subscription
    /// while it reads or long-polls).
    pub fn fetches_in_progress(&self) -> usize {
        self.new_data.receiver_count()
    }

    /// Wake follower fetches: a leader appended.
    pub(super) fn notify_new_appends(&self) {
        self.new_appends.send_replace(Instant::now());
    }

    /// Wake every waiting fetch, consumer and follower.
    fn notify_new_data(&self) {
        let now = Instant::now();
        self.new_data.send_replace(now);
        self.new_appends.send_replace(now);
    }

    /// Raise the partition's high watermark to `offset` unless it is already higher
    /// (concurrent appends finish in any order; the high watermark never moves back), and wake
    /// waiting fetches when it moved. The only place a high watermark advances.
    pub(super) fn advance_high_watermark(&self, log: &PartitionLog, offset: i64) -> bool {
        let moved = {
            let _guard = lock(&self.hw_lock);
            let mut moved = offset > log.high_watermark();
            if moved {
                log.set_high_watermark(offset);
            }
            // The log moved to another log dir meanwhile (AlterReplicaLogDirs): the new log
            // object is the one read from now on.
            if let Some(current) = self.logs.get(log.topic_partition()) {
                if !std::ptr::eq(Arc::as_ptr(&current), log) && offset > current.high_watermark() {
                    current.set_high_watermark(offset);
                    moved = true;
                }
            }
            moved
        };
        if moved {
            self.notify_new_data();
        }
        moved
    }

    /// Mark the broker as shutting down: stop following, and wake every long-polling fetch so
    /// in-flight requests finish promptly (they answer with what is available now).
    pub fn begin_shutdown(&self) {
        self.fetch_table().targets.clear();
        self.shutting_down.store(true, Ordering::SeqCst);
        self.notify_new_data();
    }

    /// True once [`ReplicaManager::begin_shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// True once a controlled shutdown has begun.
    pub fn is_leaving(&self) -> bool {
        self.leaving.load(Ordering::SeqCst)
    }

    /// Mark a controlled shutdown as begun: stop following every leader.
    pub fn set_leaving(&self) {
        self.leaving.store(true, Ordering::SeqCst);
        self.fetch_table().targets.clear();
    }

    /// The follow targets and running fetchers. A fetcher holds it while applying an answer, so
    /// a change of target (see `stop_following_led`) is atomic with respect to appends.
    pub(crate) fn fetch_table(&self) -> MutexGuard<'_, FetchTable> {
        lock(&self.fetch)
    }

    /// Partitions led here with their leader epochs.
    pub fn led_partitions(&self) -> Vec<(TopicPartition, i32)> {
        lock(&self.leaders)
            .iter()
            .map(|(tp, st)| (tp.clone(), st.leader_epoch))
            .collect()
    }
}
