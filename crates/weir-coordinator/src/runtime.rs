//! [`CoordinatorRuntime`]: the shards of the partitions this node leads, their loading and
//! unloading, and the "compute, write, then install" discipline of every state change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::CoordinatorError;
use crate::io::{PartitionReader, PartitionWriter, Record, ReplayItem, Shard, TxnProducer};
use crate::partition::partition_for;
use crate::Clock;

/// What one [`CoordinatorRuntime::sync_ownership`] call changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnershipChange {
    /// Partitions loaded by this call (now owned), with the leader epoch they were loaded at.
    pub loaded: Vec<(i32, i32)>,
    /// Partitions whose shard this call dropped (no longer led, or led at another epoch; a
    /// partition reloaded at a new epoch appears in both lists).
    pub unloaded: Vec<i32>,
    /// Led partitions whose load failed (retried at the next call).
    pub failed: Vec<i32>,
}

/// A loaded shard: owned at `epoch`; `load` identifies this load (a write completes only on the
/// very shard instance it computed on).
struct Loaded<S> {
    epoch: i32,
    load: u64,
    shard: S,
}

/// Ownership and shards, under one lock.
struct State<S> {
    /// Partition count of the topic; None while the topic does not exist.
    partitions: Option<i32>,
    /// Partitions this node leads, with their leader epoch.
    led: BTreeMap<i32, i32>,
    /// Loaded shards. Invariant: a shard is present only while its partition is led at the
    /// epoch it was loaded at.
    shards: BTreeMap<i32, Loaded<S>>,
    /// Counter for [`Loaded::load`].
    loads: u64,
}

/// Runs one coordinator (Kafka's `CoordinatorRuntime`): holds the [`Shard`]s of the partitions
/// this node leads, loads and unloads them as leadership moves, answers NOT_COORDINATOR /
/// COORDINATOR_LOAD_IN_PROGRESS for keys it cannot serve, and makes every persisted change
/// durable before it becomes visible.
///
/// Locking: one std mutex guards ownership and every shard (never held across an await; a
/// poisoned lock is recovered, as every shard operation leaves its shard consistent before it
/// could panic); one async mutex per key (the serialisation gate) is held across a whole
/// [`CoordinatorRuntime::write`].
pub struct CoordinatorRuntime<S: Shard> {
    topic: &'static str,
    writer: Arc<dyn PartitionWriter>,
    reader: Arc<dyn PartitionReader>,
    clock: Arc<dyn Clock>,
    new_shard: Box<dyn Fn(i32) -> S + Send + Sync>,
    state: Mutex<State<S>>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl<S: Shard> std::fmt::Debug for CoordinatorRuntime<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordinatorRuntime")
            .field("topic", &self.topic)
            .field("owned", &self.owned())
            .finish_non_exhaustive()
    }
}

