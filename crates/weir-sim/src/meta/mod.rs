//! Model 1: the metadata controller and state machine (`weir_meta`).
//!
//! The controller node (0) holds the committed metadata log as one [`MetadataImage`] (Raft's
//! guarantee: one totally ordered log; openraft itself is not simulated) and a
//! [`Controller`], which is replaced now and then (a new Raft leader). Brokers `1..=n`
//! heartbeat it, re-register with a new incarnation after a restart (as `Lifecycle::register`
//! does: RegisterBroker, then a heartbeat), learn images over the network, and, as partition
//! leaders, send AlterPartition requests built from their possibly stale image. Reassignments
//! start and are cancelled at random. Every committed record is checked against the previous
//! image ([`check_change`]); at the end the network heals, every broker restarts, and every
//! partition must have an unfenced leader.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use uuid::Uuid;
use weir_meta::controller::{self, Controller};
use weir_meta::image::MetadataImage;
use weir_meta::records::MetadataRecord;

mod actions;
mod check;

pub use check::check_change;

use crate::report::{Summary, Violation};
use crate::world::{Faults, World};

/// The simulated topic.
pub const TOPIC: &str = "t";
const CONTROLLER: i32 = 0;
const HEARTBEAT_MS: u64 = 100;
const SESSION_MS: i64 = 600;
const REBALANCE_MS: i64 = 1_000;
const TICK_MS: u64 = 50;
const ISR_CHECK_MS: u64 = 150;
const ALTER_TIMEOUT_MS: u64 = 300;
const CHAOS_MS: u64 = 200;
const QUIET_MS: u64 = 3_000;

/// Fixes in the glue around the cores, each modelling what Weir's broker now does (the default,
/// all on); switching one off brings back the behaviour before the fix, so tests can show the
/// checkers find the bug it caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaFixes {
    /// A broker registering a new incarnation while the old one is still unfenced or in an ISR
    /// is fenced first (Kafka refuses the registration until the old session expired, which then
    /// fences it: its leaderships move and the epochs are bumped).
    pub fence_on_reregister: bool,
    /// AlterPartition may not add a fenced broker to the ISR (Kafka's KIP-841 check,
    /// INELIGIBLE_REPLICA). `Controller::alter_partition` itself now refuses it, so switching
    /// this off changes nothing any more.
    pub reject_fenced_isr: bool,
}

impl Default for MetaFixes {
    /// What Weir does now: every fix on.
    fn default() -> Self {
        Self::all()
    }
}

impl MetaFixes {
    /// Every fix off: the behaviour before the fixes.
    pub fn none() -> Self {
        MetaFixes {
            fence_on_reregister: false,
            reject_fenced_isr: false,
        }
    }

    /// Every fix on.
    pub fn all() -> Self {
        MetaFixes {
            fence_on_reregister: true,
            reject_fenced_isr: true,
        }
    }
}

/// Deliberate bugs in the simulation's glue, to prove the checks can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaMutation {
    /// On every tick, give leaderless partitions the first unfenced replica as leader, whether
    /// it is in the ISR or not (an unclean election with unclean election off).
    ElectOutsideIsr,
}

/// Parameters of a metadata run.
#[derive(Debug, Clone)]
pub struct MetaParams {
    /// Brokers (ids 1..=n).
    pub brokers: i32,
    /// Partitions of the one topic.
    pub partitions: i32,
    /// Replication factor.
    pub rf: i16,
    /// Simulated time with faults (ms), followed by a quiet period.
    pub duration_ms: u64,
    /// `unclean.leader.election.enable`.
    pub unclean: bool,
    /// Start and cancel reassignments.
    pub reassignments: bool,
    /// Faults.
    pub faults: Faults,
    /// Record every event.
    pub trace: bool,
    /// Fixes modelled in the glue.
    pub fixes: MetaFixes,
    /// A deliberate bug.
    pub mutation: Option<MetaMutation>,
}

impl Default for MetaParams {
    fn default() -> Self {
        MetaParams {
            brokers: 4,
            partitions: 4,
            rf: 3,
            duration_ms: 4_000,
            unclean: false,
            reassignments: true,
            faults: Faults::default(),
            trace: false,
            fixes: MetaFixes::default(),
            mutation: None,
        }
    }
}

/// An image as it travels (printed as its version only).
#[derive(Clone)]
struct Img(usize, Rc<MetadataImage>);

