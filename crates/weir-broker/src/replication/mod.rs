//! Kafka's ISR replication (Kafka's `ReplicaManager` / `Partition`): leaders track what their
//! followers have fetched and derive the high watermark from the ISR; followers copy their
//! leaders' logs with the Fetch API (`fetcher`), truncating a divergent tail first (KIP-320
//! diverging epochs); ISR changes go to the controller as AlterPartition (`isr`); acks=all
//! produces wait here for the high watermark.
//!
//! Decisions live in the sans-IO [`leader_state::LeaderState`]; this module applies them.

pub mod config;
pub mod fetcher;
pub mod isr;
pub mod leader_state;
pub mod read_replica;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use weir_log::{PartitionLog, TopicPartition};
use weir_meta::image::MetadataImage;
use weir_meta::records::PartitionInfo;

use crate::broker::Broker;
use crate::error::BrokerError;
use leader_state::LeaderState;

/// What a follower copies from: the leader broker and its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowTarget {
    /// Leader broker id.
    pub leader: i32,
    /// Leader epoch the follower fetches in.
    pub leader_epoch: i32,
}

/// Per-broker replication state: leader bookkeeping for partitions led here, and the follow
/// targets the fetcher tasks work from.
#[derive(Debug, Default)]
pub struct ReplicaManager {
    leaders: Mutex<HashMap<TopicPartition, LeaderState>>,
    fetch: Mutex<FetchTable>,
    /// Set by a controlled shutdown: stop heartbeating (so the controller keeps this broker
    /// fenced) and stop following.
    leaving: AtomicBool,
}

/// Follow targets plus the leaders that have a fetcher task running.
#[derive(Debug, Default)]
pub(crate) struct FetchTable {
    pub(crate) targets: HashMap<TopicPartition, FollowTarget>,
    pub(crate) running: HashSet<i32>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
    /// True once a controlled shutdown has begun.
    pub fn is_leaving(&self) -> bool {
        self.leaving.load(Ordering::SeqCst)
    }

    /// The follow targets and running fetchers. A fetcher holds it while applying an answer, so
    /// a change of target (see `Broker::stop_following_led`) is atomic with respect to appends.
    pub(crate) fn fetch_table(&self) -> MutexGuard<'_, FetchTable> {
        lock(&self.fetch)
    }
}

impl Broker {
    /// Stop following every partition `image` says this broker leads. `reconcile` calls it before
    /// a new leader epoch starts in any log: the fetcher applies an answer only under the fetch
    /// table's lock and while the partition is still targeted, so no batch fetched from the old
    /// leader lands after the epoch start.
    pub(crate) fn stop_following_led(&self, image: &MetadataImage) {
        let node = self.config.node_id;
        self.replication.fetch_table().targets.retain(|tp, _| {
            image
                .partition(&tp.topic, tp.partition)
                .is_none_or(|p| p.leader != node)
        });
    }

    /// Bring replication in line with `image` (called by `reconcile` with the logs already
    /// open): leader state for partitions led here (fresh at a new leader epoch), follow
    /// targets for the rest, and high watermarks recomputed (an ISR shrink can let one advance).
    pub(crate) fn reconcile_replication(&self, image: &MetadataImage) {
        let node = self.config.node_id;
        let now = now_ms();
        let mut targets = HashMap::new();
        let mut led = Vec::new();
        {
            let mut leaders = lock(&self.replication.leaders);
            let mut seen = HashSet::new();
            for (name, t) in &image.topics {
                for (i, p) in t.partitions.iter().enumerate() {
                    if !p.replicas.contains(&node) {
                        continue;
                    }
                    let tp = TopicPartition::new(name.clone(), i as i32);
                    if p.leader == node {
                        let Some(log) = self.logs.get(&tp) else {
                            continue;
                        };
                        let followers: Vec<i32> =
                            p.replicas.iter().copied().filter(|&r| r != node).collect();
                        let st = leaders.entry(tp.clone()).or_insert_with(|| {
                            LeaderState::new(p.leader_epoch, log.log_end_offset(), &followers, now)
                        });
                        if st.leader_epoch != p.leader_epoch {
                            *st = LeaderState::new(
                                p.leader_epoch,
                                log.log_end_offset(),
                                &followers,
                                now,
                            );
                        }
                        st.set_followers(&followers, now);
                        if st.isr_change_pending {
                            // A committed change (or a conflicting one) arrived: allow the next.
                            st.isr_change_pending = false;
                        }
                        seen.insert(tp.clone());
                        led.push((tp, log, p.clone()));
                    } else if p.leader >= 0 {
                        targets.insert(
                            tp,
                            FollowTarget {
                                leader: p.leader,
                                leader_epoch: p.leader_epoch,
                            },
                        );
                    }
                }
            }
            leaders.retain(|tp, _| seen.contains(tp));
        }
        for (tp, log, p) in led {
            self.update_high_watermark(&tp, &log, &p);
        }
        let leaving = self.replication.is_leaving();
        let mut table = self.replication.fetch_table();
        table.targets = if leaving { HashMap::new() } else { targets };
    }