impl<S: Shard> CoordinatorRuntime<S> {
    /// A runtime for `topic` that owns nothing until [`Self::sync_ownership`] says which
    /// partitions this node leads. `new_shard(partition)` makes the empty shard a load starts
    /// from.
    pub fn new(
        topic: &'static str,
        writer: Arc<dyn PartitionWriter>,
        reader: Arc<dyn PartitionReader>,
        clock: Arc<dyn Clock>,
        new_shard: Box<dyn Fn(i32) -> S + Send + Sync>,
    ) -> Self {
        CoordinatorRuntime {
            topic,
            writer,
            reader,
            clock,
            new_shard,
            state: Mutex::new(State {
                partitions: None,
                led: BTreeMap::new(),
                shards: BTreeMap::new(),
                loads: 0,
            }),
            gates: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Current time (ms since the epoch) from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The coordinator's topic.
    pub fn topic(&self) -> &'static str {
        self.topic
    }

    /// The topic's partition count as last synced; None while the topic does not exist.
    pub fn partitions(&self) -> Option<i32> {
        self.lock().partitions
    }

    /// The partition holding `key` ([`partition_for`]); None while the topic is unknown.
    pub fn partition_of(&self, key: &str) -> Option<i32> {
        self.lock().partitions.map(|n| partition_for(key, n))
    }

    /// Align ownership with the metadata: `partitions` = the topic's partition count (None =
    /// topic absent); `led` = partition -> leader epoch, for the partitions this node leads.
    /// Stale shards (no longer led, or led at another epoch: another leader may have written
    /// meanwhile) are marked not-owned and dropped first, atomically; then every newly led
    /// partition is loaded by replay into a fresh shard, outside the lock, and only then marked
    /// owned (if it is still led at the same epoch). A load that fails is logged and retried at
    /// the next call.
    pub fn sync_ownership(
        &self,
        partitions: Option<i32>,
        led: &BTreeMap<i32, i32>,
    ) -> OwnershipChange {
        let led: BTreeMap<i32, i32> = match partitions {
            Some(n) => led
                .iter()
                .filter(|(&p, _)| (0..n).contains(&p))
                .map(|(&p, &e)| (p, e))
                .collect(),
            None => BTreeMap::new(),
        };
        let mut change = OwnershipChange::default();
        let to_load: Vec<(i32, i32)> = {
            let mut st = self.lock();
            st.partitions = partitions;
            st.led = led.clone();
            let stale: Vec<i32> = st
                .shards
                .iter()
                .filter(|(p, l)| led.get(p) != Some(&l.epoch))
                .map(|(&p, _)| p)
                .collect();
            for p in &stale {
                st.shards.remove(p);
                tracing::debug!(
                    topic = self.topic,
                    partition = *p,
                    leader_epoch = led.get(p).copied(),
                    "no longer the coordinator for this partition (or led again at a new epoch: reloading)"
                );
            }
            change.unloaded = stale;
            led.iter()
                .filter(|(p, _)| !st.shards.contains_key(p))
                .map(|(&p, &e)| (p, e))
                .collect()
        };
        for (p, epoch) in to_load {
            let now = self.now();
            let mut shard = (self.new_shard)(p);
            let read = self
                .reader
                .replay(p, &mut |item: ReplayItem<'_>| match item {
                    ReplayItem::Record {
                        key,
                        value,
                        txn: None,
                    } => shard.replay(key, value, now),
                    ReplayItem::Record {
                        key,
                        value,
                        txn: Some(t),
                    } => {
                        shard.replay_transactional(t.producer_id, t.producer_epoch, key, value, now)
                    }
                    ReplayItem::Marker {
                        producer_id,
                        commit,
                        ..
                    } => shard.replay_marker(producer_id, commit, now),
                });
            match read {
                Ok(records) => {
                    shard.loaded(now);
                    let mut st = self.lock();
                    if st.led.get(&p) == Some(&epoch) && !st.shards.contains_key(&p) {
                        st.loads += 1;
                        let load = st.loads;
                        st.shards.insert(p, Loaded { epoch, load, shard });
                        change.loaded.push((p, epoch));
                        tracing::debug!(
                            topic = self.topic,
                            partition = p,
                            leader_epoch = epoch,
                            records,
                            "coordinator state loaded"
                        );
                    }
                }
                Err(e) => {
                    change.failed.push(p);
                    tracing::warn!(topic = self.topic, partition = p, error = %e, "loading coordinator state failed; will retry");
                }
            }
        }
        change
    }

    /// The partitions this node owns (leads and has loaded), with the leader epoch they were
    /// loaded at.
    pub fn owned(&self) -> BTreeMap<i32, i32> {
        self.lock()
            .shards
            .iter()
            .map(|(&p, l)| (p, l.epoch))
            .collect()
    }

    fn check_locked(&self, st: &State<S>, key: &str) -> Result<i32, CoordinatorError> {
        let Some(n) = st.partitions else {
            return Err(CoordinatorError::NotAvailable(format!(
                "{} does not exist yet",
                self.topic
            )));
        };
        let p = partition_for(key, n);
        let Some(&epoch) = st.led.get(&p) else {
            return Err(CoordinatorError::NotCoordinator(format!(
                "this broker is not the coordinator of {key} (it does not lead {}-{p})",
                self.topic
            )));
        };
        if st.shards.get(&p).map(|l| l.epoch) != Some(epoch) {
            return Err(CoordinatorError::LoadInProgress(format!(
                "the state of {}-{p} is still loading",
                self.topic
            )));
        }
        Ok(p)
    }

    /// Which partition serves `key`: NOT_COORDINATOR when this node does not lead it,
    /// COORDINATOR_LOAD_IN_PROGRESS when it leads it but has not loaded it at the current
    /// epoch, COORDINATOR_NOT_AVAILABLE while the topic does not exist.
    pub fn check(&self, key: &str) -> Result<i32, CoordinatorError> {
        self.check_locked(&self.lock(), key)
    }

    /// Create the coordinator's topic if it does not exist yet ([`PartitionWriter::ensure_topic`]);
    /// returns its partition count. Failures map like a write's.
    pub async fn ensure_topic(&self) -> Result<i32, CoordinatorError> {
        match self.partitions() {
            Some(n) => Ok(n),
            None => Ok(self.writer.ensure_topic().await?),
        }
    }

