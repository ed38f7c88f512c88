//! [`GroupShard`]: the groups of one `__consumer_offsets` partition, rebuilt from its records.

use std::collections::HashMap;

use weir_coordinator::Shard;

use crate::classic::ClassicGroup;
use crate::consumer::ConsumerGroup;
use crate::group::{Group, Membership};
use crate::records::{self, RecordKey};

/// The groups stored in one `__consumer_offsets` partition, by group id.
#[derive(Debug, Default)]
pub(crate) struct GroupShard {
    pub groups: HashMap<String, Group>,
    /// Records applied by the last load (for its log line).
    applied: usize,
}

/// Rebuilds the groups and offsets of the partition: later records win; tombstones delete.
/// Records that cannot be decoded are skipped with a warning (they never came from Weir), and
/// unknown key versions (records of a newer broker) are skipped as Kafka skips them.
impl Shard for GroupShard {
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, now: i64) {
        self.applied += apply(&mut self.groups, key, value, now);
    }

    /// Drop the groups only tombstones left behind (no members, no offsets, never joined).
    fn loaded(&mut self, _now: i64) {
        self.groups
            .retain(|_, g| !(g.is_empty() && g.offsets.is_empty() && g.membership_is_blank()));
        tracing::info!(
            groups = self.groups.len(),
            records = self.applied,
            "group coordinator state loaded"
        );
    }
}

fn apply(groups: &mut HashMap<String, Group>, key: &[u8], value: Option<&[u8]>, now: i64) -> usize {
    let key = match records::decode_key(key) {
        Ok(Some(k)) => k,
        Ok(None) => return 0,
        Err(e) => {
            tracing::warn!(error = %e, "skipping undecodable __consumer_offsets key");
            return 0;
        }
    };
    let id = key.group().to_string();
    let g = groups
        .entry(id.clone())
        .or_insert_with(|| Group::new_classic(&id, now));
    match (key, value) {
        (
            RecordKey::Offset {
                topic, partition, ..
            },
            None,
        ) => {
            g.offsets.remove(&(topic, partition));
        }
        (
            RecordKey::Offset {
                topic, partition, ..
            },
            Some(v),
        ) => match records::decode_offset(v) {
            Ok(o) => {
                g.offsets.insert((topic, partition), o);
            }
            Err(e) => tracing::warn!(group = %id, error = %e, "skipping bad offset record"),
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