impl fmt::Debug for Img {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "image v{}", self.0)
    }
}

#[derive(Debug, Clone)]
enum Ev {
    HeartbeatTimer {
        b: i32,
        inc: u64,
    },
    Heartbeat {
        b: i32,
        inc: u64,
    },
    Image {
        b: i32,
        img: Img,
    },
    IsrTimer {
        b: i32,
        inc: u64,
    },
    Alter {
        b: i32,
        p: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    },
    AlterReply {
        b: i32,
        inc: u64,
        p: i32,
    },
    ControllerTick,
    Chaos,
    Restart(i32),
    Heal,
}

struct Broker {
    alive: bool,
    inc: u64,
    view: Img,
    /// Partition -> when its AlterPartition was sent.
    altering: BTreeMap<i32, u64>,
}

struct Meta {
    p: MetaParams,
    w: World<Ev>,
    image: MetadataImage,
    version: usize,
    controller: Controller,
    brokers: BTreeMap<i32, Broker>,
    quiet: bool,
}

fn incarnation(b: i32, inc: u64) -> Uuid {
    Uuid::from_u64_pair(b as u64, inc)
}

/// Run one seed.
pub fn run(seed: u64, params: &MetaParams) -> Result<Summary, Violation> {
    let mut m = Meta {
        w: World::new(seed, params.faults.clone(), params.trace),
        image: MetadataImage::default(),
        version: 0,
        controller: Controller::new(SESSION_MS, params.unclean).with_auto_rebalance(REBALANCE_MS),
        brokers: BTreeMap::new(),
        quiet: false,
        p: params.clone(),
    };
    match m.run() {
        Ok(()) => Ok(Summary {
            model: "meta",
            seed,
            stats: m.w.stats,
        }),
        Err(what) => Err(Violation {
            model: "meta",
            seed,
            at_ms: m.w.now,
            what,
            trace: m.w.take_trace(),
            stats: Box::new(m.w.stats),
        }),
    }
}

impl Meta {
    fn run(&mut self) -> Result<(), String> {
        let empty = Img(0, Rc::new(MetadataImage::default()));
        for b in 1..=self.p.brokers {
            self.brokers.insert(
                b,
                Broker {
                    alive: true,
                    inc: 0,
                    view: empty.clone(),
                    altering: BTreeMap::new(),
                },
            );
            self.register(b, 0)?;
            let recs = self.controller.heartbeat(&self.image, b, 0);
            self.commit(recs)?;
            let d = self.w.rng.below(HEARTBEAT_MS);
            self.w.at(d, Ev::HeartbeatTimer { b, inc: 0 });
            let d = self.w.rng.below(ISR_CHECK_MS);
            self.w.at(d, Ev::IsrTimer { b, inc: 0 });
        }
        let create = Controller::create_topic(
            &self.image,
            TOPIC,
            Uuid::from_u64_pair(0, 1),
            self.p.partitions,
            self.p.rf,
            BTreeMap::new(),
        )
        .map_err(|e| format!("create_topic: {e}"))?;
        self.commit(vec![create])?;
        self.w.at(TICK_MS, Ev::ControllerTick);
        self.w.at(CHAOS_MS, Ev::Chaos);
        let end = self.p.duration_ms;
        while let Some(ev) = self.w.next(end) {
            self.handle(ev)?;
        }
        // Quiet period: heal, restart everyone, no more faults; then everything must recover.
        self.quiet = true;
        self.w.heal();
        self.w.faults = Faults::none();
        let dead: Vec<i32> = self.dead();
        for b in dead {
            self.w.at(1, Ev::Restart(b));
        }
        while let Some(ev) = self.w.next(end + QUIET_MS) {
            self.handle(ev)?;
        }
        self.check_recovered()
    }

    fn dead(&self) -> Vec<i32> {
        self.brokers
            .iter()
            .filter(|(_, b)| !b.alive)
            .map(|(&id, _)| id)
            .collect()
    }

