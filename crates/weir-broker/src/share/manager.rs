//! [`SharePartitionManager`]: the share-partitions this broker leads (Kafka's
//! `SharePartitionManager`): each (group, topic, partition) is a crate
//! [`SharePartition`] behind its own async lock, loaded on first use from the share
//! coordinator ([`ShareStateCoordinator::read_state`]) or started from
//! `share.auto.offset.reset`, and every change persisted through
//! [`ShareStateCoordinator::write_state`] before the request that made it is answered. A failed
//! write drops the in-memory state, so the next use reloads what is durable.
//!
//! A share-partition's state can also change under its leader's feet: AlterShareGroupOffsets
//! re-initializes it at a new state epoch and DeleteShareGroupOffsets deletes it (both only
//! while the group is empty). The offsets handlers drop what is loaded here; a new share
//! session of the group marks its loaded share-partitions for a check against the durable
//! state epoch on their next use (the group coordinator may be another broker).
//!
//! The state goes through the [`Persister`]: the local share coordinator when this broker
//! leads the share-partition's `__share_group_state` partition, else Initialize / Read /
//! WriteShareGroupState to that partition's leader.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::{watch, Mutex as AsyncMutex, OwnedMutexGuard};
use weir_coordinator::Clock;
use weir_log::PartitionLog;
use weir_share_coordinator::{
    AckBatch, AcquireMode, AcquiredRange, AutoOffsetReset, IsolationLevel, ShareGroupConfig,
    ShareKey, SharePartition, ShareStateCoordinator, TopicId,
};

use super::configs::group_config;
use super::persister::Persister;
use super::read::read_batches;
use super::sessions::ShareSessions;
use crate::admin::topics::TopicAdmin;
use crate::config::ShareSettings;
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::replica::manager::ReplicaManager;

/// A loaded share-partition.
pub(crate) struct Loaded {
    pub part: SharePartition,
    pub leader_epoch: i32,
    pub state_epoch: i32,
    pub topic: String,
}

type Cell = Arc<AsyncMutex<Option<Loaded>>>;

/// What one ShareFetch got from one partition.
#[derive(Debug, Default)]
pub struct Acquired {
    /// Whole log batches holding the acquired records.
    pub records: Bytes,
    /// The acquired records with their delivery counts.
    pub ranges: Vec<AcquiredRange>,
}

/// The share-partitions led here and the share sessions (see the module docs).
pub struct SharePartitionManager {
    cells: Mutex<HashMap<ShareKey, Cell>>,
    recheck: Mutex<HashSet<ShareKey>>,
    sessions: Mutex<ShareSessions>,
    pub(crate) replicas: Arc<ReplicaManager>,
    pub(crate) view: Arc<MetadataView>,
    state: Persister,
    pub(crate) settings: ShareSettings,
    /// Creates missing DLQ topics (`errors.deadletterqueue.auto.create.topics.enable`).
    pub(crate) admin: Arc<TopicAdmin>,
    clock: Arc<dyn Clock>,
    released: watch::Sender<u64>,
}

/// The share key of (group, topic id, partition).
pub fn share_key(group: &str, topic_id: uuid::Uuid, partition: i32) -> ShareKey {
    ShareKey::new(group, TopicId(*topic_id.as_bytes()), partition)
}

impl SharePartitionManager {
    /// A manager with nothing loaded; `admin` creates missing DLQ topics.
    pub fn new(
        replicas: Arc<ReplicaManager>,
        view: Arc<MetadataView>,
        admin: Arc<TopicAdmin>,
        state: Persister,
        settings: ShareSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        SharePartitionManager {
            cells: Mutex::new(HashMap::new()),
            recheck: Mutex::new(HashSet::new()),
            sessions: Mutex::new(ShareSessions::new(settings.max_share_sessions)),
            replicas,
            view,
            state,
            settings,
            admin,
            clock,
            released: watch::channel(0).0,
        }
    }

