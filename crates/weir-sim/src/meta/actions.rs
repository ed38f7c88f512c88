//! What brokers and the controller do in the metadata model: a leader's ISR check and its
//! AlterPartition, the controller's tick, and the faults.

use weir_meta::controller::Controller;
use weir_meta::reassignment;
use weir_meta::records::MetadataRecord;

use super::{
    Ev, Meta, MetaMutation, ALTER_TIMEOUT_MS, CONTROLLER, REBALANCE_MS, SESSION_MS, TOPIC,
};

impl Meta {
    /// A partition leader's periodic ISR check, from its own (possibly stale) image: followers
    /// that cannot fetch (dead, cut off, or following someone else) leave; caught-up replicas
    /// outside the ISR join.
    pub(super) fn isr_check(&mut self, b: i32) {
        let now = self.w.now;
        let view = self.brokers[&b].view.1.clone();
        let Some(t) = view.topics.get(TOPIC) else {
            return;
        };
        for (i, p) in t.partitions.iter().enumerate() {
            let i = i as i32;
            if p.leader != b {
                continue;
            }
            let br = &self.brokers[&b];
            if br
                .altering
                .get(&i)
                .is_some_and(|&at| now - at < ALTER_TIMEOUT_MS)
            {
                continue;
            }
            let fetching = |f: i32| {
                let Some(x) = self.brokers.get(&f) else {
                    return false;
                };
                let fp = x.view.1.partition(TOPIC, i).cloned();
                x.alive
                    && self.w.connected(b, f)
                    && fp.is_some_and(|fp| fp.leader == b && fp.leader_epoch == p.leader_epoch)
            };
            let lagging: Vec<i32> = p
                .isr
                .iter()
                .copied()
                .filter(|&r| r != b && !fetching(r))
                .collect();
            let mut isr: Vec<i32> = p.isr.clone();
            if !lagging.is_empty() {
                isr.retain(|r| !lagging.contains(r));
            } else {
                let joiners: Vec<i32> = p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|&r| r != b && !p.isr.contains(&r) && fetching(r))
                    .collect();
                if joiners.is_empty() {
                    continue;
                }
                isr.extend(joiners);
                isr.sort_unstable();
            }
            if let Some(x) = self.brokers.get_mut(&b) {
                x.altering.insert(i, now);
            }
            self.w.send(
                b,
                CONTROLLER,
                Ev::Alter {
                    b,
                    p: i,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                    isr,
                },
            );
        }
    }

    /// AlterPartition at the controller: `Controller::alter_partition` decides.
    pub(super) fn alter(
        &mut self,
        b: i32,
        p: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    ) -> Result<(), String> {
        let fenced_joiner = self.image.partition(TOPIC, p).is_some_and(|cur| {
            isr.iter()
                .any(|r| !cur.isr.contains(r) && self.image.brokers.get(r).is_none_or(|x| x.fenced))
        });
        if !(self.p.fixes.reject_fenced_isr && fenced_joiner) {
            let r = Controller::alter_partition(
                &self.image,
                TOPIC,
                p,
                b,
                leader_epoch,
                partition_epoch,
                isr.clone(),
            );
            if let Ok(rec) = r {
                self.commit_vouched(vec![rec], &isr)?;
            }
        }
        let inc = self.brokers[&b].inc;
        self.w.send(CONTROLLER, b, Ev::AlterReply { b, inc, p });
        Ok(())
    }

    /// The controller's tick (fencing, preferred leaders) and reassignment completion, as
    /// `MetaNode::controller_tick` does.
    pub(super) fn tick(&mut self) -> Result<(), String> {
        let recs = self.controller.tick(&self.image, self.w.now as i64);
        self.commit(recs)?;
        for rec in reassignment::complete_reassignments(&self.image) {
            self.commit(vec![rec])?;
        }
        if self.p.mutation == Some(MetaMutation::ElectOutsideIsr) {
            let mut recs = Vec::new();
            for (i, p) in self.image.topics[TOPIC].partitions.iter().enumerate() {
                let live = p
                    .replicas
                    .iter()
                    .copied()
                    .find(|r| self.image.brokers.get(r).is_some_and(|x| !x.fenced));
                if let (-1, Some(r)) = (p.leader, live) {
                    recs.push(MetadataRecord::ChangePartition {
                        topic: TOPIC.into(),
                        partition: i as i32,
                        leader: Some(r),
                        isr: Some(vec![r]),
                        partition_epoch: Some(p.partition_epoch),
                    });
                }
            }
            self.commit(recs)?;
        }
        Ok(())
    }

    pub(super) fn chaos(&mut self) -> Result<(), String> {
        let roll = self.w.rng.below(100);
        let ids: Vec<i32> = self.brokers.keys().copied().collect();
        if self.w.faults.crashes && roll < 25 {
            let alive: Vec<i32> = ids
                .iter()
                .copied()
                .filter(|b| self.brokers[b].alive)
                .collect();
            if let Some(b) = self.w.rng.pick(&alive) {
                self.w.stats.crashes += 1;
                self.w.note(|| format!("crash broker {b}"));
                if let Some(x) = self.brokers.get_mut(&b) {
                    x.alive = false;
                }
                let d = self.w.rng.range(50, 1_500);
                self.w.at(d, Ev::Restart(b));
            }
        } else if self.w.faults.partitions && roll < 40 {
            let mut nodes = ids.clone();
            nodes.push(CONTROLLER);
            self.w.partition(&nodes);
            let d = self.w.rng.range(100, 1_500);
            self.w.at(d, Ev::Heal);
        } else if self.p.reassignments && roll < 55 {
            let pi = self.w.rng.below(self.p.partitions as u64) as i32;
            let target = if self.w.rng.chance(0.3) {
                None
            } else {
                let mut pool = ids.clone();
                let mut t = Vec::new();
                while t.len() < self.p.rf as usize && !pool.is_empty() {
                    let k = self.w.rng.below(pool.len() as u64) as usize;
                    t.push(pool.swap_remove(k));
                }
                Some(t)
            };
            let r = reassignment::reassign(&self.image, TOPIC, pi, target.as_deref(), false);
            if let Ok(Some(rec)) = r {
                self.commit(vec![rec])?;
            }
        } else if roll < 60 {
            // A new Raft leader becomes the active controller with fresh liveness state.
            self.w.note(|| "controller failover".into());
            self.controller =
                Controller::new(SESSION_MS, self.p.unclean).with_auto_rebalance(REBALANCE_MS);
        }
        Ok(())
    }
}
