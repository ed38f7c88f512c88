//! [`GroupCoordinator`]: the runtime of `__consumer_offsets` with the group shards, the
//! coordinator's settings and its view of the other topics; ownership and coordinator checks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use weir_coordinator::{
    Clock, CoordinatorError, CoordinatorRuntime, OwnershipChange, PartitionReader, PartitionWriter,
};

use crate::classic::{ClassicLimits, Ms};
use crate::config::GroupConfig;
use crate::shard::GroupShard;
use crate::OFFSETS_TOPIC;

/// What the coordinator needs to know about the broker's other topics (implemented by the
/// broker over its metadata).
pub trait TopicView: Send + Sync + 'static {
    /// Partition counts of every topic except `__consumer_offsets` (the input of KIP-848
    /// assignors).
    fn partition_counts(&self) -> BTreeMap<String, i32>;
    /// True when `topic` exists and has partition `partition` (OffsetCommit refuses others with
    /// UNKNOWN_TOPIC_OR_PARTITION).
    fn partition_exists(&self, topic: &str, partition: i32) -> bool;
}

/// The coordinator of every group whose `__consumer_offsets` partition this broker leads.
pub struct GroupCoordinator {
    pub(crate) runtime: CoordinatorRuntime<GroupShard>,
    pub(crate) config: GroupConfig,
    pub(crate) topics: Arc<dyn TopicView>,
    pub(crate) last_expiry_check: Mutex<Ms>,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator")
            .field("owned", &self.runtime.owned())
            .finish_non_exhaustive()
    }
}

impl GroupCoordinator {
    /// A coordinator that coordinates nothing until [`Self::sync_ownership`] says which
    /// `__consumer_offsets` partitions this broker leads. `writer` appends to (and creates)
    /// `__consumer_offsets`, `reader` replays its partitions, `topics` shows the other topics.
    pub fn new(
        config: GroupConfig,
        writer: Arc<dyn PartitionWriter>,
        reader: Arc<dyn PartitionReader>,
        clock: Arc<dyn Clock>,
        topics: Arc<dyn TopicView>,
    ) -> Self {
        GroupCoordinator {
            runtime: CoordinatorRuntime::new(
                OFFSETS_TOPIC,
                writer,
                reader,
                clock,
                Box::new(|_| GroupShard::default()),
            ),
            config,
            topics,
            last_expiry_check: Mutex::new(0),
        }
    }

    /// The coordinator's settings.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Current time from the injected clock.
    pub fn now(&self) -> Ms {
        self.runtime.now()
    }

    pub(crate) fn limits(&self) -> ClassicLimits {
        ClassicLimits {
            min_session_timeout_ms: self.config.min_session_timeout_ms,
            max_session_timeout_ms: self.config.max_session_timeout_ms,
            initial_rebalance_delay_ms: self.config.initial_rebalance_delay_ms,
            max_size: self.config.max_size,
        }
    }

    /// Align the coordinator with the metadata (called by the broker's metadata applier):
    /// `partitions` = the partition count of `__consumer_offsets` (None = absent), `led` = the
    /// partitions this broker leads with their leader epoch. Loads the groups of every newly led
    /// partition by replaying it and forgets the groups of the partitions it no longer leads
    /// (their new leader loads them from its replica). A partition led again at a new leader
    /// epoch (lost and regained between two syncs) is reloaded: another leader may have written
    /// to it meanwhile. A led partition that cannot be read yet (no local log) is loaded by a
    /// later sync.
    pub fn sync_ownership(
        &self,
        partitions: Option<i32>,
        led: &BTreeMap<i32, i32>,
    ) -> OwnershipChange {
        self.runtime.sync_ownership(partitions, led)
    }

    /// The `__consumer_offsets` partitions this broker coordinates (leads and has loaded), with
    /// the leader epoch they were loaded at.
    pub fn owned(&self) -> BTreeMap<i32, i32> {
        self.runtime.owned()
    }

    /// Check that this broker coordinates `group`: NOT_COORDINATOR (16) when it does not lead
    /// the group's `__consumer_offsets` partition (the client looks the coordinator up again),
    /// COORDINATOR_LOAD_IN_PROGRESS (14) while its state is being loaded. Before the topic
    /// exists every broker may answer (the first FindCoordinator or write creates it).
    pub fn check_coordinator(&self, group: &str) -> Result<(), CoordinatorError> {
        if self.runtime.partition_of(group).is_none() {
            return Ok(());
        }
        self.runtime.check(group).map(|_| ())
    }

    /// The `__consumer_offsets` partition of `group` (its coordinator is that partition's
    /// leader); None while the topic does not exist.
    pub fn coordinator_partition(&self, group: &str) -> Option<i32> {
        self.runtime.partition_of(group)
    }

    /// Create `__consumer_offsets` if it does not exist yet (FindCoordinator does, as Kafka);
    /// returns its partition count.
    pub async fn ensure_offsets_topic(&self) -> Result<i32, CoordinatorError> {
        self.runtime.ensure_topic().await
    }

    /// True while `__consumer_offsets` is unknown (no group can have state then).
    pub(crate) fn no_topic(&self, group: &str) -> bool {
        self.runtime.partition_of(group).is_none()
    }
}
