//! Leaders and followers (Kafka's `Partition`): bring replication in line with a metadata image,
//! track what followers have fetched, derive high watermarks from the (maximal) ISR, and decide
//! ISR expansions and shrinks (proposed through `isr`, never applied locally).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use weir_log::{PartitionLog, TopicPartition};
use weir_meta::image::MetadataImage;
use weir_meta::records::PartitionInfo;

use super::leader_state::LeaderState;
use super::manager::{lock, now_ms, FollowTarget, ReplicaManager};

impl ReplicaManager {
    /// Stop following every partition `image` says this broker leads. The metadata applier
    /// calls it before a new leader epoch starts in any log: the fetcher applies an answer only
    /// under the fetch table's lock and while the partition is still targeted, so no batch
    /// fetched from the old leader lands after the epoch start.
    pub fn stop_following_led(&self, image: &MetadataImage) {
        let node = self.settings.node_id;
        self.fetch_table().targets.retain(|tp, _| {
            image
                .partition(&tp.topic, tp.partition)
                .is_none_or(|p| p.leader != node)
        });
    }

    /// Bring replication in line with `image` (the applier calls it with the logs already
    /// open): leader state for partitions led here (fresh at a new leader epoch), follow targets
    /// for the rest, and high watermarks recomputed (an ISR shrink can let one advance).
    pub fn reconcile(&self, image: &MetadataImage) {
        let node = self.settings.node_id;
        let now = now_ms();
        let mut targets = HashMap::new();
        let mut led = Vec::new();
        {
            let mut leaders = lock(&self.leaders);
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
        let leaving = self.is_leaving();
        let targets = if leaving { HashMap::new() } else { targets };
        let changed = {
            let mut table = self.fetch_table();
            let changed = table.targets != targets;
            table.targets = targets;
            changed
        };
        if changed {
            self.notify_targets_changed();
        }
    }

    /// Recompute a led partition's high watermark from its (maximal) ISR.
    fn update_high_watermark(&self, tp: &TopicPartition, log: &PartitionLog, p: &PartitionInfo) {
        let hw = {
            let leaders = lock(&self.leaders);
            match leaders.get(tp) {
                Some(st) => st.high_watermark(
                    self.settings.node_id,
                    &st.maximal_isr(&p.isr, p.partition_epoch),
                ),
                None => return,
            }
        };
        self.advance_high_watermark(log, hw);
    }

    /// The leader's own append up to `end` (exclusive) is durable: count it toward the high
    /// watermark (alone, for a single-replica ISR).
    pub(super) fn on_local_durable(&self, log: &PartitionLog, end: i64) {
        let tp = log.topic_partition();
        let Some(p) = self.view.partition(&tp.topic, tp.partition) else {
            return;
        };
        {
            let mut leaders = lock(&self.leaders);
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
        let Some(p) = self.view.partition(&tp.topic, tp.partition) else {
            return;
        };
        let leo = log.log_end_offset();
        let joiners = {
            let mut leaders = lock(&self.leaders);
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
                .high_watermark(self.settings.node_id, &isr)
                .max(log.high_watermark());
            // KIP-841: only a registered, unfenced broker may join (the controller refuses the
            // others with INELIGIBLE_REPLICA; proposing anyway re-proposed on every fetch, about
            // a hundred refused AlterPartitions a second per partition after a restart).
            let mut joiners = st.may_join_isr(&isr, hw);
            if !joiners.is_empty() {
                let image = self.view.image();
                joiners.retain(|id| image.brokers.get(id).is_some_and(|b| !b.fenced));
            }
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
            tracing::debug!(partition = %tp.dir_name(), ?joiners, ?isr, "follower caught up: expanding the ISR");
            self.spawn_alter_isr(tp.clone(), p, isr);
        }
    }

    /// Start a fetcher task for every leader this broker follows a partition of and has none.
    pub fn ensure_fetchers(self: &Arc<Self>) {
        let start: Vec<i32> = {
            let mut table = self.fetch_table();
            let leaders: HashSet<i32> = table.targets.values().map(|t| t.leader).collect();
            let new: Vec<i32> = leaders
                .into_iter()
                .filter(|l| !table.running.contains(l))
                .collect();
            table.running.extend(new.iter().copied());
            new
        };
        for leader in start {
            tokio::spawn(super::fetcher::run(self.clone(), leader));
        }
    }

    /// ISR members of led partitions that have not caught up within `replica.lag.time.max.ms`,
    /// as (partition, members to remove); marks those partitions as having a change in flight.
    pub(super) fn take_out_of_sync(&self, now: i64) -> Vec<(TopicPartition, Vec<i32>)> {
        let lag = self.settings.replication.lag_time_max_ms;
        let node = self.settings.node_id;
        let mut out = Vec::new();
        let mut leaders = lock(&self.leaders);
        for (tp, st) in leaders.iter_mut() {
            if st.isr_change_pending {
                continue;
            }
            let Some(p) = self.view.partition(&tp.topic, tp.partition) else {
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
    pub(super) fn clear_isr_pending(&self, tp: &TopicPartition, refused: bool) {
        if let Some(st) = lock(&self.leaders).get_mut(tp) {
            st.isr_change_pending = false;
            if refused {
                st.forget_expansion();
            }
        }
    }
}