    /// Like [`Self::check`], but if the topic does not exist yet first creates it
    /// ([`PartitionWriter::ensure_topic`]; the first request that needs the topic creates it).
    pub async fn ensure(&self, key: &str) -> Result<i32, CoordinatorError> {
        if self.partitions().is_none() {
            self.writer.ensure_topic().await?;
        }
        self.check(key)
    }

    /// Run `f` on key's shard under the lock, after the ownership check; also returns the
    /// shard's epoch and load.
    fn with_shard<T>(
        &self,
        key: &str,
        f: impl FnOnce(&mut S) -> T,
    ) -> Result<(i32, i32, u64, T), CoordinatorError> {
        let mut st = self.lock();
        let p = self.check_locked(&st, key)?;
        let l = st.shards.get_mut(&p).ok_or_else(|| {
            CoordinatorError::LoadInProgress(format!("{}-{p} is not loaded", self.topic))
        })?;
        let (epoch, load) = (l.epoch, l.load);
        Ok((p, epoch, load, f(&mut l.shard)))
    }

    /// Run `f` on key's shard (after [`Self::ensure`]).
    pub async fn read<T>(&self, key: &str, f: impl FnOnce(&S) -> T) -> Result<T, CoordinatorError> {
        self.ensure(key).await?;
        self.with_shard(key, |s| f(s)).map(|r| r.3)
    }

    /// Run `f` on key's shard without creating the topic: `Ok(None)` while the topic does not
    /// exist (no key has state then), else as [`Self::check`].
    pub fn try_read<T>(
        &self,
        key: &str,
        f: impl FnOnce(&S) -> T,
    ) -> Result<Option<T>, CoordinatorError> {
        if self.partitions().is_none() {
            return Ok(None);
        }
        self.with_shard(key, |s| f(s)).map(|r| Some(r.3))
    }

    /// An in-memory change of key's shard (nothing written; `f` gets now), after
    /// [`Self::ensure`]. Does not take the key's gate.
    pub async fn update<T>(
        &self,
        key: &str,
        f: impl FnOnce(&mut S, i64) -> T,
    ) -> Result<T, CoordinatorError> {
        self.ensure(key).await?;
        let now = self.now();
        self.with_shard(key, |s| f(s, now)).map(|r| r.3)
    }

    /// Like [`Self::update`] without creating the topic: `Ok(None)` while it does not exist.
    pub fn try_update<T>(
        &self,
        key: &str,
        f: impl FnOnce(&mut S, i64) -> T,
    ) -> Result<Option<T>, CoordinatorError> {
        if self.partitions().is_none() {
            return Ok(None);
        }
        let now = self.now();
        self.with_shard(key, |s| f(s, now)).map(|r| Some(r.3))
    }

    /// The serialisation gate of `key`.
    fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.gates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// Forget `key`'s gate when nobody else holds or waits for it.
    fn release_gate(&self, key: &str, gate: Arc<tokio::sync::Mutex<()>>) {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        // Ours plus the map's: nobody else can reach it (clones are taken under this lock).
        if Arc::strong_count(&gate) == 2 {
            gates.remove(key);
        }
    }

    /// "Compute, write the records, then install" (after [`Self::ensure`]). Holds key's
    /// serialisation gate for the whole operation, so the writes of one key never interleave.
    /// `compute` runs under the shard lock with now and returns the records to persist plus a
    /// payload; an `Err` from it is returned as is (nothing written, `complete` not run). The
    /// records are appended at the leader epoch the shard is owned at (skipped when empty).
    /// `complete` then runs under the shard lock with `Some(shard)` if the very shard `compute`
    /// ran on is still owned, else with `None` and NOT_COORDINATOR; its second argument is the
    /// write's outcome, mapped by [`CoordinatorError`]'s `From<WriteError>`. `complete` always
    /// runs once `compute` succeeded (so waiters get answered), and its value is returned.
    pub async fn write<P, T>(
        &self,
        key: &str,
        compute: impl FnOnce(&mut S, i64) -> Result<(Vec<Record>, P), CoordinatorError> + Send,
        complete: impl FnOnce(Option<&mut S>, Result<(), CoordinatorError>, P) -> T + Send,
    ) -> Result<T, CoordinatorError>
    where
        P: Send,
    {
        self.ensure(key).await?;
        let gate = self.gate(key);
        let out = {
            let _serial = gate.lock().await;
            self.write_gated(key, None, compute, complete).await
        };
        self.release_gate(key, gate);
        out
    }

