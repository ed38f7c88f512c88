//! Model 3: the group coordinator (`weir_group_coordinator::GroupCoordinator` on the
//! `weir_coordinator` runtime) under coordinator failover.
//!
//! Three coordinator instances share one `MemoryLog` (`__consumer_offsets` with a few
//! partitions). The simulation's "controller" owns each partition's leadership: a failover
//! moves it to a live instance at a bumped epoch (`MemoryLog::set_epoch`, so the old leader's
//! appends fail as on a real broker) and tells every instance its led partitions over the lossy
//! network (`sync_ownership`, which loads by replay). Clients issue simple offset commits with
//! ever larger offsets to the instance they believe coordinates the group; instances crash
//! (losing in-flight commits) and restart empty; answers get lost.
//!
//! Appends go through a gate: each one stays pending until the scheduler releases it after a
//! random latency, so writes are in flight across failovers. The coordinator's futures are polled
//! by hand with a no-op waker (no runtime, no threads): every release or arrival re-polls the
//! instance's in-flight commits until none progresses.
//!
//! Invariants: no two instances have appends accepted for one partition at the same epoch; the
//! owner's OffsetFetch returns, for every group partition, the offset of the last commit that
//! reached the log (so an acknowledged commit is never lost after failover, and the fetched
//! offset never moves to an earlier write).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use weir_coordinator::partition_for;
use weir_coordinator::testing::MemoryLog;
use weir_group_coordinator::{Committer, GroupConfig, GroupCoordinator, ManualClock};

mod gate;

use self::gate::{lock, Gate, GatedWriter, Topics, TOPIC, TOPIC_PARTITIONS};

use crate::report::{Summary, Violation};
use crate::world::{Faults, World};

const CLIENT_NODE: i32 = 100;
const COMMIT_TIMEOUT_MS: u64 = 200;
const RESYNC_MS: u64 = 200;
const VERIFY_MS: u64 = 50;
const CHAOS_MS: u64 = 150;

/// Deliberate bugs in the glue, to prove the checks can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMutation {
    /// Appends are accepted whatever leader epoch they carry (the storage does not fence a
    /// deposed coordinator).
    NoEpochFencing,
    /// A failover moves a partition without bumping its epoch.
    SameEpochFailover,
}

/// Parameters of a group-coordinator run.
#[derive(Debug, Clone)]
pub struct GroupParams {
    /// Coordinator instances.
    pub instances: usize,
    /// Partitions of `__consumer_offsets`.
    pub offsets_partitions: i32,
    /// Groups (one committing client each).
    pub groups: usize,
    /// Simulated time (ms).
    pub duration_ms: u64,
    /// Faults (partitions are not used: there is no network between instances).
    pub faults: Faults,
    /// Record every event.
    pub trace: bool,
    /// A deliberate bug.
    pub mutation: Option<GroupMutation>,
}

impl Default for GroupParams {
    fn default() -> Self {
        GroupParams {
            instances: 3,
            offsets_partitions: 3,
            groups: 4,
            duration_ms: 3_000,
            faults: Faults::default(),
            trace: false,
            mutation: None,
        }
    }
}

type CommitFuture = Pin<Box<dyn Future<Output = Vec<i16>>>>;

/// A commit being processed by an instance.
struct InFlight {
    req: u64,
    group: usize,
    offset: i64,
    append: Option<u64>,
    fut: CommitFuture,
}

struct Instance {
    alive: bool,
    inc: u64,
    coord: Option<Arc<GroupCoordinator>>,
    clock: Arc<ManualClock>,
    clock_at: u64,
    synced: u64,
    commits: Vec<InFlight>,
}

#[derive(Debug, Clone)]
enum Ev {
    Commit {
        inst: usize,
        req: u64,
        group: usize,
        offset: i64,
    },
    Reply {
        group: usize,
        req: u64,
    },
    ClientTimer {
        group: usize,
        req: u64,
    },
    Release {
        inst: usize,
        inc: u64,
        append: u64,
    },
    Sync {
        inst: usize,
        version: u64,
        led: BTreeMap<i32, i32>,
    },
    Resync,
    Verify,
    Chaos,
    Failover {
        partition: i32,
    },
    Restart(usize),
}