    fn handle(&mut self, ev: Ev) -> Result<(), String> {
        let now = self.w.now;
        match ev {
            Ev::HeartbeatTimer { b, inc } => {
                if self.live(b, inc) {
                    self.w.send(b, CONTROLLER, Ev::Heartbeat { b, inc });
                    self.w.at(HEARTBEAT_MS, Ev::HeartbeatTimer { b, inc });
                }
            }
            Ev::Heartbeat { b, inc } => {
                let known = self.image.brokers.get(&b).map(|x| x.incarnation);
                if known != Some(incarnation(b, inc)) {
                    // A stale heartbeat of an older incarnation must not re-register it.
                    let newer = self.brokers.get(&b).is_some_and(|x| x.inc > inc);
                    if newer && known.is_some() {
                        return Ok(());
                    }
                    self.register(b, inc)?;
                }
                let recs = self.controller.heartbeat(&self.image, b, now as i64);
                self.commit(recs)?;
                let img = Img(self.version, Rc::new(self.image.clone()));
                self.w.send(CONTROLLER, b, Ev::Image { b, img });
            }
            Ev::Image { b, img } => {
                if let Some(br) = self.brokers.get_mut(&b) {
                    if br.alive && img.0 > br.view.0 {
                        br.view = img;
                    }
                }
            }
            Ev::IsrTimer { b, inc } => {
                if self.live(b, inc) {
                    self.isr_check(b);
                    self.w.at(ISR_CHECK_MS, Ev::IsrTimer { b, inc });
                }
            }
            Ev::Alter {
                b,
                p,
                leader_epoch,
                partition_epoch,
                isr,
            } => self.alter(b, p, leader_epoch, partition_epoch, isr)?,
            Ev::AlterReply { b, inc, p } => {
                if let Some(br) = self.brokers.get_mut(&b) {
                    if br.inc == inc {
                        br.altering.remove(&p);
                    }
                }
            }
            Ev::ControllerTick => {
                self.tick()?;
                self.w.at(TICK_MS, Ev::ControllerTick);
            }
            Ev::Chaos => {
                if !self.quiet {
                    self.chaos()?;
                    self.w.at(CHAOS_MS, Ev::Chaos);
                }
            }
            Ev::Restart(b) => {
                if let Some(br) = self.brokers.get_mut(&b) {
                    if !br.alive {
                        br.alive = true;
                        br.inc += 1;
                        br.altering.clear();
                        let inc = br.inc;
                        self.w.at(0, Ev::HeartbeatTimer { b, inc });
                        self.w.at(ISR_CHECK_MS, Ev::IsrTimer { b, inc });
                    }
                }
            }
            Ev::Heal => self.w.heal(),
        }
        Ok(())
    }

    fn live(&self, b: i32, inc: u64) -> bool {
        self.brokers
            .get(&b)
            .is_some_and(|x| x.alive && x.inc == inc)
    }

    /// `Lifecycle::register`: RegisterBroker with this incarnation (fenced until the heartbeat).
    fn register(&mut self, b: i32, inc: u64) -> Result<(), String> {
        let mut recs = Vec::new();
        let old = self.image.brokers.get(&b);
        let stale = old.is_some_and(|o| !o.fenced) || self.leads_or_in_isr(b);
        if self.p.fixes.fence_on_reregister && old.is_some() && stale {
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

    fn leads_or_in_isr(&self, b: i32) -> bool {
        self.image
            .topics
            .values()
            .flat_map(|t| &t.partitions)
            .any(|p| p.leader == b || p.isr.contains(&b))
    }

    /// Apply records to the committed log, checking every change, then publish the image.
    pub(super) fn commit(&mut self, recs: Vec<MetadataRecord>) -> Result<(), String> {
        self.commit_vouched(recs, &[])
    }

    /// [`Meta::commit`] for an AlterPartition whose leader vouched for `vouched` being in sync.
    pub(super) fn commit_vouched(
        &mut self,
        recs: Vec<MetadataRecord>,
        vouched: &[i32],
    ) -> Result<(), String> {
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
            self.w.stats.acked += 1;
            let v = self.version;
            self.w.note(|| format!("commit v{v}: {rec:?}"));
        }
        let elections = check_change(&prev, &self.image, self.p.unclean, vouched)
            .map_err(|e| format!("after {recs:?}: {e}"))?;
        self.w.stats.elections += elections;
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

    fn check_recovered(&self) -> Result<(), String> {
        for b in self.image.brokers.values() {
            if b.fenced {
                return Err(format!(
                    "liveness: broker {} still fenced after the quiet period",
                    b.id
                ));
            }
        }
        for (i, p) in self.image.topics[TOPIC].partitions.iter().enumerate() {
            if p.leader == -1 {
                return Err(format!(
                    "liveness: {TOPIC}-{i} has no leader after the quiet period: {p:?}"
                ));
            }
        }
        Ok(())
    }
}