    /// Recompute a led partition's high watermark from its (maximal) ISR; wakes fetches when it
    /// moved.
    fn update_high_watermark(&self, tp: &TopicPartition, log: &PartitionLog, p: &PartitionInfo) {
        let hw = {
            let leaders = lock(&self.replication.leaders);
            match leaders.get(tp) {
                Some(st) => st.high_watermark(
                    self.config.node_id,
                    &st.maximal_isr(&p.isr, p.partition_epoch),
                ),
                None => return,
            }
        };
        if hw > log.high_watermark() {
            self.advance_high_watermark(log, hw);
            self.notify_new_data();
        }
    }

    /// The leader's own append up to `end` (exclusive) is durable: count it toward the high
    /// watermark (alone, for a single-replica ISR).
    pub fn on_local_durable(&self, log: &PartitionLog, end: i64) {
        let tp = log.topic_partition();
        let Some(p) = self.partition_info(&tp.topic, tp.partition) else {
            return;
        };
        {
            let mut leaders = lock(&self.replication.leaders);
            let Some(st) = leaders.get_mut(tp) else {
                return;
            };
            st.local_durable_end = st.local_durable_end.max(end);
        }
        self.update_high_watermark(tp, log, &p);
    }

    /// A follower fetched `tp` from `fetch_offset` (its log end offset): update its state,
    /// advance the high watermark, and ask the controller to add it back to the ISR once it
    /// has caught up.
    pub fn on_follower_fetch(
        self: &Arc<Self>,
        tp: &TopicPartition,
        log: &PartitionLog,
        follower: i32,
        fetch_offset: i64,
    ) {
        let Some(p) = self.partition_info(&tp.topic, tp.partition) else {
            return;
        };
        let leo = log.log_end_offset();
        let joiners = {
            let mut leaders = lock(&self.replication.leaders);
            let Some(st) = leaders.get_mut(tp) else {
                return;
            };
            if st.leader_epoch != p.leader_epoch
                || !st.on_follower_fetch(follower, fetch_offset, leo, now_ms())
            {
                return;
            }
            let isr = st.maximal_isr(&p.isr, p.partition_epoch);
            let hw = st
                .high_watermark(self.config.node_id, &isr)
                .max(log.high_watermark());
            let joiners = st.may_join_isr(&isr, hw);
            if joiners.is_empty() || st.isr_change_pending {
                Vec::new()
            } else {
                st.isr_change_pending = true;
                // From now on the joiners hold the high watermark back: the controller may
                // commit them to the ISR before this broker sees it.
                st.propose_expansion(p.partition_epoch, &joiners);
                joiners
            }
        };
        self.update_high_watermark(tp, log, &p);
        if !joiners.is_empty() {
            let mut isr = p.isr.clone();
            isr.extend(joiners.iter().copied());
            isr.sort_unstable();
            isr.dedup();
            tracing::info!(partition = %tp.dir_name(), ?joiners, ?isr, "follower caught up: expanding the ISR");
            self.spawn_alter_isr(tp.clone(), p, isr);
        }
    }

