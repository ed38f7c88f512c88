//! [`ShareStateShard`]: the share-partition states stored in one `__share_group_state`
//! partition (Kafka's `ShareCoordinatorShard`), rebuilt from its ShareSnapshot / ShareUpdate
//! records, and the merge of an update into a state.

use std::collections::HashMap;

use weir_coordinator::Shard;

use crate::records::{self, RecordKind, ShareValue};
use crate::types::{ShareKey, StateBatch};

/// The persisted state of one share-partition (ReadShareGroupState's answer): the last
/// snapshot with every later update merged in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersistedState {
    /// The snapshot epoch (bumped per snapshot written).
    pub snapshot_epoch: i32,
    /// The state epoch (bumped when the state is re-initialized, e.g. an offset reset).
    pub state_epoch: i32,
    /// The leader epoch of the last write (older writers are fenced).
    pub leader_epoch: i32,
    /// The share-partition start offset.
    pub start_offset: i64,
    /// When the state was created (ms).
    pub create_timestamp: i64,
    /// When the last snapshot was written (ms).
    pub write_timestamp: i64,
    /// KIP-1226 `DeliveryCompleteCount` of the last write (-1 = unknown).
    pub delivery_complete_count: i32,
    /// Non-overlapping state batches at or above `start_offset`, ascending.
    pub batches: Vec<StateBatch>,
}

impl PersistedState {
    /// The record value of this state as a snapshot.
    pub(crate) fn value(&self) -> ShareValue {
        ShareValue {
            snapshot_epoch: self.snapshot_epoch,
            state_epoch: self.state_epoch,
            leader_epoch: self.leader_epoch,
            start_offset: self.start_offset,
            create_timestamp: self.create_timestamp,
            write_timestamp: self.write_timestamp,
            delivery_complete_count: self.delivery_complete_count,
            batches: self.batches.clone(),
        }
    }

    /// Apply an update: a start offset other than -1 replaces the SPSO; `batches` override the
    /// ranges they cover; everything below the SPSO is dropped (Kafka's
    /// `ShareCoordinatorShard.merge`).
    pub fn merge(&mut self, leader_epoch: i32, start_offset: i64, batches: &[StateBatch]) {
        self.leader_epoch = leader_epoch;
        if start_offset != -1 {
            self.start_offset = start_offset;
        }
        self.batches = merge_batches(&self.batches, batches, self.start_offset);
    }
}

/// `old` overlaid with `new` (later batches of `new` win over earlier ones), trimmed to offsets
/// `>= start`, adjacent equal batches coalesced.
pub fn merge_batches(old: &[StateBatch], new: &[StateBatch], start: i64) -> Vec<StateBatch> {
    let mut out: Vec<StateBatch> = old.to_vec();
    for n in new {
        let mut next = Vec::with_capacity(out.len() + 2);
        for b in out {
            if b.last_offset < n.first_offset || b.first_offset > n.last_offset {
                next.push(b);
                continue;
            }
            if b.first_offset < n.first_offset {
                next.push(StateBatch {
                    last_offset: n.first_offset - 1,
                    ..b
                });
            }
            if b.last_offset > n.last_offset {
                next.push(StateBatch {
                    first_offset: n.last_offset + 1,
                    ..b
                });
            }
        }
        next.push(*n);
        out = next;
    }
    out.sort_by_key(|b| b.first_offset);
    let mut merged: Vec<StateBatch> = Vec::with_capacity(out.len());
    for mut b in out {
        if b.last_offset < start {
            continue;
        }
        b.first_offset = b.first_offset.max(start);
        match merged.last_mut() {
            Some(m)
                if m.last_offset + 1 == b.first_offset
                    && m.state == b.state
                    && m.delivery_count == b.delivery_count =>
            {
                m.last_offset = b.last_offset;
            }
            _ => merged.push(b),
        }
    }
    merged
}

/// One stored share-partition state and how many updates follow its last snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub state: PersistedState,
    pub updates_since_snapshot: u32,
}

/// The share-partition states of one `__share_group_state` partition.
#[derive(Debug, Default)]
pub struct ShareStateShard {
    pub(crate) states: HashMap<ShareKey, Stored>,
    applied: usize,
}

impl ShareStateShard {
    /// An empty shard.
    pub fn new() -> Self {
        ShareStateShard::default()
    }

    /// The stored state of `key`.
    pub fn state(&self, key: &ShareKey) -> Option<&PersistedState> {
        self.states.get(key).map(|s| &s.state)
    }

    /// Share-partitions stored here.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True when nothing is stored here.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

/// Later records win: a snapshot replaces the state, an update merges into it (over an empty
/// state when no snapshot precedes it), a tombstone (of either key) deletes it. Undecodable
/// records and unknown versions are skipped with a warning, as Kafka skips them.
impl Shard for ShareStateShard {
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, _now: i64) {
        let (kind, key) = match records::decode_key(key) {
            Ok(Some(k)) => k,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "skipping undecodable __share_group_state key");
                return;
            }
        };
        self.applied += 1;
        let Some(value) = value else {
            self.states.remove(&key);
            return;
        };
        let v = match records::decode_value(kind, value) {
            Ok(Some(v)) => v,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(key = %key.coordinator_key(), error = %e, "skipping bad share state record");
                return;
            }
        };
        match kind {
            RecordKind::Snapshot => {
                let state = PersistedState {
                    snapshot_epoch: v.snapshot_epoch,
                    state_epoch: v.state_epoch,
                    leader_epoch: v.leader_epoch,
                    start_offset: v.start_offset,
                    create_timestamp: v.create_timestamp,
                    write_timestamp: v.write_timestamp,
                    delivery_complete_count: v.delivery_complete_count,
                    batches: merge_batches(&[], &v.batches, v.start_offset),
                };
                self.states.insert(
                    key,
                    Stored {
                        state,
                        updates_since_snapshot: 0,
                    },
                );
            }
            RecordKind::Update => {
                let s = self.states.entry(key).or_insert_with(|| Stored {
                    state: PersistedState {
                        delivery_complete_count: -1,
                        ..PersistedState::default()
                    },
                    updates_since_snapshot: 0,
                });
                s.state.merge(v.leader_epoch, v.start_offset, &v.batches);
                s.state.delivery_complete_count = v.delivery_complete_count;
                s.updates_since_snapshot += 1;
            }
        }
    }

    fn loaded(&mut self, _now: i64) {
        tracing::debug!(
            share_partitions = self.states.len(),
            records = self.applied,
            "share coordinator state loaded"
        );
    }
}
