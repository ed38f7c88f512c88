//! The transitions out of Acquired — acknowledgements (ShareFetch / ShareAcknowledge, KIP-1222
//! Renew), lock expiry, a member leaving — and the dead-letter hand-over (KIP-1191) of
//! [`SharePartition`].

use crate::error::ShareError;
use crate::share_partition::{fail, PartitionLimits, RecState, SharePartition, Transition};
use crate::types::{AckBatch, AckType, DeadLetterCandidate, DeadLetterReason};

impl SharePartition {
    /// Apply `member`'s acknowledgements, all or nothing: every batch is validated first
    /// (INVALID_REQUEST when `first > last` or `types` has neither 1 nor `last - first + 1`
    /// entries; INVALID_RECORD_STATE when any offset is not Acquired by `member` at `now` — an
    /// expired lock counts as not acquired, as Kafka); then Accept makes a record Acknowledged,
    /// Gap archives it, Release makes it Available (delivery count kept; archived as a dead
    /// letter at the delivery-count limit), Reject archives it as a dead letter, Renew restarts
    /// its lock at `now + lock_duration_ms` (delivery count unchanged; INVALID_RECORD_STATE
    /// when `limits.renew_enabled` is false). The SPSO then advances.
    pub fn acknowledge(
        &mut self,
        member: &str,
        batches: &[AckBatch],
        limits: &PartitionLimits,
        now: i64,
    ) -> Result<Transition, ShareError> {
        for b in batches {
            if b.first_offset > b.last_offset {
                return Err(ShareError::InvalidRequest(format!(
                    "acknowledgement batch {}..{} has its first offset after its last",
                    b.first_offset, b.last_offset
                )));
            }
            let n = b
                .last_offset
                .saturating_sub(b.first_offset)
                .saturating_add(1);
            if b.types.len() != 1 && i64::try_from(b.types.len()) != Ok(n) {
                return Err(ShareError::InvalidRequest(format!(
                    "acknowledgement batch {}..={} has {} types for {n} offsets",
                    b.first_offset,
                    b.last_offset,
                    b.types.len()
                )));
            }
            if !limits.renew_enabled && b.types.contains(&AckType::Renew) {
                return Err(ShareError::InvalidRecordState(format!(
                    "acknowledgement batch {}..={} renews, but share.renew.acknowledge.enable is false",
                    b.first_offset, b.last_offset
                )));
            }
            if n > self.in_flight().max(0) {
                return Err(self.not_acquired(member, b.first_offset));
            }
            for o in b.first_offset..=b.last_offset {
                match self.records.get(&o).map(|r| &r.state) {
                    Some(RecState::Acquired {
                        member: m,
                        deadline,
                    }) if m == member && *deadline > now => {}
                    _ => return Err(self.not_acquired(member, o)),
                }
            }
        }
        let mut t = Transition::default();
        for b in batches {
            for (i, o) in (b.first_offset..=b.last_offset).enumerate() {
                let ack = if b.types.len() == 1 {
                    b.types[0]
                } else {
                    b.types[i]
                };
                let Some(rec) = self.records.get_mut(&o) else {
                    continue;
                };
                match ack {
                    AckType::Accept => rec.state = RecState::Acknowledged,
                    AckType::Gap => {
                        rec.state = RecState::Archived;
                        t.archived += 1;
                    }
                    AckType::Release => release(rec, limits, &mut t),
                    AckType::Reject => {
                        count_failed(fail(rec, DeadLetterReason::Rejected, limits), &mut t)
                    }
                    AckType::Renew => {
                        if let RecState::Acquired { deadline, .. } = &mut rec.state {
                            *deadline = now.saturating_add(limits.lock_duration_ms);
                        }
                        continue;
                    }
                }
                self.dirty.insert(o);
            }
        }
        self.advance();
        Ok(t)
    }

    fn not_acquired(&self, member: &str, offset: i64) -> ShareError {
        let what = match self.records.get(&offset).map(|r| &r.state) {
            None => format!("outside the in-flight window {}..={}", self.start, self.end),
            Some(RecState::Acquired { member: m, .. }) if m != member => {
                "acquired by another member".to_string()
            }
            Some(RecState::Acquired { .. }) => "its acquisition lock expired".to_string(),
            Some(s) => format!("not acquired ({})", state_name(s)),
        };
        ShareError::InvalidRecordState(format!(
            "offset {offset} cannot be acknowledged by member {member}: {what}"
        ))
    }