struct Groups {
    p: GroupParams,
    w: World<Ev>,
    log: Arc<MemoryLog>,
    gate: Arc<Mutex<Gate>>,
    epochs: Arc<Mutex<BTreeMap<i32, i32>>>,
    /// Partition -> (owning instance, epoch).
    owners: BTreeMap<i32, (usize, i32)>,
    version: u64,
    instances: Vec<Instance>,
    /// Group -> (request in flight, next offset).
    clients: Vec<(u64, i64)>,
    seq: u64,
    /// Append id -> (group, offset) of the commit that issued it.
    appends: BTreeMap<u64, (usize, i64)>,
}

/// Run one seed.
pub fn run(seed: u64, params: &GroupParams) -> Result<Summary, Violation> {
    let mut g = Groups {
        w: World::new(seed, params.faults.clone(), params.trace),
        log: Arc::new(MemoryLog::with_topic(params.offsets_partitions)),
        gate: Arc::new(Mutex::new(Gate::default())),
        epochs: Arc::new(Mutex::new(BTreeMap::new())),
        owners: BTreeMap::new(),
        version: 0,
        instances: Vec::new(),
        clients: vec![(0, 0); params.groups],
        seq: 0,
        appends: BTreeMap::new(),
        p: params.clone(),
    };
    match g.run() {
        Ok(()) => Ok(Summary {
            model: "groups",
            seed,
            stats: g.w.stats,
        }),
        Err(what) => Err(Violation {
            model: "groups",
            seed,
            at_ms: g.w.now,
            what,
            trace: g.w.take_trace(),
            stats: Box::new(g.w.stats),
        }),
    }
}

fn group_id(g: usize) -> String {
    format!("group-{g}")
}

impl Groups {
    fn run(&mut self) -> Result<(), String> {
        for i in 0..self.p.instances {
            let inst = self.new_instance(i, 0);
            self.instances.push(inst);
        }
        for part in 0..self.p.offsets_partitions {
            let owner = part as usize % self.p.instances;
            self.set_owner(part, owner, 0);
        }
        self.broadcast();
        for group in 0..self.p.groups {
            let d = self.w.rng.range(5, 30);
            self.w.at(d, Ev::ClientTimer { group, req: 0 });
        }
        self.w.at(RESYNC_MS, Ev::Resync);
        self.w.at(VERIFY_MS, Ev::Verify);
        self.w.at(CHAOS_MS, Ev::Chaos);
        while let Some(ev) = self.w.next(self.p.duration_ms) {
            self.handle(ev)?;
            if let Some(v) = lock(&self.gate).violation.take() {
                return Err(v);
            }
        }
        self.verify()
    }

    fn new_instance(&self, i: usize, inc: u64) -> Instance {
        let clock = Arc::new(ManualClock::new(1_000_000 + self.w.now as i64));
        let writer = GatedWriter {
            instance: i,
            log: self.log.clone(),
            gate: self.gate.clone(),
            partitions: self.p.offsets_partitions,
            epochs: self.epochs.clone(),
            no_fencing: self.p.mutation == Some(GroupMutation::NoEpochFencing),
        };
        let coord = GroupCoordinator::new(
            GroupConfig::default(),
            Arc::new(writer),
            self.log.clone(),
            clock.clone(),
            Arc::new(Topics),
        );
        Instance {
            alive: true,
            inc,
            coord: Some(Arc::new(coord)),
            clock,
            clock_at: self.w.now,
            synced: 0,
            commits: Vec::new(),
        }
    }

    fn set_owner(&mut self, part: i32, inst: usize, epoch: i32) {
        self.owners.insert(part, (inst, epoch));
        self.log.set_epoch(part, epoch);
        self.epochs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(part, epoch);
        self.version += 1;
    }

    /// Tell every instance what it leads (the metadata applier's `sync_ownership` calls).
    fn broadcast(&mut self) {
        for inst in 0..self.p.instances {
            let led: BTreeMap<i32, i32> = self
                .owners
                .iter()
                .filter(|(_, &(o, _))| o == inst)
                .map(|(&p, &(_, e))| (p, e))
                .collect();
            let version = self.version;
            self.w
                .send(-1, inst as i32, Ev::Sync { inst, version, led });
        }
    }

