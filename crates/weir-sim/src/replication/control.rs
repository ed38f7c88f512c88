//! The controller side of the replication model (heartbeats, registration, AlterPartition,
//! the committed metadata log) and the faults.

use std::rc::Rc;

use weir_meta::controller::{self, Controller};
use weir_meta::error::MetaError;
use weir_meta::records::MetadataRecord;

use super::{incarnation, Ev, Img, Repl, CONTROLLER, PRODUCER, REBALANCE_MS, SESSION_MS, TOPIC};
use crate::meta::check_change;

impl Repl {
    pub(super) fn on_heartbeat(&mut self, b: i32, inc: u64) -> Result<(), String> {
        let known = self.image.brokers.get(&b).map(|x| x.incarnation);
        if known != Some(incarnation(b, inc)) {
            if self.brokers.get(&b).is_some_and(|x| x.inc > inc) && known.is_some() {
                return Ok(());
            }
            self.register(b, inc)?;
        }
        let recs = self.controller.heartbeat(&self.image, b, self.w.now as i64);
        self.commit(recs)?;
        let img = Img(self.version, Rc::new(self.image.clone()));
        self.w.send(CONTROLLER, b, Ev::Image { b, img });
        Ok(())
    }

    pub(super) fn register(&mut self, b: i32, inc: u64) -> Result<(), String> {
        let mut recs = Vec::new();
        let old = self.image.brokers.get(&b);
        let stale = old.is_some_and(|o| !o.fenced)
            || self
                .image
                .partition(TOPIC, 0)
                .is_some_and(|p| p.leader == b || p.isr.contains(&b));
        if self.p.fixes.meta.fence_on_reregister && old.is_some() && stale {
            recs.extend(controller::fence(&self.image, b));
        }
        recs.push(MetadataRecord::RegisterBroker {
            id: b,
            incarnation: incarnation(b, inc),
            listeners: Vec::new(),
            rack: None,
        });
        self.commit(recs)
    }

    pub(super) fn on_alter(
        &mut self,
        b: i32,
        inc: u64,
        id: u64,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    ) -> Result<(), String> {
        let fenced_joiner = self.image.partition(TOPIC, 0).is_some_and(|cur| {
            isr.iter()
                .any(|r| !cur.isr.contains(r) && self.image.brokers.get(r).is_none_or(|x| x.fenced))
        });
        let err = if self.p.fixes.meta.reject_fenced_isr && fenced_joiner {
            Some(MetaError::InvalidRequest("ineligible replica".into()))
        } else {
            match Controller::alter_partition(
                &self.image,
                TOPIC,
                0,
                b,
                leader_epoch,
                partition_epoch,
                isr,
            ) {
                Ok(rec) => {
                    self.commit(vec![rec])?;
                    None
                }
                Err(e) => Some(e),
            }
        };
        self.w
            .send(CONTROLLER, b, Ev::AlterReply { b, inc, id, err });
        Ok(())
    }

    pub(super) fn chaos(&mut self) {
        let roll = self.w.rng.below(100);
        let ids: Vec<i32> = self.brokers.keys().copied().collect();
        if self.w.faults.crashes && roll < 20 {
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
                    x.log.crash();
                    x.leader = None;
                    x.follow = None;
                    x.fetching = None;
                    x.altering.clear();
                    x.acks.clear();
                }
                let d = self.w.rng.range(50, 1_500);
                self.w.at(d, Ev::Restart(b));
            }
        } else if self.w.faults.partitions && roll < 32 {
            let mut nodes = ids;
            nodes.push(CONTROLLER);
            nodes.push(PRODUCER);
            self.w.partition(&nodes);
            let d = self.w.rng.range(100, 1_500);
            self.w.at(d, Ev::Heal);
        } else if roll < 35 {
            self.w.note(|| "controller failover".into());
            self.controller =
                Controller::new(SESSION_MS, self.p.unclean).with_auto_rebalance(REBALANCE_MS);
        }
    }

    pub(super) fn restart(&mut self, b: i32) -> Result<(), String> {
        let Some(x) = self.brokers.get_mut(&b) else {
            return Ok(());
        };
        if x.alive {
            return Ok(());
        }
        x.alive = true;
        x.inc += 1;
        let inc = x.inc;
        // The broker replays its copy of the metadata log: it starts from the image it had.
        let img = x.view.clone();
        x.view = Img(0, img.1.clone());
        self.start_timers(b, inc);
        self.on_image(b, img)
    }

    /// Apply records to the committed log, checking every change, then publish the image.
    pub(super) fn commit(&mut self, recs: Vec<MetadataRecord>) -> Result<(), String> {
        if recs.is_empty() {
            return Ok(());
        }
        // One proposal is one Raft entry: the invariants hold after each whole batch.
        let prev = self.image.clone();
        for rec in &recs {
            if let Err(e) = self.image.apply(rec) {
                return Err(format!(
                    "the controller computed a record from the current image that the state \
                     machine rejects ({e}): {rec:?}"
                ));
            }
            self.version += 1;
            self.w.note(|| format!("commit: {rec:?}"));
        }
        match check_change(&prev, &self.image, self.p.unclean, &[]) {
            Ok(n) => self.w.stats.elections += n,
            Err(e) if self.p.check_meta => return Err(format!("metadata after {recs:?}: {e}")),
            Err(_) => {}
        }
        let img = Img(self.version, Rc::new(self.image.clone()));
        for b in 1..=self.p.brokers {
            self.w.send(
                CONTROLLER,
                b,
                Ev::Image {
                    b,
                    img: img.clone(),
                },
            );
        }
        Ok(())
    }
}
