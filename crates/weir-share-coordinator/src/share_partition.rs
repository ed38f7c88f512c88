//! [`SharePartition`]: the delivery state of one share-partition (one group on one
//! topic-partition) as its partition leader keeps it — Kafka's `SharePartition`, sans-IO: every
//! operation takes the time, nothing is read or written here.
//!
//! The in-flight window is `start_offset..=end_offset` (SPSO..SPEO). Every offset of the window
//! has a state (per offset, so a window is at most `share.partition.max.record.locks` entries):
//! Available, Acquired (member, lock deadline), Acknowledged, Archived, or DeadLetterPending,
//! with a delivery count. Offsets below the SPSO are complete; offsets above the SPEO were
//! never acquired. The SPSO moves past contiguous Acknowledged / Archived records.
//!
//! Persistence (the broker writes it through [`crate::ShareStateCoordinator`]): every change of
//! a non-Acquired state or of the SPSO marks the offset dirty; [`SharePartition::take_update`]
//! hands the dirty offsets over as state batches (Kafka's ShareUpdate deltas),
//! [`SharePartition::snapshot`] the whole window. Acquired records are persisted as Available
//! with their delivery count, as Kafka: a lock does not survive a failover. Acquiring alone
//! does not mark a record dirty (as Kafka, no write per fetch): a failover loses the delivery
//! counts of records acquired but not yet acknowledged, released or expired.
//!
//! Dead letters (KIP-1191), the exactly-once scheme: a record rejected, or released / expired
//! at the delivery-count limit, becomes DeadLetterPending (when the group has a DLQ topic;
//! Archived otherwise) and that state is persisted like the others. The broker takes the
//! pending records ([`SharePartition::take_dead_letters`]), copies each to the DLQ topic with
//! the source identity (group, topic id, partition, offset) in the copy's headers, and confirms
//! ([`SharePartition::confirm_dead_letters`], then persists the update): only then is the
//! record Archived and can the SPSO pass it. A copy that failed is handed back
//! ([`SharePartition::abandon_dead_letters`]) and offered again. A pending record is offered to
//! one copier at a time, so a leader copies it at most once; a record loaded as pending (a
//! previous leader may have copied it and failed before persisting the confirmation) is offered
//! with `maybe_copied`, and the broker first looks for its source identity in the DLQ topic
//! from the end back to the copy's time bound, skipping the copy when found. Together: exactly
//! one copy per dead letter.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::{AcquireMode, AcquiredRange, DeadLetterReason, DeliveryState, StateBatch};

/// The group settings a share-partition operation needs (from [`crate::ShareGroupConfig`]
/// via [`crate::ShareGroupConfig::limits`]); passed per call so config changes apply at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLimits {
    /// `share.record.lock.duration.ms`: how long an acquisition lock lasts.
    pub lock_duration_ms: i64,
    /// `share.delivery.count.limit`: a record released or expired after this many deliveries
    /// is archived (a dead-letter candidate).
    pub delivery_count_limit: i16,
    /// `share.partition.max.record.locks`: the in-flight window (SPSO..=SPEO) never grows
    /// beyond this many offsets.
    pub max_in_flight: i64,
    /// True when the group has a dead-letter topic (`errors.deadletterqueue.topic.name`):
    /// failed records become DeadLetterPending instead of Archived.
    pub dead_letter_enabled: bool,
    /// `share.renew.acknowledge.enable` (KIP-1222): Renew acknowledgements are accepted.
    pub renew_enabled: bool,
}

impl Default for PartitionLimits {
    fn default() -> Self {
        PartitionLimits {
            lock_duration_ms: 30_000,
            delivery_count_limit: 5,
            max_in_flight: 2_000,
            dead_letter_enabled: false,
            renew_enabled: true,
        }
    }
}

/// The largest window [`SharePartition::load`] rebuilds (persisted windows are bounded by
/// `share.partition.max.record.locks`; a larger one can only come from a corrupt record).
pub const MAX_LOADED_WINDOW: i64 = 100_000;

/// The in-memory state of an in-flight record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecState {
    Available,
    Acquired {
        member: String,
        deadline: i64,
    },
    Acknowledged,
    Archived,
    DeadLetterPending {
        /// Handed to a copier and not yet confirmed or abandoned.
        offered: bool,
        maybe_copied: bool,
        reason: Option<DeadLetterReason>,
    },
}

