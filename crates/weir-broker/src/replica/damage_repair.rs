//! Disk damage on this broker's replicas (issue #18), found at open (`weir-log`'s `damage/`) or at
//! run time by the background verification of segments left unchecked at start-up (issue #24,
//! `log.startup.verify=recovery-point`). A damaged copy must never lead or count toward the high
//! watermark: it leaves the ISR (handing over the leadership to another in-sync replica), is
//! truncated at the damage and refetches from the leader, rejoining the ISR by the normal
//! catch-up rule.
//!
//! The verification itself runs on its own low-priority thread ([`start_verifier`]); the repair
//! steps run on the runtime ([`ReplicaManager::repair_loop`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use weir_log::{LogManager, PartitionDamage, TopicPartition};
use weir_meta::image::MetadataImage;
use weir_meta::records::MetadataRecord;

use super::leader_state::LeaderState;
use super::manager::{lock, ReplicaManager};

/// How often the repair loop looks for damage found at run time.
const REPAIR_TICK: Duration = Duration::from_millis(250);
/// How long the verifier waits before looking again for segments to verify.
const VERIFY_IDLE: Duration = Duration::from_secs(1);

/// `records` (a registration, or nothing) with this broker (`node`) taken out of the ISR of every
/// partition in `damaged` it is in with other members: a `ChangePartition` per partition,
/// replacing one that `records` already holds for it. When it led, the first unfenced other ISR
/// member leads, else none (the partition waits for a complete copy; an unclean election may
/// still choose this one). As the only ISR member it stays: no other copy is known to be
/// complete.
pub fn damaged_leave_isr(
    image: &MetadataImage,
    node: i32,
    damaged: &[PartitionDamage],
    mut records: Vec<MetadataRecord>,
) -> Vec<MetadataRecord> {
    for d in damaged {
        let Some(p) = image.partition(&d.tp.topic, d.tp.partition) else {
            continue;
        };
        let others: Vec<i32> = p.isr.iter().copied().filter(|r| *r != node).collect();
        if !p.isr.contains(&node) || others.is_empty() {
            continue;
        }
        let leader = (p.leader == node).then(|| {
            others
                .iter()
                .copied()
                .filter(|r| image.brokers.get(r).is_some_and(|b| !b.fenced))
                .min_by_key(|r| p.removing_replicas.contains(r))
                .unwrap_or(-1)
        });
        records.retain(|r| {
            !matches!(r, MetadataRecord::ChangePartition { topic, partition, .. }
                if *topic == d.tp.topic && *partition == d.tp.partition)
        });
        records.push(MetadataRecord::ChangePartition {
            topic: d.tp.topic.clone(),
            partition: d.tp.partition,
            leader,
            isr: Some(others),
            partition_epoch: Some(p.partition_epoch),
        });
    }
    records
}

/// One damaged partition as the repair loop tracks it, from the damage until this replica can no
/// longer claim what it lost.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// The damage.
    pub damage: PartitionDamage,
    /// Partition and leader epochs when the loop first saw it.
    pub detected: (i32, i32),
    /// True once the local log was truncated at the damage.
    pub truncated: bool,
}

/// What the repair of one damaged partition does next, given the metadata image.
#[derive(Debug, PartialEq, Eq)]
pub enum RepairStep {
    /// Propose leaving the ISR (and the leadership) with these records.
    LeaveIsr(Vec<MetadataRecord>),
    /// Out of the ISR, but the partition epoch has not moved since the damage was seen: propose a
    /// change that moves it (same leader and ISR), so that an ISR expansion the leader computed
    /// from this replica's fetches before the damage can no longer commit.
    Fence(Vec<MetadataRecord>),
    /// Out of the ISR at a later partition epoch and not leading: truncate once the local replica
    /// follows.
    Truncate,
    /// The only in-sync copy (or the partition has no other member): cut at the damage and keep
    /// leading, as at open (no other replica is known to hold what follows).
    SoleCopy,
    /// Truncated and refetching: nothing to do now; still out of the ISR until it has what it
    /// held before (or a new leader counts only new fetches).
    Guard,
    /// Done: the partition is gone, or the refetched copy holds what it held before.
    Done,
}

