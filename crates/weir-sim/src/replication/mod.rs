//! Model 2: ISR replication — high watermark, leader epochs, follower truncation — with the
//! metadata controller electing leaders.
//!
//! One partition, replicated on brokers `1..=n`. The controller (node 0) is `weir_meta`'s
//! [`Controller`] over a committed log (as in [`crate::meta`]); brokers heartbeat it,
//! re-register after a restart, learn images over the network and apply them as the broker's
//! `MetadataApplier` does. A leader keeps the broker's real `LeaderState` (the same source file,
//! `crates/weir-broker/src/replica/leader_state.rs`, compiled in here) and serves follower
//! fetches as `api/fetch.rs` does; followers apply answers as `replica/fetcher.rs` does (Kafka's
//! truncation rule), each fetch offset durable before it is sent. A producer (node 100) appends
//! acks=all records with `min.insync.replicas`. Crashes lose each replica's unsynced tail.
//!
//! Invariants: an acknowledged record (below the high watermark when acked) is in the log of
//! every later leader and is never replaced; two records at the same offset and leader epoch are
//! the same record (log matching); no replica truncates a committed record it holds; a leader's
//! high watermark never passes the log end of an ISR member nor covers records an ISR member
//! has differently; acknowledged values keep the producer's order.

mod broker;
mod check;
mod control;
/// The broker's `LeaderState`, compiled from its source file in `weir-broker` (so the
/// simulation runs the real code without the broker's tokio stack).
#[path = "../../../weir-broker/src/replica/leader_state.rs"]
pub mod leader_state;
pub mod log;

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use uuid::Uuid;
use weir_meta::controller::Controller;
use weir_meta::error::MetaError;
use weir_meta::image::MetadataImage;

use self::leader_state::LeaderState;
use self::log::{Entry, ReplicaLog};
use crate::meta::{MetaFixes, TOPIC};
use crate::report::{Summary, Violation};
use crate::world::{Faults, World};

const CONTROLLER: i32 = 0;
const PRODUCER: i32 = 100;
const HEARTBEAT_MS: u64 = 100;
const SESSION_MS: i64 = 600;
const REBALANCE_MS: i64 = 1_000;
const TICK_MS: u64 = 50;
const LAG_MS: i64 = 300;
const CHAOS_MS: u64 = 200;
const QUIET_MS: u64 = 3_000;
const PRODUCE_TIMEOUT_MS: u64 = 400;
/// A produced value is `sequence << ATTEMPT_BITS | attempt`.
const ATTEMPT_BITS: u32 = 24;

/// Fixes modelled in the glue, each what Weir's broker now does (the default, all on); one
/// switched off brings back the behaviour before the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplFixes {
    /// The metadata fixes (see [`MetaFixes`]).
    pub meta: MetaFixes,
    /// The leader records a follower's fetch offset only for a fetch it answers with records
    /// (not diverging, not out of range), as Kafka's `Partition.fetchRecords` does.
    pub fetch_order: bool,
    /// A (re)started broker leads a partition only once the image shows its current
    /// incarnation registered and unfenced (Weir applies the image it replayed at start-up, so
    /// a broker restarted after a crash leads again at the old leader epoch, with a log that may
    /// have lost its unsynced tail).
    pub lead_after_registration: bool,
}

impl Default for ReplFixes {
    /// What Weir does now: every fix on.
    fn default() -> Self {
        Self::all()
    }
}

impl ReplFixes {
    /// Every fix off: the behaviour before the fixes.
    pub fn none() -> Self {
        ReplFixes {
            meta: MetaFixes::none(),
            fetch_order: false,
            lead_after_registration: false,
        }
    }

    /// Every fix on.
    pub fn all() -> Self {
        ReplFixes {
            meta: MetaFixes::all(),
            fetch_order: true,
            lead_after_registration: true,
        }
    }
}

/// Deliberate bugs in the glue, to prove the checks can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplMutation {
    /// The leader computes its high watermark as if it were the only ISR member.
    HwIgnoresFollowers,
    /// Followers report their fetch offset before the fetched records are durable.
    ReportBeforeDurable,
}