/// One in-flight record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rec {
    pub state: RecState,
    pub count: i16,
}

impl Rec {
    fn persisted(&self) -> DeliveryState {
        match self.state {
            RecState::Available | RecState::Acquired { .. } => DeliveryState::Available,
            RecState::Acknowledged => DeliveryState::Acknowledged,
            RecState::Archived => DeliveryState::Archived,
            RecState::DeadLetterPending { .. } => DeliveryState::DeadLetterPending,
        }
    }
}

/// A record's state as [`SharePartition::record`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordView {
    /// Can be acquired.
    Available {
        /// Deliveries so far.
        delivery_count: i16,
    },
    /// Locked by `member` until `deadline` (ms).
    Acquired {
        /// The member holding the lock.
        member: String,
        /// When the lock expires.
        deadline: i64,
        /// Deliveries so far, this one included.
        delivery_count: i16,
    },
    /// Acknowledged.
    Acknowledged,
    /// Archived.
    Archived,
    /// Waiting for its dead-letter copy to be confirmed.
    DeadLetterPending {
        /// Deliveries.
        delivery_count: i16,
    },
}

/// What a persisted change of the share-partition is: the SPSO and the state batches of the
/// changed offsets (for [`crate::ShareStateCoordinator::write_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdate {
    /// The share-partition start offset.
    pub start_offset: i64,
    /// The changed (or, for a snapshot, all) in-window records, Acquired ones as Available.
    pub batches: Vec<StateBatch>,
    /// KIP-1226 `DeliveryCompleteCount`: in-window records whose delivery is complete.
    pub delivery_complete_count: i32,
}

/// How many records an operation moved, by destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transition {
    /// Records made Available again.
    pub released: usize,
    /// Records archived directly (no DLQ configured, or gaps).
    pub archived: usize,
    /// Records that became dead-letter candidates.
    pub dead_letters: usize,
}

/// The delivery state of one share-partition (see the module docs). Invariant: `records` holds
/// exactly the offsets `start..=end` (empty when `end < start`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePartition {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) records: BTreeMap<i64, Rec>,
    pub(crate) dirty: BTreeSet<i64>,
    pub(crate) start_dirty: bool,
}

impl SharePartition {
    /// A share-partition starting at `start_offset` with nothing in flight: the log offset the
    /// broker resolved from `share.auto.offset.reset` (latest: the log end; earliest: the log
    /// start; by_duration: the offset for the timestamp). Its first update persists the SPSO.
    pub fn new(start_offset: i64) -> Self {
        SharePartition {
            start: start_offset,
            end: start_offset - 1,
            records: BTreeMap::new(),
            dirty: BTreeSet::new(),
            start_dirty: true,
        }
    }

    /// The share-partition as persisted (ReadShareGroupState / [`crate::ShareStateCoordinator::read_state`]):
    /// batches below `start_offset` are ignored; offsets of the window no batch covers are
    /// Available with delivery count 0; DeadLetterPending records are offered again with
    /// `maybe_copied`; a window beyond [`MAX_LOADED_WINDOW`] offsets is truncated. Nothing is
    /// dirty.
    pub fn load(start_offset: i64, batches: &[StateBatch]) -> Self {
        let mut p = SharePartition::new(start_offset);
        p.start_dirty = false;
        let end = batches
            .iter()
            .map(|b| b.last_offset)
            .max()
            .unwrap_or(start_offset - 1)
            .max(start_offset - 1)
            .min(start_offset.saturating_add(MAX_LOADED_WINDOW - 1));
        if batches.iter().any(|b| b.last_offset > end) {
            tracing::warn!(
                start_offset,
                end,
                "persisted share-partition state exceeds {MAX_LOADED_WINDOW} offsets; truncated"
            );
        }
        for o in start_offset..=end {
            p.records.insert(
                o,
                Rec {
                    state: RecState::Available,
                    count: 0,
                },
            );
        }
        p.end = end;
        for b in batches {
            let state = match b.state {
                DeliveryState::Available => RecState::Available,
                DeliveryState::Acknowledged => RecState::Acknowledged,
                DeliveryState::Archived => RecState::Archived,
                DeliveryState::DeadLetterPending => RecState::DeadLetterPending {
                    offered: false,
                    maybe_copied: true,
                    reason: None,
                },
            };
            for o in b.first_offset.max(start_offset)..=b.last_offset.min(end) {
                p.records.insert(
                    o,
                    Rec {
                        state: state.clone(),
                        count: b.delivery_count,
                    },
                );
            }
        }
        p.advance();
        p.dirty.clear();
        p.start_dirty = false;
        p
    }

