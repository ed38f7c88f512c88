//! The broker side of the replication model: the metadata applier (`reconcile`), the leader's
//! produce path (`replica/append.rs`), its handling of follower fetches (`api/fetch.rs` with
//! `ReplicaManager::on_follower_fetch`), ISR shrinks (`replica/isr.rs`) and the follower's
//! fetcher (`replica/fetcher.rs`).

use weir_meta::error::MetaError;
use weir_meta::records::PartitionInfo;

use super::leader_state::LeaderState;
use super::{Ev, Img, PendingAck, Repl, ReplMutation, Reply, CONTROLLER, LAG_MS, PRODUCER};
use super::{PRODUCE_TIMEOUT_MS, TOPIC};

const FETCH_TIMEOUT_MS: u64 = 150;
const EMPTY_FETCH_BACKOFF_MS: u64 = 10;
const ERROR_BACKOFF_MS: u64 = 50;
const ALTER_TIMEOUT_MS: u64 = 300;
const MAX_FETCH: usize = 20;

impl Repl {
    fn view(&self, b: i32) -> Option<PartitionInfo> {
        self.brokers[&b].view.1.partition(TOPIC, 0).cloned()
    }

    /// `MetadataApplier::apply_latest` for one broker: stop following a partition it now leads,
    /// start the epoch in the log, (re)create the leader state at a new leader epoch, follow
    /// the leader otherwise; fail acks=all waits whose leadership moved.
    pub(super) fn on_image(&mut self, b: i32, img: Img) -> Result<(), String> {
        let now = self.w.now as i64;
        let Some(x) = self.brokers.get_mut(&b) else {
            return Ok(());
        };
        if !x.alive || img.0 <= x.view.0 {
            return Ok(());
        }
        x.view = img;
        let Some(p) = x.view.1.partition(TOPIC, 0).cloned() else {
            return Ok(());
        };
        let registered = x
            .view
            .1
            .brokers
            .get(&b)
            .is_some_and(|r| !r.fenced && r.incarnation == super::incarnation(b, x.inc));
        let mut started = false;
        if p.leader == b && !registered && self.p.fixes.lead_after_registration {
            x.leader = None;
            x.follow = None;
            x.fetching = None;
        } else if p.leader == b {
            x.follow = None;
            x.fetching = None;
            let followers: Vec<i32> = p.replicas.iter().copied().filter(|&r| r != b).collect();
            let fresh = x
                .leader
                .as_ref()
                .is_none_or(|st| st.leader_epoch != p.leader_epoch);
            if fresh {
                let leo = x.log.leo();
                x.log.assign_epoch(p.leader_epoch, leo);
                x.leader = Some(LeaderState::new(p.leader_epoch, leo, &followers, now));
                started = true;
            }
            if let Some(st) = x.leader.as_mut() {
                st.set_followers(&followers, now);
                st.isr_change_pending = false;
            }
        } else {
            x.leader = None;
            let target = (p.leader >= 0).then_some((p.leader, p.leader_epoch));
            if x.follow != target {
                x.follow = target;
                x.fetching = None;
            }
        }
        // Only the leader the controller elected must have everything; a restarted broker acting
        // on a stale image (a zombie) is checked by what it acknowledges.
        let legit = self
            .image
            .partition(TOPIC, 0)
            .is_some_and(|c| c.leader == b && c.leader_epoch == p.leader_epoch);
        if started && legit {
            self.check_has_committed(b, &format!("started to lead epoch {}", p.leader_epoch))?;
        }
        self.update_hw(b)?;
        self.check_acks(b)?;
        self.start_fetch(b);
        Ok(())
    }

    /// The leader's high watermark from its (maximal) ISR; checked against the ISR's logs.
    fn update_hw(&mut self, b: i32) -> Result<(), String> {
        let Some(p) = self.view(b) else {
            return Ok(());
        };
        let x = &self.brokers[&b];
        let Some(st) = x.leader.as_ref() else {
            return Ok(());
        };
        let isr = st.maximal_isr(&p.isr, p.partition_epoch);
        let hw = if self.p.mutation == Some(ReplMutation::HwIgnoresFollowers) {
            st.high_watermark(b, &[b])
        } else {
            st.high_watermark(b, &isr)
        };
        let old = x.log.hw;
        if hw <= old {
            return Ok(());
        }
        for &m in isr.iter().filter(|&&m| m != b && self.p.check_hw) {
            let other = &self.brokers[&m].log;
            if other.leo() < hw {
                return Err(format!(
                    "leader {b} (epoch {}) moves its high watermark to {hw}, past the log end {} \
                     of ISR member {m} (ISR {isr:?})",
                    st.leader_epoch,
                    other.leo()
                ));
            }
            for o in old.max(0)..hw {
                if other.get(o) != x.log.get(o) {
                    return Err(format!(
                        "leader {b} (epoch {}) moves its high watermark to {hw} over offset {o}, \
                         where ISR member {m} has {:?} and the leader {:?} (ISR {isr:?})",
                        st.leader_epoch,
                        other.get(o),
                        x.log.get(o)
                    ));
                }
            }
        }
        self.w
            .note(|| format!("broker {b} high watermark {old} -> {hw} (ISR {isr:?})"));
        if let Some(x) = self.brokers.get_mut(&b) {
            x.log.hw = hw;
        }
        Ok(())
    }