/// Parameters of a replication run.
#[derive(Debug, Clone)]
pub struct ReplParams {
    /// Brokers (ids 1..=n), all replicas of the partition.
    pub brokers: i32,
    /// `min.insync.replicas`.
    pub min_isr: usize,
    /// `unclean.leader.election.enable` (loses acknowledged records by design).
    pub unclean: bool,
    /// Simulated time with faults (ms), followed by a quiet period.
    pub duration_ms: u64,
    /// Faults.
    pub faults: Faults,
    /// Record every event.
    pub trace: bool,
    /// Fixes modelled in the glue.
    pub fixes: ReplFixes,
    /// A deliberate bug.
    pub mutation: Option<ReplMutation>,
    /// Check every high-watermark move against the ISR members' logs, and log matching (off:
    /// only the acknowledged-record checks, to see whether a violation actually loses data).
    pub check_hw: bool,
    /// Check the metadata invariants of [`check_change`] (off: only the data checks, to see
    /// whether a metadata violation actually loses data).
    pub check_meta: bool,
}

impl Default for ReplParams {
    fn default() -> Self {
        ReplParams {
            brokers: 3,
            min_isr: 2,
            unclean: false,
            duration_ms: 4_000,
            faults: Faults::default(),
            trace: false,
            fixes: ReplFixes::default(),
            mutation: None,
            check_hw: true,
            check_meta: true,
        }
    }
}

/// An image as it travels (printed as its version).
#[derive(Clone)]
struct Img(usize, Rc<MetadataImage>);

impl fmt::Debug for Img {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "image v{}", self.0)
    }
}