    /// Wait (acks=all) until the high watermark passes `required` while this broker still leads
    /// the partition at `leader_epoch`. Errors: NOT_LEADER_OR_FOLLOWER when leadership moved
    /// (or the broker is stopping), REQUEST_TIMED_OUT after `timeout`, and
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the data is committed but the ISR has shrunk below
    /// `min_isr` (Kafka's answer: written, but not as durably as asked).
    pub async fn await_replication(
        &self,
        log: &PartitionLog,
        required: i64,
        leader_epoch: i32,
        min_isr: usize,
        timeout: Duration,
    ) -> Result<(), BrokerError> {
        let tp = log.topic_partition().clone();
        let mut data = self.subscribe_new_data();
        let mut meta = self.meta.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            data.borrow_and_update();
            meta.borrow_and_update();
            let p = self.partition_info(&tp.topic, tp.partition);
            let leads = p
                .as_ref()
                .is_some_and(|p| p.leader == self.config.node_id && p.leader_epoch == leader_epoch);
            if !leads {
                return Err(BrokerError::kafka(
                    ResponseError::NotLeaderOrFollower,
                    format!(
                        "leadership of {} moved before the write was replicated",
                        tp.dir_name()
                    ),
                ));
            }
            if log.high_watermark() >= required {
                let isr = p.map(|p| p.isr.len()).unwrap_or(0);
                if isr < min_isr {
                    return Err(BrokerError::kafka(
                        ResponseError::NotEnoughReplicasAfterAppend,
                        format!(
                            "the ISR of {} shrank to {isr}, below min.insync.replicas={min_isr}, \
                             after the write was appended",
                            tp.dir_name()
                        ),
                    ));
                }
                return Ok(());
            }
            tokio::select! {
                r = data.changed() => { if r.is_err() { break; } }
                r = meta.changed() => { if r.is_err() { break; } }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        Err(BrokerError::kafka(
            ResponseError::RequestTimedOut,
            format!(
                "{} was not replicated to every in-sync replica within {} ms",
                tp.dir_name(),
                timeout.as_millis()
            ),
        ))
    }

    /// For an acks=all write that is already below the high watermark: NOT_ENOUGH_REPLICAS_AFTER_APPEND
    /// when the ISR is smaller than `min_isr`, as [`Broker::await_replication`] would answer.
    pub fn check_min_isr_after_append(
        &self,
        log: &PartitionLog,
        min_isr: usize,
    ) -> Result<(), BrokerError> {
        let tp = log.topic_partition();
        let isr = self
            .partition_info(&tp.topic, tp.partition)
            .map(|p| p.isr.len())
            .unwrap_or(0);
        if isr < min_isr {
            return Err(BrokerError::kafka(
                ResponseError::NotEnoughReplicasAfterAppend,
                format!(
                    "the ISR of {} shrank to {isr}, below min.insync.replicas={min_isr}, after the \
                     write was appended",
                    tp.dir_name()
                ),
            ));
        }
        Ok(())
    }

    /// Start a fetcher task for every leader this broker follows a partition of and has none.
    pub fn ensure_fetchers(self: &Arc<Self>) {
        let start: Vec<i32> = {
            let mut table = self.replication.fetch_table();
            let leaders: HashSet<i32> = table.targets.values().map(|t| t.leader).collect();
            let new: Vec<i32> = leaders
                .into_iter()
                .filter(|l| !table.running.contains(l))
                .collect();
            table.running.extend(new.iter().copied());
            new
        };
        for leader in start {
            tokio::spawn(fetcher::run(self.clone(), leader));
        }
    }

    /// Mark a controlled shutdown as begun (see [`isr`]).
    pub(crate) fn set_leaving(&self) {
        self.replication.leaving.store(true, Ordering::SeqCst);
        self.replication.fetch_table().targets.clear();
    }

    /// Partitions led here with their leader epochs (controlled shutdown, tests).
    pub fn led_partitions(&self) -> Vec<(TopicPartition, i32)> {
        lock(&self.replication.leaders)
            .iter()
            .map(|(tp, st)| (tp.clone(), st.leader_epoch))
            .collect()
    }

    /// ISR members of led partitions that have not caught up within `replica.lag.time.max.ms`,
    /// as (partition, members to remove); marks those partitions as having a change in flight.
    pub(crate) fn take_out_of_sync(&self, now: i64) -> Vec<(TopicPartition, Vec<i32>)> {
        let lag = self.config.replication.lag_time_max_ms;
        let node = self.config.node_id;
        let mut out = Vec::new();
        let mut leaders = lock(&self.replication.leaders);
        for (tp, st) in leaders.iter_mut() {
            if st.isr_change_pending {
                continue;
            }
            let Some(p) = self.partition_info(&tp.topic, tp.partition) else {
                continue;
            };
            if p.leader_epoch != st.leader_epoch {
                continue;
            }
            let lagging =
                st.out_of_sync(node, &st.maximal_isr(&p.isr, p.partition_epoch), lag, now);
            if !lagging.is_empty() {
                st.isr_change_pending = true;
                out.push((tp.clone(), lagging));
            }
        }
        out
    }

    /// Clear the in-flight mark of a partition's ISR change (after it failed); with `refused`
    /// (the controller rejected it for good) a pending expansion is forgotten too.
    pub(crate) fn clear_isr_pending(&self, tp: &TopicPartition, refused: bool) {
        if let Some(st) = lock(&self.replication.leaders).get_mut(tp) {
            st.isr_change_pending = false;
            if refused {
                st.forget_expansion();
            }
        }
    }
}