    /// [`Self::write`], but the computed records are appended as ONE transactional batch of
    /// `producer_id` at `producer_epoch` ([`PartitionWriter::append_transactional`]): they
    /// become effective only when a COMMIT marker of that producer follows them in the
    /// partition, so `complete` must install them as pending (on replay they reach
    /// [`Shard::replay_transactional`]). Same gate, ownership and error guarantees as
    /// [`Self::write`]; a stale producer epoch comes back as the writer's error (e.g.
    /// INVALID_PRODUCER_EPOCH), unmapped.
    pub async fn write_transactional<P, T>(
        &self,
        key: &str,
        producer_id: i64,
        producer_epoch: i16,
        compute: impl FnOnce(&mut S, i64) -> Result<(Vec<Record>, P), CoordinatorError> + Send,
        complete: impl FnOnce(Option<&mut S>, Result<(), CoordinatorError>, P) -> T + Send,
    ) -> Result<T, CoordinatorError>
    where
        P: Send,
    {
        self.ensure(key).await?;
        let gate = self.gate(key);
        let txn = TxnProducer {
            producer_id,
            producer_epoch,
        };
        let out = {
            let _serial = gate.lock().await;
            self.write_gated(key, Some(txn), compute, complete).await
        };
        self.release_gate(key, gate);
        out
    }

    async fn write_gated<P, T>(
        &self,
        key: &str,
        txn: Option<TxnProducer>,
        compute: impl FnOnce(&mut S, i64) -> Result<(Vec<Record>, P), CoordinatorError>,
        complete: impl FnOnce(Option<&mut S>, Result<(), CoordinatorError>, P) -> T,
    ) -> Result<T, CoordinatorError> {
        let now = self.now();
        let (p, epoch, load, computed) = self.with_shard(key, |s| compute(s, now))?;
        let (records, payload) = computed?;
        let written = match (records.is_empty(), txn) {
            (true, _) => Ok(()),
            (false, None) => self.writer.append(p, epoch, records).await,
            (false, Some(t)) => {
                self.writer
                    .append_transactional(p, epoch, t.producer_id, t.producer_epoch, records)
                    .await
            }
        }
        .map_err(CoordinatorError::from);
        if let Err(e) = &written {
            tracing::warn!(topic = self.topic, partition = p, key, error = %e, "coordinator write failed");
        }
        let mut st = self.lock();
        let led_epoch = st.led.get(&p).copied();
        match st
            .shards
            .get_mut(&p)
            .filter(|l| l.load == load && led_epoch == Some(epoch))
        {
            Some(l) => Ok(complete(Some(&mut l.shard), written, payload)),
            None => {
                let e = CoordinatorError::NotCoordinator(format!(
                    "{}-{p} was unloaded while writing for {key}",
                    self.topic
                ));
                Ok(complete(None, Err(e), payload))
            }
        }
    }

    /// Run `f` (with now) on the shard of `partition` under the lock, with no key gate and
    /// nothing written (e.g. completing a transaction after its marker was appended). NOT_COORDINATOR
    /// when this node does not own the partition (not led, or not loaded at the led epoch);
    /// COORDINATOR_LOAD_IN_PROGRESS when it leads it but has not loaded it yet.
    pub fn update_partition<T>(
        &self,
        partition: i32,
        f: impl FnOnce(&mut S, i64) -> T,
    ) -> Result<T, CoordinatorError> {
        let now = self.now();
        let mut st = self.lock();
        let led = st.led.get(&partition).copied();
        match (led, st.shards.get_mut(&partition)) {
            (Some(e), Some(l)) if l.epoch == e => Ok(f(&mut l.shard, now)),
            (Some(_), _) => Err(CoordinatorError::LoadInProgress(format!(
                "the state of {}-{partition} is still loading",
                self.topic
            ))),
            (None, _) => Err(CoordinatorError::NotCoordinator(format!(
                "this broker does not lead {}-{partition}",
                self.topic
            ))),
        }
    }

    /// Visit every loaded shard (timers, listings): `f(partition, shard, now)`, in partition
    /// order, all under one lock acquisition. No ensure, no gate.
    pub fn scan<T>(&self, mut f: impl FnMut(i32, &mut S, i64) -> T) -> Vec<(i32, T)> {
        let now = self.now();
        let mut st = self.lock();
        st.shards
            .iter_mut()
            .map(|(&p, l)| (p, f(p, &mut l.shard, now)))
            .collect()
    }
}