/// A leader's answer to a follower fetch.
#[derive(Debug, Clone)]
enum Reply {
    Error(&'static str),
    OutOfRange {
        hw: i64,
    },
    Diverging {
        epoch: i32,
        end: i64,
        hw: i64,
    },
    Records {
        base: i64,
        entries: Vec<Entry>,
        hw: i64,
    },
}

#[derive(Debug, Clone)]
enum Ev {
    Heartbeat {
        b: i32,
        inc: u64,
    },
    ControllerTick,
    Alter {
        b: i32,
        inc: u64,
        id: u64,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    },
    HeartbeatTimer {
        b: i32,
        inc: u64,
    },
    ShrinkTimer {
        b: i32,
        inc: u64,
    },
    Image {
        b: i32,
        img: Img,
    },
    AlterReply {
        b: i32,
        inc: u64,
        id: u64,
        err: Option<MetaError>,
    },
    Fetch {
        leader: i32,
        from: i32,
        inc: u64,
        id: u64,
        epoch: i32,
        offset: i64,
        last_epoch: i32,
    },
    FetchReply {
        b: i32,
        inc: u64,
        id: u64,
        reply: Reply,
    },
    FetchTimer {
        b: i32,
        inc: u64,
        id: u64,
    },
    Refetch {
        b: i32,
        inc: u64,
    },
    FollowerSynced {
        b: i32,
        inc: u64,
        id: u64,
        end: i64,
        gen: u64,
        hw: i64,
    },
    LeaderSynced {
        b: i32,
        inc: u64,
        end: i64,
        gen: u64,
    },
    Produce {
        b: i32,
        req: u64,
        value: u64,
    },
    ProduceReply {
        req: u64,
        ok: bool,
    },
    ProducerTimer {
        req: u64,
    },
    Chaos,
    Restart(i32),
    Heal,
}

/// An acks=all append waiting for the high watermark.
#[derive(Debug, Clone)]
struct PendingAck {
    req: u64,
    offset: i64,
    epoch: i32,
    value: u64,
    deadline: u64,
}

/// One broker.
struct Broker {
    alive: bool,
    inc: u64,
    log: ReplicaLog,
    view: Img,
    leader: Option<LeaderState>,
    /// (leader, leader epoch) this broker follows.
    follow: Option<(i32, i32)>,
    /// The fetch in flight (id, target) — also while its records await their fsync.
    fetching: Option<(u64, (i32, i32))>,
    /// AlterPartition requests in flight (id -> whether it expands the ISR).
    altering: BTreeMap<u64, bool>,
    acks: Vec<PendingAck>,
}

struct Repl {
    p: ReplParams,
    w: World<Ev>,
    image: MetadataImage,
    version: usize,
    controller: Controller,
    brokers: BTreeMap<i32, Broker>,
    seq: u64,
    /// Offset -> the acknowledged record there.
    committed: BTreeMap<i64, Entry>,
    /// (offset, epoch) -> value of every record any leader wrote.
    written: BTreeMap<(i64, i32), u64>,
    /// Producer: the request in flight and the value it carries.
    producing: (u64, u64),
    quiet: bool,
}

fn incarnation(b: i32, inc: u64) -> Uuid {
    Uuid::from_u64_pair(b as u64, inc)
}

/// Run one seed.
pub fn run(seed: u64, params: &ReplParams) -> Result<Summary, Violation> {
    let mut r = Repl {
        w: World::new(seed, params.faults.clone(), params.trace),
        image: MetadataImage::default(),
        version: 0,
        controller: Controller::new(SESSION_MS, params.unclean).with_auto_rebalance(REBALANCE_MS),
        brokers: BTreeMap::new(),
        seq: 0,
        committed: BTreeMap::new(),
        written: BTreeMap::new(),
        producing: (0, 0),
        quiet: false,
        p: params.clone(),
    };
    match r.run() {
        Ok(()) => Ok(Summary {
            model: "replication",
            seed,
            stats: r.w.stats,
        }),
        Err(what) => Err(Violation {
            model: "replication",
            seed,
            at_ms: r.w.now,
            what,
            trace: r.w.take_trace(),
            stats: Box::new(r.w.stats),
        }),
    }
}

impl Repl {
    fn run(&mut self) -> Result<(), String> {
        let empty = Img(0, Rc::new(MetadataImage::default()));
        for b in 1..=self.p.brokers {
            self.brokers.insert(
                b,
                Broker {
                    alive: true,
                    inc: 0,
                    log: ReplicaLog::default(),
                    view: empty.clone(),
                    leader: None,
                    follow: None,
                    fetching: None,
                    altering: BTreeMap::new(),
                    acks: Vec::new(),
                },
            );
            self.register(b, 0)?;
            let recs = self.controller.heartbeat(&self.image, b, 0);
            self.commit(recs)?;
            self.start_timers(b, 0);
        }
        let create = Controller::create_topic(
            &self.image,
            TOPIC,
            Uuid::from_u64_pair(0, 1),
            1,
            self.p.brokers as i16,
            BTreeMap::new(),
        )
        .map_err(|e| format!("create_topic: {e}"))?;
        self.commit(vec![create])?;
        self.w.at(TICK_MS, Ev::ControllerTick);
        self.w.at(CHAOS_MS, Ev::Chaos);
        self.w.at(5, Ev::ProducerTimer { req: 0 });
        let end = self.p.duration_ms;
        while let Some(ev) = self.w.next(end) {
            self.handle(ev)?;
        }
        self.quiet = true;
        self.w.heal();
        self.w.faults = Faults::none();
        let dead: Vec<i32> = self
            .brokers
            .iter()
            .filter(|(_, b)| !b.alive)
            .map(|(&id, _)| id)
            .collect();
        for b in dead {
            self.w.at(1, Ev::Restart(b));
        }
        while let Some(ev) = self.w.next(end + QUIET_MS) {
            self.handle(ev)?;
        }
        self.final_checks()
    }

    fn start_timers(&mut self, b: i32, inc: u64) {
        let d = self.w.rng.below(HEARTBEAT_MS);
        self.w.at(d, Ev::HeartbeatTimer { b, inc });
        let d = self.w.rng.below(LAG_MS as u64 / 2);
        self.w.at(d, Ev::ShrinkTimer { b, inc });
    }