    fn handle(&mut self, ev: Ev) -> Result<(), String> {
        match ev {
            Ev::Commit {
                inst,
                req,
                group,
                offset,
            } => self.on_commit(inst, req, group, offset)?,
            Ev::Reply { group, req } => {
                // The client's next commit follows shortly after an answer.
                if self.clients[group].0 == req {
                    let d = self.w.rng.range(1, 20);
                    self.w.at(d, Ev::ClientTimer { group, req });
                }
            }
            Ev::ClientTimer { group, req } => {
                if self.clients[group].0 == req {
                    self.send_commit(group);
                }
            }
            Ev::Release { inst, inc, append } => {
                lock(&self.gate).released.insert(append);
                self.poll_instance(inst, inc)?;
            }
            Ev::Sync { inst, version, led } => {
                let i = &mut self.instances[inst];
                if i.alive && version > i.synced {
                    i.synced = version;
                    if let Some(c) = i.coord.clone() {
                        self.advance_clock(inst);
                        let change = c.sync_ownership(Some(self.p.offsets_partitions), &led);
                        if !change.loaded.is_empty() {
                            self.w
                                .note(|| format!("instance {inst} loaded {:?}", change.loaded));
                        }
                    }
                    let inc = self.instances[inst].inc;
                    self.poll_instance(inst, inc)?;
                }
            }
            Ev::Resync => {
                self.broadcast();
                self.w.at(RESYNC_MS, Ev::Resync);
            }
            Ev::Verify => {
                self.verify()?;
                self.w.at(VERIFY_MS, Ev::Verify);
            }
            Ev::Chaos => {
                self.chaos();
                self.w.at(CHAOS_MS, Ev::Chaos);
            }
            Ev::Failover { partition } => self.failover(partition),
            Ev::Restart(inst) => {
                if !self.instances[inst].alive {
                    let inc = self.instances[inst].inc + 1;
                    self.instances[inst] = self.new_instance(inst, inc);
                    self.broadcast();
                }
            }
        }
        Ok(())
    }

    fn advance_clock(&mut self, inst: usize) {
        let i = &mut self.instances[inst];
        i.clock.advance((self.w.now - i.clock_at) as i64);
        i.clock_at = self.w.now;
    }

    /// The client of `group` commits its next offset to the instance the current ownership
    /// names (its FindCoordinator answer), and gives up after a timeout.
    fn send_commit(&mut self, group: usize) {
        self.seq += 1;
        let req = self.seq;
        let offset = self.clients[group].1;
        self.clients[group] = (req, offset + 1);
        let part = partition_for(&group_id(group), self.p.offsets_partitions);
        let inst = self.owners[&part].0;
        self.w.send(
            CLIENT_NODE,
            inst as i32,
            Ev::Commit {
                inst,
                req,
                group,
                offset,
            },
        );
        self.w.at(COMMIT_TIMEOUT_MS, Ev::ClientTimer { group, req });
    }

    fn on_commit(
        &mut self,
        inst: usize,
        req: u64,
        group: usize,
        offset: i64,
    ) -> Result<(), String> {
        let i = &self.instances[inst];
        let Some(c) = i.coord.clone().filter(|_| i.alive) else {
            return Ok(());
        };
        let inc = i.inc;
        self.advance_clock(inst);
        let g = group_id(group);
        let entries: Vec<(String, i32, i64, i32, String)> = (0..TOPIC_PARTITIONS)
            .map(|p| (TOPIC.to_string(), p, offset, 0, String::new()))
            .collect();
        let who = Committer {
            generation_or_epoch: -1,
            ..Committer::default()
        };
        let fut: CommitFuture = Box::pin(async move { c.commit(&g, &who, entries).await });
        self.instances[inst].commits.push(InFlight {
            req,
            group,
            offset,
            append: None,
            fut,
        });
        self.poll_instance(inst, inc)
    }