/// The next repair step for `t` on broker `node` whose log ends at `log_end` (sans-IO: decided
/// from the image and the local log end alone).
pub fn repair_step(image: &MetadataImage, node: i32, t: &Tracked, log_end: i64) -> RepairStep {
    let d = &t.damage;
    let Some(p) = image.partition(&d.tp.topic, d.tp.partition) else {
        return RepairStep::Done;
    };
    let others = p.isr.iter().any(|r| *r != node);
    if t.truncated {
        // Before the damage this replica fetched up to `previous_log_end`: a leader that still
        // believes that may add it to the ISR. Once it holds as much again (or a new leader,
        // which counts only fetches made to it, leads) the guard ends.
        if log_end >= d.previous_log_end || p.leader_epoch != t.detected.1 || p.leader == node {
            return RepairStep::Done;
        }
        if p.isr.contains(&node) && others && p.leader != node {
            return RepairStep::LeaveIsr(damaged_leave_isr(
                image,
                node,
                std::slice::from_ref(d),
                Vec::new(),
            ));
        }
        return RepairStep::Guard;
    }
    if p.isr.contains(&node) && others {
        return RepairStep::LeaveIsr(damaged_leave_isr(
            image,
            node,
            std::slice::from_ref(d),
            Vec::new(),
        ));
    }
    if p.leader == node {
        return RepairStep::SoleCopy;
    }
    if p.partition_epoch == t.detected.0 {
        return RepairStep::Fence(vec![MetadataRecord::ChangePartition {
            topic: d.tp.topic.clone(),
            partition: d.tp.partition,
            leader: None,
            isr: Some(p.isr.clone()),
            partition_epoch: Some(p.partition_epoch),
        }]);
    }
    RepairStep::Truncate
}

impl ReplicaManager {
    /// Repair disk damage found at run time, for the life of the process (see the module doc):
    /// every [`REPAIR_TICK`], each damaged partition takes its next [`repair_step`].
    pub async fn repair_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(REPAIR_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tracked: HashMap<TopicPartition, Tracked> = HashMap::new();
        loop {
            tick.tick().await;
            if self.is_shutting_down() {
                return;
            }
            for d in self.logs.runtime_damage() {
                let epochs = self
                    .view
                    .partition(&d.tp.topic, d.tp.partition)
                    .map_or((-1, -1), |p| (p.partition_epoch, p.leader_epoch));
                let t = tracked.entry(d.tp.clone()).or_insert_with(|| Tracked {
                    damage: d.clone(),
                    detected: epochs,
                    truncated: false,
                });
                if t.truncated {
                    // Damaged again after a repair: start over.
                    *t = Tracked {
                        damage: d,
                        detected: epochs,
                        truncated: false,
                    };
                }
            }
            let mut done = Vec::new();
            for (tp, t) in tracked.iter_mut() {
                if self.repair_one(t).await {
                    done.push(tp.clone());
                }
            }
            for tp in done {
                tracked.remove(&tp);
            }
        }
    }

    /// One step for `t`; true when it is done.
    async fn repair_one(&self, t: &mut Tracked) -> bool {
        let node = self.settings.node_id;
        let log_end = self
            .logs
            .get(&t.damage.tp)
            .map_or(-1, |l| l.log_end_offset());
        let d = t.damage.clone();
        match repair_step(&self.view.image(), node, t, log_end) {
            RepairStep::Done => return true,
            RepairStep::Guard => {}
            RepairStep::LeaveIsr(records) => match self.quorum.propose(records).await {
                Ok(_) => {
                    tracing::warn!(partition = %d.tp.dir_name(), offset = d.truncated_at, "disk damage: this replica left the ISR; it truncates and refetches from the leader")
                }
                Err(e) => {
                    tracing::debug!(partition = %d.tp.dir_name(), error = %e, "leaving the ISR after disk damage failed; retrying")
                }
            },
            RepairStep::Fence(records) => {
                if let Err(e) = self.quorum.propose(records).await {
                    tracing::debug!(partition = %d.tp.dir_name(), error = %e, "moving the partition epoch after disk damage failed; retrying");
                }
            }
            RepairStep::SoleCopy => {
                // As at open: no other copy is known to be complete, so this one is cut at the
                // damage and keeps leading. The leader state restarts from the new log end
                // (held locked, so no high-watermark update interleaves).
                let Some(log) = self.logs.get(&d.tp) else {
                    return true;
                };
                let mut leaders = lock(&self.leaders);
                match log.repair_damage() {
                    Ok(Some(at)) => {
                        t.truncated = true;
                        if let Some(st) = leaders.get_mut(&d.tp) {
                            let followers: Vec<i32> = self
                                .view
                                .partition(&d.tp.topic, d.tp.partition)
                                .map(|p| p.replicas.into_iter().filter(|r| *r != node).collect())
                                .unwrap_or_default();
                            *st = LeaderState::new(
                                st.leader_epoch,
                                log.log_end_offset(),
                                &followers,
                                super::manager::now_ms(),
                            );
                        }
                        drop(leaders);
                        tracing::error!(
                            partition = %d.tp.dir_name(),
                            truncated_at = at,
                            previous_log_end = d.previous_log_end,
                            reason = %d.reason,
                            "DISK DAMAGE: no other in-sync replica holds this partition: records \
                             from offset {} to {} were lost to disk damage; this broker keeps and \
                             serves the truncated log",
                            at,
                            d.previous_log_end
                        );
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(partition = %d.tp.dir_name(), error = %e, "truncating at disk damage failed; retrying")
                    }
                }
            }
            RepairStep::Truncate => {
                if lock(&self.leaders).contains_key(&d.tp) {
                    return false; // the local replica still leads: wait until the image is applied
                }
                let Some(log) = self.logs.get(&d.tp) else {
                    return true;
                };
                // The fetcher applies answers holding the fetch table, and drops an answer
                // fetched from a log end offset that moved meanwhile. No fetch is sent for a
                // damaged partition; one sent before must be answered first.
                let table = self.fetch_table();
                let claims_past = table
                    .in_flight
                    .get(&d.tp)
                    .is_some_and(|o| o.iter().any(|&o| o > d.truncated_at));
                if claims_past {
                    // A fetch sent before the damage was found may still be counted by the
                    // leader: truncating now could let it add this copy to the ISR.
                    return false;
                }
                match log.repair_damage() {
                    Ok(Some(at)) => {
                        t.truncated = true;
                        tracing::warn!(partition = %d.tp.dir_name(), truncated_at = at, previous_log_end = d.previous_log_end, "disk damage repaired: truncated at the damaged batch; refetching from the leader")
                    }
                    Ok(None) => t.truncated = true,
                    Err(e) => {
                        tracing::warn!(partition = %d.tp.dir_name(), error = %e, "truncating at disk damage failed; retrying")
                    }
                }
            }
        }
        false
    }
}