    /// Release every record whose lock expired by `now` (deadline <= now): Available again, or
    /// archived as a dead letter at the delivery-count limit. The SPSO then advances.
    pub fn expire_locks(&mut self, limits: &PartitionLimits, now: i64) -> Transition {
        self.release_where(limits, |_, deadline| deadline <= now)
    }

    /// Release every record `member` holds (it left the group or its session expired), like an
    /// expired lock.
    pub fn release_member(&mut self, member: &str, limits: &PartitionLimits) -> Transition {
        self.release_where(limits, |m, _| m == member)
    }

    fn release_where(
        &mut self,
        limits: &PartitionLimits,
        f: impl Fn(&str, i64) -> bool,
    ) -> Transition {
        let mut t = Transition::default();
        for (&o, rec) in self.records.iter_mut() {
            let hit = matches!(&rec.state, RecState::Acquired { member, deadline } if f(member, *deadline));
            if hit {
                release(rec, limits, &mut t);
                self.dirty.insert(o);
            }
        }
        self.advance();
        t
    }

    /// The dead-letter candidates not currently offered, in offset order; each is marked
    /// offered (not offered again until [`Self::abandon_dead_letters`]). Candidates loaded from
    /// persisted state carry `maybe_copied` (see the module docs of [`SharePartition`]).
    pub fn take_dead_letters(&mut self) -> Vec<DeadLetterCandidate> {
        let mut out = Vec::new();
        for (&o, rec) in self.records.iter_mut() {
            if let RecState::DeadLetterPending {
                offered,
                maybe_copied,
                reason,
            } = &mut rec.state
            {
                if !*offered {
                    *offered = true;
                    out.push(DeadLetterCandidate {
                        offset: o,
                        delivery_count: rec.count,
                        reason: *reason,
                        maybe_copied: *maybe_copied,
                    });
                }
            }
        }
        out
    }

    /// The copies of `offsets` to the DLQ topic are durable: those still DeadLetterPending
    /// become Archived (dirty; the broker persists the update) and the SPSO advances. Offsets
    /// not pending are ignored (a confirmation is idempotent). Returns how many changed.
    pub fn confirm_dead_letters(&mut self, offsets: &[i64]) -> usize {
        let mut n = 0;
        for &o in offsets {
            if let Some(rec) = self.records.get_mut(&o) {
                if matches!(rec.state, RecState::DeadLetterPending { .. }) {
                    rec.state = RecState::Archived;
                    self.dirty.insert(o);
                    n += 1;
                }
            }
        }
        self.advance();
        n
    }

    /// The copies of `offsets` failed (or their outcome is unknown): they are offered again by
    /// the next [`Self::take_dead_letters`], with `maybe_copied` (a failed write may still
    /// have landed).
    pub fn abandon_dead_letters(&mut self, offsets: &[i64]) {
        for &o in offsets {
            if let Some(rec) = self.records.get_mut(&o) {
                if let RecState::DeadLetterPending {
                    offered,
                    maybe_copied,
                    ..
                } = &mut rec.state
                {
                    *offered = false;
                    *maybe_copied = true;
                }
            }
        }
    }
}

/// Release an acquired record: Available, or a dead letter at the delivery-count limit.
fn release(rec: &mut crate::share_partition::Rec, limits: &PartitionLimits, t: &mut Transition) {
    if rec.count >= limits.delivery_count_limit {
        count_failed(
            fail(rec, DeadLetterReason::DeliveryCountExceeded, limits),
            t,
        );
    } else {
        rec.state = RecState::Available;
        t.released += 1;
    }
}

fn count_failed(dead_letter: bool, t: &mut Transition) {
    if dead_letter {
        t.dead_letters += 1;
    } else {
        t.archived += 1;
    }
}

fn state_name(s: &RecState) -> &'static str {
    match s {
        RecState::Available => "Available",
        RecState::Acquired { .. } => "Acquired",
        RecState::Acknowledged => "Acknowledged",
        RecState::Archived => "Archived",
        RecState::DeadLetterPending { .. } => "DeadLetterPending",
    }
}