    /// Poll the instance's in-flight commits until none progresses; schedule the release of
    /// new appends; answer completed commits.
    fn poll_instance(&mut self, inst: usize, inc: u64) -> Result<(), String> {
        loop {
            let i = &mut self.instances[inst];
            if !i.alive || i.inc != inc {
                return Ok(());
            }
            let mut progressed = false;
            let mut k = 0;
            let mut done = Vec::new();
            let mut issued = Vec::new();
            while k < i.commits.len() {
                let cx = &mut Context::from_waker(Waker::noop());
                let r = i.commits[k].fut.as_mut().poll(cx);
                let new: Vec<u64> = std::mem::take(&mut lock(&self.gate).issued);
                if let Some(&a) = new.first() {
                    i.commits[k].append = Some(a);
                    issued.extend(
                        new.iter()
                            .map(|&a| (a, i.commits[k].group, i.commits[k].offset)),
                    );
                    progressed = true;
                }
                match r {
                    Poll::Ready(codes) => {
                        let c = i.commits.swap_remove(k);
                        done.push((c, codes));
                        progressed = true;
                    }
                    Poll::Pending => k += 1,
                }
            }
            for (a, group, offset) in issued {
                self.appends.insert(a, (group, offset));
                let d = self.w.rng.range(1, 30);
                self.w.at(
                    d,
                    Ev::Release {
                        inst,
                        inc,
                        append: a,
                    },
                );
            }
            for (c, codes) in done {
                let ok = codes.iter().all(|&code| code == 0);
                if ok {
                    self.w.stats.acked += 1;
                }
                self.w.note(|| {
                    format!(
                        "instance {inst} answers commit {} of group {} offset {}: {codes:?}",
                        c.req, c.group, c.offset
                    )
                });
                let (group, req) = (c.group, c.req);
                self.w
                    .send(inst as i32, CLIENT_NODE, Ev::Reply { group, req });
                if ok {
                    self.verify()?;
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    fn chaos(&mut self) {
        let roll = self.w.rng.below(100);
        if roll < 30 {
            let part = self.w.rng.below(self.p.offsets_partitions as u64) as i32;
            self.failover(part);
        } else if self.w.faults.crashes && roll < 45 {
            let inst = self.w.rng.below(self.p.instances as u64) as usize;
            let alive = self.instances.iter().filter(|i| i.alive).count();
            if self.instances[inst].alive && alive > 1 {
                self.w.stats.crashes += 1;
                self.w.note(|| format!("crash instance {inst}"));
                let i = &mut self.instances[inst];
                i.alive = false;
                i.coord = None;
                i.commits.clear();
                // The controller notices and moves its partitions.
                let owned: Vec<i32> = self
                    .owners
                    .iter()
                    .filter(|(_, &(o, _))| o == inst)
                    .map(|(&p, _)| p)
                    .collect();
                for partition in owned {
                    let d = self.w.rng.range(50, 300);
                    self.w.at(d, Ev::Failover { partition });
                }
                let d = self.w.rng.range(100, 1_000);
                self.w.at(d, Ev::Restart(inst));
            }
        }
    }

    /// Move `part` to a live instance (maybe the same one) at the next epoch.
    fn failover(&mut self, part: i32) {
        let live: Vec<usize> = (0..self.p.instances)
            .filter(|&i| self.instances[i].alive)
            .collect();
        let Some(to) = self.w.rng.pick(&live) else {
            return;
        };
        let (_, epoch) = self.owners[&part];
        let next = if self.p.mutation == Some(GroupMutation::SameEpochFailover) {
            epoch
        } else {
            epoch + 1
        };
        self.w.stats.elections += 1;
        self.w
            .note(|| format!("partition {part} moves to instance {to} at epoch {next}"));
        self.set_owner(part, to, next);
        self.broadcast();
    }

    /// The owner's OffsetFetch must show, for every group partition, the last commit that
    /// reached the log.
    fn verify(&mut self) -> Result<(), String> {
        let mut last: BTreeMap<usize, i64> = BTreeMap::new();
        for a in &lock(&self.gate).landed {
            if let Some(&(group, offset)) = self.appends.get(a) {
                last.insert(group, offset);
            }
        }
        for group in 0..self.p.groups {
            let g = group_id(group);
            let part = partition_for(&g, self.p.offsets_partitions);
            let (owner, epoch) = self.owners[&part];
            let i = &self.instances[owner];
            let Some(c) = i.coord.as_ref().filter(|_| i.alive) else {
                continue;
            };
            if c.owned().get(&part) != Some(&epoch) {
                continue;
            }
            let Ok(rows) = c.fetch(&g, None, None) else {
                continue;
            };
            let want = last.get(&group).copied();
            for tp in 0..TOPIC_PARTITIONS {
                let got = rows
                    .iter()
                    .find(|(t, p, _)| t == TOPIC && *p == tp)
                    .and_then(|(_, _, v)| v.as_ref().map(|v| v.offset));
                if got != want {
                    return Err(format!(
                        "OffsetFetch of {g} {TOPIC}-{tp} at instance {owner} (owner of \
                         partition {part} at epoch {epoch}) returns {got:?}; the last commit \
                         in the log is {want:?}"
                    ));
                }
            }
        }
        Ok(())
    }
}