    /// Answer acks=all appends: acknowledged once below the high watermark while still leading
    /// at their epoch (with the ISR at least `min.insync.replicas`), failed when leadership
    /// moved or the timeout passed.
    fn check_acks(&mut self, b: i32) -> Result<(), String> {
        let now = self.w.now;
        let p = self.view(b);
        let x = &self.brokers[&b];
        let hw = x.log.hw;
        let mut done = Vec::new();
        let mut keep = Vec::new();
        for a in &x.acks {
            let leads = p
                .as_ref()
                .is_some_and(|p| p.leader == b && p.leader_epoch == a.epoch);
            let isr = p.as_ref().map_or(0, |p| p.isr.len());
            if !leads {
                done.push((a.clone(), false));
            } else if hw > a.offset {
                done.push((a.clone(), isr >= self.p.min_isr));
            } else if now >= a.deadline {
                done.push((a.clone(), false));
            } else {
                keep.push(a.clone());
            }
        }
        if let Some(x) = self.brokers.get_mut(&b) {
            x.acks = keep;
        }
        for (a, ok) in done {
            if ok {
                self.note_acked(b, a.offset, (a.epoch, a.value))?;
            }
            self.w
                .send(b, PRODUCER, Ev::ProduceReply { req: a.req, ok });
        }
        Ok(())
    }

    /// `ReplicaManager::append` for acks=all, then the durable wait (`LeaderSynced`).
    pub(super) fn on_produce(&mut self, b: i32, req: u64, value: u64) -> Result<(), String> {
        let p = self.view(b);
        let x = &self.brokers[&b];
        let ok = x.alive
            && x.leader.is_some()
            && p.as_ref()
                .is_some_and(|p| p.leader == b && p.isr.len() >= self.p.min_isr);
        let Some(p) = p.filter(|_| ok) else {
            if x.alive {
                self.w
                    .send(b, PRODUCER, Ev::ProduceReply { req, ok: false });
            }
            return Ok(());
        };
        let (inc, epoch) = (x.inc, p.leader_epoch);
        let x = self.brokers.get_mut(&b).ok_or("no broker")?;
        let offset = x.log.append(epoch, value);
        let gen = x.log.generation;
        x.acks.push(PendingAck {
            req,
            offset,
            epoch,
            value,
            deadline: self.w.now + PRODUCE_TIMEOUT_MS,
        });
        self.note_written(b, offset, epoch, value)?;
        let d = self.w.rng.range(1, 5);
        self.w.at(
            d,
            Ev::LeaderSynced {
                b,
                inc,
                end: offset + 1,
                gen,
            },
        );
        Ok(())
    }

    /// The group commit made the leader's append durable: `on_local_durable`.
    pub(super) fn on_leader_synced(
        &mut self,
        b: i32,
        inc: u64,
        end: i64,
        gen: u64,
    ) -> Result<(), String> {
        if !self.live(b, inc) {
            return Ok(());
        }
        if let Some(x) = self.brokers.get_mut(&b) {
            x.log.synced(end, gen);
            if let Some(st) = x.leader.as_mut() {
                st.local_durable_end = st.local_durable_end.max(end);
            }
        }
        self.update_hw(b)?;
        self.check_acks(b)
    }

    /// The periodic out-of-sync check (`take_out_of_sync` + `shrink_loop`).
    pub(super) fn shrink_check(&mut self, b: i32) -> Result<(), String> {
        self.check_acks(b)?;
        let now = self.w.now as i64;
        let Some(p) = self.view(b) else {
            return Ok(());
        };
        let Some(st) = self.brokers[&b].leader.as_ref() else {
            return Ok(());
        };
        if st.isr_change_pending || st.leader_epoch != p.leader_epoch || p.leader != b {
            return Ok(());
        }
        let lagging = st.out_of_sync(b, &st.maximal_isr(&p.isr, p.partition_epoch), LAG_MS, now);
        if lagging.is_empty() {
            return Ok(());
        }
        if let Some(st) = self.brokers.get_mut(&b).and_then(|x| x.leader.as_mut()) {
            st.isr_change_pending = true;
        }
        let isr: Vec<i32> = p
            .isr
            .iter()
            .copied()
            .filter(|r| !lagging.contains(r))
            .collect();
        self.send_alter(b, &p, isr);
        Ok(())
    }