/// Start the background verification of segments left unchecked at start-up, on its own thread
/// at a low scheduling priority, until `stopped` returns true. Damage it finds is recorded in the
/// partition's log (reads of it are refused) and repaired by [`ReplicaManager::repair_loop`].
pub fn start_verifier(
    logs: Arc<LogManager>,
    stopped: Arc<dyn Fn() -> bool + Send + Sync>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("weir-verify".into())
        .spawn(move || {
            lower_priority();
            let started = Instant::now();
            let mut total = weir_log::VerifyPass::default();
            let mut announced = false;
            while !stopped() {
                if !logs.has_unverified_segments() {
                    if total.segments > 0 && !announced {
                        announced = true;
                        tracing::info!(
                            partitions = total.partitions,
                            segments = total.segments,
                            mib = total.bytes >> 20,
                            damaged = total.damaged,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "background verification of the segments below the recovery points done"
                        );
                    }
                    std::thread::sleep(VERIFY_IDLE);
                    continue;
                }
                announced = false;
                let pass = logs.verify_deferred(&mut |_| {}, &*stopped);
                total.partitions += pass.partitions;
                total.segments += pass.segments;
                total.bytes += pass.bytes;
                total.damaged += pass.damaged;
                if pass.segments == 0 && pass.damaged == 0 {
                    // Only retries (segments changed while read) or partitions not open yet.
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
}

/// Nice the calling thread (Linux: per-thread) so that verification yields to serving.
fn lower_priority() {
    // SAFETY: gettid and setpriority have no memory-safety preconditions.
    let r = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10)
    };
    if r != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower the verifier's priority");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;
    use weir_log::TopicPartition;
    use weir_meta::image::{BrokerInfo, TopicInfo};

    use weir_meta::records::PartitionInfo;

    use super::*;

    fn image(leader: i32, isr: Vec<i32>, fenced: &[i32]) -> MetadataImage {
        let mut img = MetadataImage::default();
        for id in 1..=3 {
            img.brokers.insert(
                id,
                BrokerInfo {
                    id,
                    incarnation: Uuid::from_u128(id as u128),
                    listeners: vec![],
                    rack: None,
                    fenced: fenced.contains(&id),
                },
            );
        }
        let mut p = PartitionInfo::new(vec![1, 2, 3]);
        p.leader = leader;
        p.isr = isr;
        p.partition_epoch = 7;
        img.topics.insert(
            "t".into(),
            TopicInfo {
                id: Uuid::from_u128(9),
                partitions: vec![p],
                configs: BTreeMap::new(),
            },
        );
        img
    }

    fn damage() -> Vec<PartitionDamage> {
        vec![PartitionDamage {
            tp: TopicPartition::new("t", 0),
            truncated_at: 5,
            previous_log_end: 9,
            segment: "x".into(),
            position: 0,
            reason: "test".into(),
        }]
    }

    fn change(recs: &[MetadataRecord]) -> Vec<(Option<i32>, Option<Vec<i32>>)> {
        recs.iter()
            .filter_map(|r| match r {
                MetadataRecord::ChangePartition { leader, isr, .. } => Some((*leader, isr.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_damaged_follower_leaves_the_isr() {
        let recs = damaged_leave_isr(&image(1, vec![1, 2, 3], &[]), 3, &damage(), vec![]);
        assert_eq!(change(&recs), vec![(None, Some(vec![1, 2]))]);
    }

    #[test]
    fn a_damaged_leader_hands_over_to_a_live_isr_member_or_to_none() {
        let recs = damaged_leave_isr(&image(1, vec![1, 2, 3], &[2]), 1, &damage(), vec![]);
        assert_eq!(change(&recs), vec![(Some(3), Some(vec![2, 3]))]);
        // Other ISR members exist but are down: the partition waits for them.
        let recs = damaged_leave_isr(&image(1, vec![1, 2], &[2]), 1, &damage(), vec![]);
        assert_eq!(change(&recs), vec![(Some(-1), Some(vec![2]))]);
    }

    #[test]
    fn the_only_isr_member_stays_and_fencing_records_are_replaced() {
        let recs = damaged_leave_isr(&image(1, vec![1], &[]), 1, &damage(), vec![]);
        assert!(change(&recs).is_empty());
        // Fencing an earlier incarnation keeps the last ISR member; damage replaces that record.
        let img = image(1, vec![1, 2], &[2]);
        let fenced = weir_meta::controller::fence(&img, 1);
        assert_eq!(change(&fenced), vec![(Some(-1), Some(vec![1]))]);
        let recs = damaged_leave_isr(&img, 1, &damage(), fenced);
        assert_eq!(change(&recs), vec![(Some(-1), Some(vec![2]))]);
        assert!(matches!(recs[0], MetadataRecord::FenceBroker { id: 1 }));
    }

    fn tracked(epochs: (i32, i32), truncated: bool) -> Tracked {
        Tracked {
            damage: damage().remove(0),
            detected: epochs,
            truncated,
        }
    }

    #[test]
    fn the_repair_leaves_the_isr_moves_the_epoch_truncates_and_guards() {
        // The image's partition epoch is 7, leader epoch 0 (see `image`).
        let fresh = tracked((7, 0), false);
        // In the ISR with others: leave it (a leader hands over).
        assert_eq!(
            repair_step(&image(1, vec![1, 2, 3], &[]), 1, &fresh, 9),
            RepairStep::LeaveIsr(damaged_leave_isr(
                &image(1, vec![1, 2, 3], &[]),
                1,
                &damage(),
                vec![]
            ))
        );
        // Out of the ISR at the epoch of the damage: move the epoch first, so that an expansion
        // computed from the fetches made before the damage cannot commit.
        match repair_step(&image(1, vec![1, 2], &[]), 3, &fresh, 9) {
            RepairStep::Fence(recs) => {
                assert_eq!(change(&recs), vec![(None, Some(vec![1, 2]))]);
            }
            other => panic!("expected Fence, got {other:?}"),
        }
        // Out of the ISR at a later epoch: truncate.
        assert_eq!(
            repair_step(&image(1, vec![1, 2], &[]), 3, &tracked((6, 0), false), 9),
            RepairStep::Truncate
        );
        // The only ISR member and leader: no other copy; cut there, as at open.
        assert_eq!(
            repair_step(&image(1, vec![1], &[]), 1, &fresh, 9),
            RepairStep::SoleCopy
        );
        // Truncated (log end 5, it held up to 9): back in the ISR through a stale expansion,
        // it leaves again; out of it, it waits; once it holds 9 again, or under a new leader,
        // it is done.
        let cut = tracked((7, 0), true);
        assert!(matches!(
            repair_step(&image(1, vec![1, 2, 3], &[]), 3, &cut, 5),
            RepairStep::LeaveIsr(_)
        ));
        assert_eq!(
            repair_step(&image(1, vec![1, 2], &[]), 3, &cut, 5),
            RepairStep::Guard
        );
        assert_eq!(
            repair_step(&image(1, vec![1, 2, 3], &[]), 3, &cut, 9),
            RepairStep::Done
        );
        assert_eq!(
            repair_step(&image(1, vec![1, 2, 3], &[]), 3, &tracked((7, -1), true), 5),
            RepairStep::Done
        );
        // The topic is gone.
        let mut gone = image(1, vec![1, 2, 3], &[]);
        gone.topics.clear();
        assert_eq!(repair_step(&gone, 1, &fresh, 9), RepairStep::Done);
    }
}