    fn next_id(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn live(&self, b: i32, inc: u64) -> bool {
        self.brokers
            .get(&b)
            .is_some_and(|x| x.alive && x.inc == inc)
    }

    fn handle(&mut self, ev: Ev) -> Result<(), String> {
        match ev {
            Ev::Heartbeat { b, inc } => self.on_heartbeat(b, inc)?,
            Ev::ControllerTick => {
                let recs = self.controller.tick(&self.image, self.w.now as i64);
                self.commit(recs)?;
                self.w.at(TICK_MS, Ev::ControllerTick);
            }
            Ev::Alter {
                b,
                inc,
                id,
                leader_epoch,
                partition_epoch,
                isr,
            } => self.on_alter(b, inc, id, leader_epoch, partition_epoch, isr)?,
            Ev::HeartbeatTimer { b, inc } => {
                if self.live(b, inc) {
                    self.w.send(b, CONTROLLER, Ev::Heartbeat { b, inc });
                    self.w.at(HEARTBEAT_MS, Ev::HeartbeatTimer { b, inc });
                }
            }
            Ev::ShrinkTimer { b, inc } => {
                if self.live(b, inc) {
                    self.shrink_check(b)?;
                    self.w.at(LAG_MS as u64 / 2, Ev::ShrinkTimer { b, inc });
                }
            }
            Ev::Image { b, img } => self.on_image(b, img)?,
            Ev::AlterReply { b, inc, id, err } => self.on_alter_reply(b, inc, id, err),
            Ev::Fetch {
                leader,
                from,
                inc,
                id,
                epoch,
                offset,
                last_epoch,
            } => self.on_fetch(leader, from, inc, id, epoch, offset, last_epoch)?,
            Ev::FetchReply { b, inc, id, reply } => self.on_fetch_reply(b, inc, id, reply)?,
            Ev::FetchTimer { b, inc, id } => {
                let waiting = self.brokers.get(&b).and_then(|x| x.fetching);
                if self.live(b, inc) && waiting.is_some_and(|(i, _)| i == id) {
                    if let Some(x) = self.brokers.get_mut(&b) {
                        x.fetching = None;
                    }
                    self.start_fetch(b);
                }
            }
            Ev::Refetch { b, inc } => {
                if self.live(b, inc) {
                    self.start_fetch(b);
                }
            }
            Ev::FollowerSynced {
                b,
                inc,
                id,
                end,
                gen,
                hw,
            } => self.on_follower_synced(b, inc, id, end, gen, hw)?,
            Ev::LeaderSynced { b, inc, end, gen } => self.on_leader_synced(b, inc, end, gen)?,
            Ev::Produce { b, req, value } => self.on_produce(b, req, value)?,
            Ev::ProduceReply { req, ok } => {
                if req == self.producing.0 {
                    if ok {
                        self.producing.1 += 1;
                    }
                    let d = self.w.rng.range(2, 20);
                    let next = self.next_id();
                    self.producing.0 = next;
                    self.w.at(d, Ev::ProducerTimer { req: next });
                }
            }
            Ev::ProducerTimer { req } => {
                if req == self.producing.0 || req == 0 {
                    self.produce();
                }
            }
            Ev::Chaos => {
                if !self.quiet {
                    self.chaos();
                    self.w.at(CHAOS_MS, Ev::Chaos);
                }
            }
            Ev::Restart(b) => self.restart(b)?,
            Ev::Heal => self.w.heal(),
        }
        Ok(())
    }

    /// The producer sends its current value to the leader named by the latest metadata (a
    /// client's metadata lookup) and retries after a timeout.
    fn produce(&mut self) {
        let req = self.next_id();
        self.producing.0 = req;
        let leader = self.image.partition(TOPIC, 0).map_or(-1, |p| p.leader);
        if leader >= 0 {
            // Every attempt is a distinct record: the sequence number, then the attempt.
            let value = self.producing.1 << ATTEMPT_BITS | (req & ((1 << ATTEMPT_BITS) - 1));
            self.w.send(
                PRODUCER,
                leader,
                Ev::Produce {
                    b: leader,
                    req,
                    value,
                },
            );
        }
        self.w.at(PRODUCE_TIMEOUT_MS, Ev::ProducerTimer { req });
    }
}