    /// The share sessions (locked briefly by the handlers).
    pub fn sessions(&self) -> std::sync::MutexGuard<'_, ShareSessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bumped whenever records become acquirable again (release, lock expiry): waiting
    /// ShareFetches wake on it as on new data.
    pub fn subscribe_released(&self) -> watch::Receiver<u64> {
        self.released.subscribe()
    }

    fn bump(&self) {
        self.released.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// The effective configs of `group`.
    pub fn config(&self, group: &str) -> ShareGroupConfig {
        group_config(&self.view.image(), &self.settings, group)
    }

    fn cell(&self, key: &ShareKey) -> Cell {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        cells.entry(key.clone()).or_default().clone()
    }

    /// Lock `key`'s share-partition, loading it when it is not loaded at the partition's
    /// current leader epoch. Errors: UNKNOWN_TOPIC_ID, NOT_LEADER_OR_FOLLOWER, and the share
    /// coordinator's errors while loading.
    pub(crate) async fn locked(
        &self,
        key: &ShareKey,
        topic_id: uuid::Uuid,
    ) -> Result<(OwnedMutexGuard<Option<Loaded>>, Arc<PartitionLog>), BrokerError> {
        let meta = self.view.topic_by_id(topic_id).ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::UnknownTopicId,
                format!("no topic {topic_id}"),
            )
        })?;
        let epoch = self.view.check_leader(&meta.name, key.partition, -1)?;
        let log = self.replicas.require_log(&meta.name, key.partition)?;
        let mut g = self.cell(key).lock_owned().await;
        let recheck = self.take_recheck(key);
        if g.as_ref().is_some_and(|l| l.leader_epoch == epoch) && recheck {
            let durable = retry(|| self.state.read_state(key)).await?;
            if durable.map(|s| s.state_epoch) != g.as_ref().map(|l| l.state_epoch) {
                tracing::debug!(key = %key.coordinator_key(), "share state changed elsewhere; reloading");
                *g = None;
            }
        }
        if g.as_ref().is_none_or(|l| l.leader_epoch != epoch) {
            *g = None;
            *g = Some(self.load(key, &meta.name, epoch, &log).await?);
        }
        Ok((g, log))
    }

    fn take_recheck(&self, key: &ShareKey) -> bool {
        let mut r = self.recheck.lock().unwrap_or_else(|e| e.into_inner());
        !r.is_empty() && r.remove(key)
    }

    /// A new share session of `group` opened: check each of its loaded share-partitions
    /// against the durable state epoch on next use (see the module docs).
    pub fn recheck_group(&self, group: &str) {
        let keys = self.loaded(|k| k.group_id == group);
        let mut r = self.recheck.lock().unwrap_or_else(|e| e.into_inner());
        r.extend(keys.into_iter().map(|(k, _)| k));
    }

    /// Drop `key`'s loaded state (its durable state was altered or deleted); the next use
    /// reloads it.
    pub(crate) async fn forget(&self, key: &ShareKey) {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        if let Some(cell) = cell {
            *cell.lock().await = None;
        }
    }

    /// The state persister (the offsets APIs read, re-initialize and delete through it).
    pub(crate) fn persister(&self) -> &Persister {
        &self.state
    }

    async fn load(
        &self,
        key: &ShareKey,
        topic: &str,
        epoch: i32,
        log: &PartitionLog,
    ) -> Result<Loaded, BrokerError> {
        let read = retry(|| self.state.read_state(key)).await?;
        let (part, state_epoch) = match read {
            Some(s) => {
                let mut p = SharePartition::load(s.start_offset, &s.batches);
                p.advance_log_start(log.log_start_offset());
                (p, s.state_epoch)
            }
            None => {
                let start = match self.config(&key.group_id).auto_offset_reset {
                    AutoOffsetReset::Latest => log.high_watermark(),
                    AutoOffsetReset::Earliest => log.log_start_offset(),
                    AutoOffsetReset::ByDuration(ms) => log
                        .offset_for_timestamp(self.clock.now_ms().saturating_sub(ms))?
                        .map_or_else(|| log.high_watermark(), |(o, _)| o),
                };
                retry(|| self.state.initialize_state(key, 0, start)).await?;
                (SharePartition::new(start), 0)
            }
        };
        tracing::debug!(key = %key.coordinator_key(), start = part.start_offset(), "share-partition loaded");
        Ok(Loaded {
            part,
            leader_epoch: epoch,
            state_epoch,
            topic: topic.to_string(),
        })
    }

    /// Write `l`'s changes; on failure the state is dropped (reloaded from what is durable).
    pub(crate) async fn persist(
        &self,
        key: &ShareKey,
        g: &mut OwnedMutexGuard<Option<Loaded>>,
    ) -> Result<(), BrokerError> {
        let Some(l) = g.as_mut() else {
            return Ok(());
        };
        let Some(update) = l.part.take_update() else {
            return Ok(());
        };
        let out = self
            .state
            .write_state(key, l.state_epoch, l.leader_epoch, &update)
            .await;
        if let Err(e) = out {
            tracing::warn!(key = %key.coordinator_key(), error = %e, "share state write failed; state reloaded on next use");
            **g = None;
            return Err(e);
        }
        Ok(())
    }

    /// Acquire records of `key` for `member` (one partition of a ShareFetch): read from the
    /// first acquirable offset below the high watermark (the LSO for read_committed groups),
    /// at most `max_bytes`, acquire up to `max_records` (strictly with `mode` record_limit,
    /// KIP-1206), persist, and return the batches holding what was acquired.
    pub async fn acquire(
        &self,
        key: &ShareKey,
        topic_id: uuid::Uuid,
        member: &str,
        max_bytes: usize,
        max_records: usize,
        mode: AcquireMode,
    ) -> Result<Acquired, BrokerError> {
        let cfg = self.config(&key.group_id);
        let (mut g, log) = self.locked(key, topic_id).await?;
        let now = self.clock.now_ms();
        let limits = cfg.limits();
        let Some(l) = g.as_mut() else {
            return Ok(Acquired::default());
        };
        if l.part.start_offset() < log.log_start_offset() {
            l.part.advance_log_start(log.log_start_offset());
        }
        let max_offset = match cfg.isolation_level {
            IsolationLevel::ReadCommitted => log.last_stable_offset(),
            IsolationLevel::ReadUncommitted => log.high_watermark(),
        };
        let from = l.part.next_fetch_offset();
        let (bytes, batches) = if from < max_offset {
            read_batches(&log, from, max_bytes, max_offset)?
        } else {
            (Bytes::new(), Vec::new())
        };
        let data: Vec<(i64, i64)> = batches
            .iter()
            .filter(|b| !b.control)
            .map(|b| (b.first, b.last))
            .collect();
        let ranges = l
            .part
            .acquire(member, &data, max_records.max(1), mode, &limits, now);
        self.persist(key, &mut g).await?;
        let mut out = bytes::BytesMut::new();
        for b in &batches {
            if ranges
                .iter()
                .any(|r| r.first_offset <= b.last && r.last_offset >= b.first)
            {
                out.extend_from_slice(&bytes[b.pos..b.pos + b.len]);
            }
        }
        Ok(Acquired {
            records: out.freeze(),
            ranges,
        })
    }

    /// Apply `member`'s acknowledgements of `key` and persist them (INVALID_RECORD_STATE when
    /// any record is not acquired by it; nothing is applied then).
    pub async fn acknowledge(
        &self,
        key: &ShareKey,
        topic_id: uuid::Uuid,
        member: &str,
        batches: &[AckBatch],
    ) -> Result<(), BrokerError> {
        let limits = self.config(&key.group_id).limits();
        let (mut g, _) = self.locked(key, topic_id).await?;
        let now = self.clock.now_ms();
        let Some(l) = g.as_mut() else {
            return Ok(());
        };
        l.part.acknowledge(member, batches, &limits, now)?;
        self.persist(key, &mut g).await?;
        // Released records, or a window that moved on: waiting fetches may acquire now.
        self.bump();
        Ok(())
    }

    /// Release what `member` of `group` holds on the share-partitions loaded here (it left,
    /// its session expired, or its share session closed); `only` limits it to those
    /// (topic id, partition)s.
    pub async fn release_member(
        &self,
        group: &str,
        member: &str,
        only: Option<&[(uuid::Uuid, i32)]>,
    ) {
        for (key, cell) in self.loaded(|k| k.group_id == group) {
            if let Some(only) = only {
                let id = uuid::Uuid::from_bytes(key.topic_id.0);
                if !only.contains(&(id, key.partition)) {
                    continue;
                }
            }
            let limits = self.config(group).limits();
            let mut g = cell.lock_owned().await;
            let Some(l) = g.as_mut() else { continue };
            let t = l.part.release_member(member, &limits);
            if t.released + t.archived + t.dead_letters > 0 {
                let _ = self.persist(&key, &mut g).await;
                self.bump();
            }
        }
    }

    /// `connection` closed: its share sessions end and their members' acquired records on
    /// the sessions' partitions are released (Kafka's `ShareSessionCache` disconnect listener).
    pub async fn connection_closed(&self, connection: u64) {
        let closed = self.sessions().close_connection(connection);
        for (group, member, parts) in closed {
            tracing::debug!(%group, %member, partitions = parts.len(), "share session's connection closed: releasing its records");
            self.release_member(&group, &member, Some(&parts)).await;
        }
    }

    /// The loaded cells whose key passes `f`.
    pub(crate) fn loaded(&self, f: impl Fn(&ShareKey) -> bool) -> Vec<(ShareKey, Cell)> {
        let cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        cells
            .iter()
            .filter(|(k, _)| f(k))
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect()
    }

    /// The timer: release expired acquisition locks (persisting the change) on every loaded
    /// share-partition, forget share-partitions this broker no longer leads, and copy pending
    /// dead letters (`dlq`).
    pub async fn tick(&self) {
        let now = self.clock.now_ms();
        let mut any = false;
        for (key, cell) in self.loaded(|_| true) {
            let Ok(mut g) = cell.clone().try_lock_owned() else {
                continue;
            };
            let Some(l) = g.as_mut() else { continue };
            let leads = self
                .view
                .partition(&l.topic, key.partition)
                .is_some_and(|p| {
                    p.leader == self.view.node_id() && p.leader_epoch == l.leader_epoch
                });
            if !leads {
                *g = None;
                continue;
            }
            if l.part.next_lock_deadline().is_some_and(|d| d <= now) {
                let limits = self.config(&key.group_id).limits();
                let t = l.part.expire_locks(&limits, now);
                any |= t.released > 0;
                let _ = self.persist(&key, &mut g).await;
            }
        }
        if any {
            self.bump();
        }
        self.copy_dead_letters().await;
    }

    /// Delete every share-partition state of `group` (DeleteGroups of an empty share group):
    /// the loaded ones, and every partition of every topic whose state this broker's share
    /// coordinator holds.
    pub async fn delete_group(&self, group: &str) -> Result<(), BrokerError> {
        self.sessions().drop_group(group);
        for (_, cell) in self.loaded(|k| k.group_id == group) {
            *cell.lock().await = None;
        }
        self.cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| k.group_id != group);
        self.recheck
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k| k.group_id != group);
        for t in self.view.topics() {
            for p in 0..t.partitions {
                let key = share_key(group, t.id, p);
                let local = self.state.local();
                if local.check(&key).is_err() {
                    continue;
                }
                if local.read_state(&key).await?.is_some() {
                    local.delete_state(&key).await?;
                }
            }
        }
        Ok(())
    }

    /// The local share coordinator (FindCoordinator key type 2, the state RPCs).
    pub fn state(&self) -> &ShareStateCoordinator {
        self.state.local()
    }
}

/// Run a share-coordinator call, retrying while its partition is loading or the topic is being
/// created (up to 10 s).
pub(crate) async fn retry<T, F, Fut>(mut f: F) -> Result<T, BrokerError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BrokerError>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match f().await {
            Err(e)
                if (e.code() == ResponseError::CoordinatorLoadInProgress.code()
                    || e.code() == ResponseError::CoordinatorNotAvailable.code())
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

impl std::fmt::Debug for SharePartitionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharePartitionManager")
            .finish_non_exhaustive()
    }
}
