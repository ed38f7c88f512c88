//! [`GroupShard`]: the groups of one `__consumer_offsets` partition, rebuilt from its records.

use std::collections::HashMap;

use weir_coordinator::Shard;

use crate::classic::ClassicGroup;
use crate::consumer::ConsumerGroup;
use crate::group::{Group, Membership};
use crate::pending::PendingTxnOffsets;
use crate::records::{self, RecordKey};

/// The groups stored in one `__consumer_offsets` partition, by group id, and the offsets of
/// transactions not yet completed in it.
#[derive(Debug, Default)]
pub(crate) struct GroupShard {
    pub groups: HashMap<String, Group>,
    /// Transactional offsets waiting for their producer's COMMIT or ABORT marker.
    pub pending: PendingTxnOffsets,
    /// Counter of applied offset records, in the partition's record order (replay follows the
    /// log; live writes of one group are serialised by its gate, so they complete in log order).
    order: u64,
    /// Records applied by the last load (for its log line).
    applied: usize,
}

/// Rebuilds the groups and offsets of the partition: later records win; tombstones delete.
/// Records that cannot be decoded are skipped with a warning (they never came from Weir), and
/// unknown key versions (records of a newer broker) are skipped as Kafka skips them.
///
/// Offset records of transactional batches are staged per producer and applied (COMMIT) or
/// dropped (ABORT) at their producer's marker; an offset tombstone also removes the pending
/// offsets of that partition (as Kafka's `OffsetMetadataManager.replay`).
impl Shard for GroupShard {
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, now: i64) {
        self.applied += self.apply(key, value, None, now);
    }

    fn replay_transactional(
        &mut self,
        producer_id: i64,
        _producer_epoch: i16,
        key: &[u8],
        value: Option<&[u8]>,
        now: i64,
    ) {
        self.applied += self.apply(key, value, Some(producer_id), now);
    }

    fn replay_marker(&mut self, producer_id: i64, commit: bool, now: i64) {
        self.complete_txn(producer_id, commit, now);
    }

    /// Drop the groups only tombstones left behind (no members, no offsets, never joined, no
    /// pending transactional offsets).
    fn loaded(&mut self, _now: i64) {
        let pending = &self.pending;
        self.groups.retain(|id, g| {
            !(g.is_empty()
                && g.offsets.is_empty()
                && g.membership_is_blank()
                && !pending.has_group(id))
        });
        tracing::debug!(
            groups = self.groups.len(),
            records = self.applied,
            "group coordinator state loaded"
        );
    }
}

impl GroupShard {
    /// The next position in the partition's record order.
    pub(crate) fn next_order(&mut self) -> u64 {
        self.order += 1;
        self.order
    }

    /// Install a committed offset of `group` (which must exist) at the next record position.
    pub(crate) fn install_offset(
        &mut self,
        group: &str,
        k: (String, i32),
        v: records::OffsetValue,
    ) {
        let order = self.next_order();
        if let Some(g) = self.groups.get_mut(group) {
            g.offset_order.insert(k.clone(), order);
            g.offsets.insert(k, v);
        }
    }

    /// Apply one record; `txn` = the producer when it came from a transactional batch.
    fn apply(&mut self, key: &[u8], value: Option<&[u8]>, txn: Option<i64>, now: i64) -> usize {
        apply(self, key, value, txn, now)
    }
}

fn apply(
    shard: &mut GroupShard,
    key: &[u8],
    value: Option<&[u8]>,
    txn: Option<i64>,
    now: i64,
) -> usize {
    let key = match records::decode_key(key) {
        Ok(Some(k)) => k,
        Ok(None) => return 0,
        Err(e) => {
            tracing::warn!(error = %e, "skipping undecodable __consumer_offsets key");
            return 0;
        }
    };
    let id = key.group().to_string();
    let g = shard
        .groups
        .entry(id.clone())
        .or_insert_with(|| Group::new_classic(&id, now));
    match (key, value) {
        (
            RecordKey::Offset {
                topic, partition, ..
            },
            None,
        ) => {
            g.offsets.remove(&(topic.clone(), partition));
            shard.pending.remove_partition(&id, &topic, partition);
        }
        (
            RecordKey::Offset {
                topic, partition, ..
            },
            Some(v),
        ) => match (records::decode_offset(v), txn) {
            (Ok(o), None) => shard.install_offset(&id, (topic, partition), o),
            (Ok(o), Some(pid)) => {
                let order = shard.next_order();
                shard.pending.stage(pid, &id, (topic, partition), o, order);
            }
            (Err(e), _) => tracing::warn!(group = %id, error = %e, "skipping bad offset record"),
        },
        (RecordKey::ConsumerGroup { .. }, None) => {
            if matches!(g.membership, Membership::Consumer(_)) {
                g.membership = Membership::Classic(ClassicGroup::new(&id, now));
            }
        }
        (RecordKey::ConsumerGroup { .. }, Some(v)) => {
            match serde_json::from_slice::<ConsumerGroup>(v) {
                Ok(c) => g.membership = Membership::Consumer(c.restored(now)),
                Err(e) => {
                    tracing::warn!(group = %id, error = %e, "skipping bad consumer group record")
                }
            }
        }
        (RecordKey::Group { .. }, None) => {
            g.membership = Membership::Classic(ClassicGroup::new(&id, now));
        }
        (RecordKey::Group { .. }, Some(v)) => match records::decode_group(v) {
            Ok(stored) => {
                g.membership = Membership::Classic(ClassicGroup::from_stored(&id, &stored, now));
            }
            Err(e) => tracing::warn!(group = %id, error = %e, "skipping bad group record"),
        },
    }
    1
}