    /// `spawn_alter_isr`: AlterPartition at the partition epoch of `p`, answered or timed out.
    fn send_alter(&mut self, b: i32, p: &PartitionInfo, isr: Vec<i32>) {
        let id = self.next_id();
        let expands = isr.iter().any(|r| !p.isr.contains(r));
        let Some(x) = self.brokers.get_mut(&b) else {
            return;
        };
        x.altering.insert(id, expands);
        let inc = x.inc;
        self.w.send(
            b,
            CONTROLLER,
            Ev::Alter {
                b,
                inc,
                id,
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                isr,
            },
        );
        let err = Some(MetaError::Raft("timed out".into()));
        self.w
            .at(ALTER_TIMEOUT_MS, Ev::AlterReply { b, inc, id, err });
    }

    /// The AlterPartition call completed (or timed out): as `spawn_alter_isr`'s error handling.
    pub(super) fn on_alter_reply(&mut self, b: i32, inc: u64, id: u64, err: Option<MetaError>) {
        if !self.live(b, inc) {
            return;
        }
        let Some(x) = self.brokers.get_mut(&b) else {
            return;
        };
        let Some(expands) = x.altering.remove(&id) else {
            return;
        };
        if let Some(e) = err {
            let refused = expands && e.certainly_changed_nothing();
            if let Some(st) = x.leader.as_mut() {
                st.isr_change_pending = false;
                if refused {
                    st.forget_expansion();
                }
            }
        }
    }

    /// `ReplicaManager::on_follower_fetch`: track the follower, maybe propose an expansion.
    fn record_follower_fetch(&mut self, l: i32, f: i32, offset: i64) -> Result<(), String> {
        let now = self.w.now as i64;
        let Some(p) = self.view(l) else {
            return Ok(());
        };
        let x = self.brokers.get_mut(&l).ok_or("no broker")?;
        let leo = x.log.leo();
        let log_hw = x.log.hw;
        let Some(st) = x.leader.as_mut() else {
            return Ok(());
        };
        if st.leader_epoch != p.leader_epoch || !st.on_follower_fetch(f, offset, leo, now) {
            return Ok(());
        }
        let isr = st.maximal_isr(&p.isr, p.partition_epoch);
        let hw = st.high_watermark(l, &isr).max(log_hw);
        let joiners = st.may_join_isr(&isr, hw);
        let propose = !joiners.is_empty() && !st.isr_change_pending;
        if propose {
            st.isr_change_pending = true;
            st.propose_expansion(p.partition_epoch, &joiners);
        }
        self.update_hw(l)?;
        self.check_acks(l)?;
        if propose {
            let mut isr = p.isr.clone();
            isr.extend(joiners);
            isr.sort_unstable();
            isr.dedup();
            self.send_alter(l, &p, isr);
        }
        Ok(())
    }