    /// The share-partition start offset (SPSO): every offset below it is complete.
    pub fn start_offset(&self) -> i64 {
        self.start
    }

    /// The share-partition end offset (SPEO): the last offset ever acquired in the window
    /// (`start_offset - 1` when nothing is in flight).
    pub fn end_offset(&self) -> i64 {
        self.end
    }

    /// Offsets in the in-flight window (SPEO - SPSO + 1).
    pub fn in_flight(&self) -> i64 {
        self.end - self.start + 1
    }

    /// Where the broker should read the log for the next acquisition: the first Available
    /// offset of the window, else SPEO + 1.
    pub fn next_fetch_offset(&self) -> i64 {
        self.records
            .iter()
            .find(|(_, r)| r.state == RecState::Available)
            .map(|(&o, _)| o)
            .unwrap_or(self.end + 1)
    }

    /// The state of `offset`; `None` outside the window.
    pub fn record(&self, offset: i64) -> Option<RecordView> {
        let r = self.records.get(&offset)?;
        Some(match &r.state {
            RecState::Available => RecordView::Available {
                delivery_count: r.count,
            },
            RecState::Acquired { member, deadline } => RecordView::Acquired {
                member: member.clone(),
                deadline: *deadline,
                delivery_count: r.count,
            },
            RecState::Acknowledged => RecordView::Acknowledged,
            RecState::Archived => RecordView::Archived,
            RecState::DeadLetterPending { .. } => RecordView::DeadLetterPending {
                delivery_count: r.count,
            },
        })
    }

    /// Records currently acquired by `member`.
    pub fn acquired_by(&self, member: &str) -> usize {
        self.records
            .values()
            .filter(|r| matches!(&r.state, RecState::Acquired { member: m, .. } if m == member))
            .count()
    }