    /// A follower fetch at the leader (`api/fetch.rs`): leader and epoch checks, the follower's
    /// offset recorded (Weir: before the divergence check), KIP-320 divergence, range, records.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_fetch(
        &mut self,
        l: i32,
        f: i32,
        inc: u64,
        id: u64,
        epoch: i32,
        offset: i64,
        last_epoch: i32,
    ) -> Result<(), String> {
        if !self.brokers[&l].alive {
            return Ok(());
        }
        let p = self.view(l);
        let reply = match p {
            Some(p) if p.leader == l && self.brokers[&l].leader.is_some() => {
                if epoch < p.leader_epoch {
                    Reply::Error("FENCED_LEADER_EPOCH")
                } else if epoch > p.leader_epoch {
                    Reply::Error("UNKNOWN_LEADER_EPOCH")
                } else {
                    if !self.p.fixes.fetch_order {
                        self.record_follower_fetch(l, f, offset)?;
                    }
                    let log = &self.brokers[&l].log;
                    let (ep, end) = log.end_offset_for_epoch(last_epoch);
                    if last_epoch >= 0 && ep >= 0 && (ep < last_epoch || end < offset) {
                        Reply::Diverging {
                            epoch: ep,
                            end,
                            hw: log.hw,
                        }
                    } else if offset > log.leo() || offset < 0 {
                        Reply::OutOfRange { hw: log.hw }
                    } else {
                        if self.p.fixes.fetch_order {
                            self.record_follower_fetch(l, f, offset)?;
                        }
                        let log = &self.brokers[&l].log;
                        Reply::Records {
                            base: offset,
                            entries: log.read(offset, MAX_FETCH),
                            hw: log.hw,
                        }
                    }
                }
            }
            _ => Reply::Error("NOT_LEADER_OR_FOLLOWER"),
        };
        self.w.send(
            l,
            f,
            Ev::FetchReply {
                b: f,
                inc,
                id,
                reply,
            },
        );
        Ok(())
    }

    /// The fetcher's next round, if following and no fetch is in flight.
    pub(super) fn start_fetch(&mut self, b: i32) {
        let id = self.next_id();
        let x = &self.brokers[&b];
        let Some((leader, epoch)) = x.follow else {
            return;
        };
        if !x.alive || x.fetching.is_some() {
            return;
        }
        let (inc, offset, last_epoch) = (x.inc, x.log.leo(), x.log.latest_epoch());
        if let Some(x) = self.brokers.get_mut(&b) {
            x.fetching = Some((id, (leader, epoch)));
        }
        self.w.send(
            b,
            leader,
            Ev::Fetch {
                leader,
                from: b,
                inc,
                id,
                epoch,
                offset,
                last_epoch,
            },
        );
        self.w.at(FETCH_TIMEOUT_MS, Ev::FetchTimer { b, inc, id });
    }

    /// `fetcher::apply`: truncate on divergence or when ahead of the leader, else append; the
    /// next fetch goes out once the appended records are durable.
    pub(super) fn on_fetch_reply(
        &mut self,
        b: i32,
        inc: u64,
        id: u64,
        reply: Reply,
    ) -> Result<(), String> {
        if !self.live(b, inc) {
            return Ok(());
        }
        let x = &self.brokers[&b];
        let Some((want, target)) = x.fetching else {
            return Ok(());
        };
        if want != id {
            return Ok(());
        }
        if x.follow != Some(target) {
            // The partition no longer follows that leader at that epoch: drop the answer.
            if let Some(x) = self.brokers.get_mut(&b) {
                x.fetching = None;
            }
            self.start_fetch(b);
            return Ok(());
        }
        let x = self.brokers.get_mut(&b).ok_or("no broker")?;
        let leo = x.log.leo();
        let mut again = 0;
        let removed = match reply {
            Reply::Error(code) => {
                self.w
                    .note(|| format!("broker {b}: fetch refused with {code}"));
                again = ERROR_BACKOFF_MS;
                Vec::new()
            }
            Reply::OutOfRange { hw } => {
                again = ERROR_BACKOFF_MS;
                if hw >= 0 && hw < leo {
                    x.log.truncate_to(hw)
                } else {
                    Vec::new()
                }
            }
            Reply::Diverging { epoch, end, hw } => {
                let (local_epoch, local_end) = x.log.end_offset_for_epoch(epoch);
                let to = if local_epoch < 0 {
                    end.min(leo)
                } else if local_epoch != epoch {
                    local_end.min(leo)
                } else {
                    end.min(local_end).min(leo)
                };
                let removed = x.log.truncate_to(to);
                x.log.hw = x.log.hw.max(hw.min(x.log.leo()));
                removed
            }
            Reply::Records { base, entries, hw } => {
                if entries.is_empty() {
                    x.log.hw = x.log.hw.max(hw.min(leo));
                    again = EMPTY_FETCH_BACKOFF_MS;
                } else if x.log.append_replicated(base, &entries).is_ok() {
                    let (end, gen) = (x.log.leo(), x.log.generation);
                    // The mutation fetches again (reporting the new end) before the fsync.
                    let early = self.p.mutation == Some(ReplMutation::ReportBeforeDurable);
                    let d = if early {
                        self.w.rng.range(20, 100)
                    } else {
                        self.w.rng.range(1, 5)
                    };
                    self.w.at(
                        d,
                        Ev::FollowerSynced {
                            b,
                            inc,
                            id,
                            end,
                            gen,
                            hw: if early { -1 } else { hw },
                        },
                    );
                    if !early {
                        return Ok(());
                    }
                } else {
                    again = ERROR_BACKOFF_MS;
                }
                Vec::new()
            }
        };
        if !removed.is_empty() {
            self.w.note(|| {
                format!(
                    "broker {b} truncates {} records from {}",
                    removed.len(),
                    removed[0].0
                )
            });
        }
        self.check_truncation(b, &removed)?;
        if let Some(x) = self.brokers.get_mut(&b) {
            x.fetching = None;
        }
        if again == 0 {
            self.start_fetch(b);
        } else {
            self.w.at(again, Ev::Refetch { b, inc });
        }
        Ok(())
    }

    /// The fetched records are durable: advance the follower's high watermark, fetch again.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_follower_synced(
        &mut self,
        b: i32,
        inc: u64,
        id: u64,
        end: i64,
        gen: u64,
        hw: i64,
    ) -> Result<(), String> {
        if !self.live(b, inc) {
            return Ok(());
        }
        let x = self.brokers.get_mut(&b).ok_or("no broker")?;
        x.log.synced(end, gen);
        if x.fetching.is_some_and(|(i, _)| i == id) {
            x.log.hw = x.log.hw.max(hw.min(x.log.leo()));
            x.fetching = None;
            self.start_fetch(b);
        }
        Ok(())
    }
}