    /// The earliest acquisition lock deadline (when [`Self::expire_locks`] has work), if any.
    pub fn next_lock_deadline(&self) -> Option<i64> {
        self.records
            .values()
            .filter_map(|r| match r.state {
                RecState::Acquired { deadline, .. } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Acquire records for `member` (ShareFetch). `batches` are the offset ranges (first, last)
    /// of the log batches the broker read, ascending, starting at or before
    /// [`Self::next_fetch_offset`]; offsets between two batches (or between the SPEO and the
    /// first new batch) do not exist in the log and are archived as gaps. Expired locks are
    /// released first. Available records of the window and new records past the SPEO are
    /// acquired (delivery count + 1, locked until `now + lock_duration_ms`), in offset order,
    /// until `max_records` (per `mode`, KIP-1206) or until the window would exceed
    /// `max_in_flight`. Returns the acquired records as ranges of equal delivery count.
    pub fn acquire(
        &mut self,
        member: &str,
        batches: &[(i64, i64)],
        max_records: usize,
        mode: AcquireMode,
        limits: &PartitionLimits,
        now: i64,
    ) -> Vec<AcquiredRange> {
        self.expire_locks(limits, now);
        let deadline = now.saturating_add(limits.lock_duration_ms);
        let mut acquired: Vec<(i64, i16)> = Vec::new();
        'batches: for &(first, last) in batches {
            if acquired.len() >= max_records {
                break;
            }
            for o in first.max(self.start)..=last {
                if mode == AcquireMode::RecordLimit && acquired.len() >= max_records {
                    break 'batches;
                }
                if o > self.end {
                    if o - self.start + 1 > limits.max_in_flight {
                        break 'batches;
                    }
                    for gap in self.end + 1..o {
                        self.records.insert(
                            gap,
                            Rec {
                                state: RecState::Archived,
                                count: 0,
                            },
                        );
                        self.dirty.insert(gap);
                    }
                    self.records.insert(
                        o,
                        Rec {
                            state: RecState::Available,
                            count: 0,
                        },
                    );
                    self.end = o;
                }
                let Some(rec) = self.records.get_mut(&o) else {
                    continue;
                };
                if rec.state != RecState::Available {
                    continue;
                }
                if rec.count >= limits.delivery_count_limit {
                    // The limit was lowered since it was released: it is done.
                    fail(rec, DeadLetterReason::DeliveryCountExceeded, limits);
                    self.dirty.insert(o);
                    continue;
                }
                rec.count = rec.count.saturating_add(1);
                rec.state = RecState::Acquired {
                    member: member.to_string(),
                    deadline,
                };
                acquired.push((o, rec.count));
            }
        }
        self.advance();
        ranges(&acquired)
    }

    /// Move the SPSO past contiguous complete (Acknowledged / Archived) records.
    pub(crate) fn advance(&mut self) {
        while let Some(r) = self.records.get(&self.start) {
            if !r.persisted().is_complete() {
                break;
            }
            self.records.remove(&self.start);
            self.dirty.remove(&self.start);
            self.start += 1;
            self.start_dirty = true;
        }
        if self.records.is_empty() {
            self.end = self.start - 1;
        }
    }

    /// The log start offset moved to `log_start_offset` (retention, DeleteRecords): records
    /// below it no longer exist, so the SPSO moves up to it and their states are dropped
    /// (locks, and pending dead letters that can no longer be copied, included).
    pub fn advance_log_start(&mut self, log_start_offset: i64) {
        if log_start_offset <= self.start {
            return;
        }
        self.records.retain(|&o, _| o >= log_start_offset);
        self.dirty.retain(|&o| o >= log_start_offset);
        self.start = log_start_offset;
        self.end = self.end.max(self.start - 1);
        self.start_dirty = true;
        self.advance();
    }

    /// The persisted changes since the last call (None when nothing changed): the SPSO and the
    /// dirty records as state batches. The broker writes it before answering the request that
    /// made the changes.
    pub fn take_update(&mut self) -> Option<StateUpdate> {
        if self.dirty.is_empty() && !self.start_dirty {
            return None;
        }
        let dirty = std::mem::take(&mut self.dirty);
        self.start_dirty = false;
        Some(StateUpdate {
            start_offset: self.start,
            batches: self.batches(dirty.into_iter()),
            delivery_complete_count: self.delivery_complete_count(),
        })
    }

    /// The whole persisted state (a snapshot of the window); clears nothing.
    pub fn snapshot(&self) -> StateUpdate {
        StateUpdate {
            start_offset: self.start,
            batches: self.batches(self.records.keys().copied()),
            delivery_complete_count: self.delivery_complete_count(),
        }
    }

    fn delivery_complete_count(&self) -> i32 {
        let n = self
            .records
            .values()
            .filter(|r| r.persisted().is_complete())
            .count();
        i32::try_from(n).unwrap_or(i32::MAX)
    }

    /// State batches of `offsets` (ascending): contiguous offsets with the same persisted state
    /// and count form one batch.
    fn batches(&self, offsets: impl Iterator<Item = i64>) -> Vec<StateBatch> {
        let mut out: Vec<StateBatch> = Vec::new();
        for o in offsets {
            let Some(r) = self.records.get(&o) else {
                continue;
            };
            let (state, count) = (r.persisted(), r.count);
            match out.last_mut() {
                Some(b)
                    if b.last_offset + 1 == o && b.state == state && b.delivery_count == count =>
                {
                    b.last_offset = o;
                }
                _ => out.push(StateBatch {
                    first_offset: o,
                    last_offset: o,
                    state,
                    delivery_count: count,
                }),
            }
        }
        out
    }
}

/// A record whose delivery failed for `reason`: DeadLetterPending when the group has a DLQ,
/// else Archived.
pub(crate) fn fail(rec: &mut Rec, reason: DeadLetterReason, limits: &PartitionLimits) -> bool {
    if limits.dead_letter_enabled {
        rec.state = RecState::DeadLetterPending {
            offered: false,
            maybe_copied: false,
            reason: Some(reason),
        };
        true
    } else {
        rec.state = RecState::Archived;
        false
    }
}

/// (offset, count) pairs, ascending, as ranges of contiguous offsets with equal counts.
fn ranges(acquired: &[(i64, i16)]) -> Vec<AcquiredRange> {
    let mut out: Vec<AcquiredRange> = Vec::new();
    for &(o, c) in acquired {
        match out.last_mut() {
            Some(r) if r.last_offset + 1 == o && r.delivery_count == c => r.last_offset = o,
            _ => out.push(AcquiredRange {
                first_offset: o,
                last_offset: o,
                delivery_count: c,
            }),
        }
    }
    out
}
