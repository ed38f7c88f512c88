//! The pending transactional offsets of one shard (Kafka's `pendingTransactionalOffsets`): per
//! producer id, the offsets its open transaction committed, invisible to OffsetFetch until its
//! COMMIT marker (see `txn_offsets`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::records::OffsetValue;

/// (group, topic, partition) of a pending offset.
pub(crate) type PendingKey = (String, String, i32);

/// The offsets of open transactions of one shard, per producer id: each with its position in
/// the partition's record order ([`GroupShard::next_order`]).
#[derive(Debug, Default)]
pub(crate) struct PendingTxnOffsets {
    by_producer: HashMap<i64, BTreeMap<PendingKey, (OffsetValue, u64)>>,
}

impl PendingTxnOffsets {
    /// Stage `v` for `producer_id` (a later offset of the same transaction and partition wins).
    pub fn stage(
        &mut self,
        producer_id: i64,
        group: &str,
        k: (String, i32),
        v: OffsetValue,
        order: u64,
    ) {
        self.by_producer
            .entry(producer_id)
            .or_default()
            .insert((group.to_string(), k.0, k.1), (v, order));
    }

    /// Remove and return what `producer_id` staged.
    pub(crate) fn take(&mut self, producer_id: i64) -> BTreeMap<PendingKey, (OffsetValue, u64)> {
        self.by_producer.remove(&producer_id).unwrap_or_default()
    }

    /// Forget every producer's pending offset of one partition (an offset tombstone).
    pub fn remove_partition(&mut self, group: &str, topic: &str, partition: i32) {
        let key = (group.to_string(), topic.to_string(), partition);
        for offsets in self.by_producer.values_mut() {
            offsets.remove(&key);
        }
        self.by_producer.retain(|_, o| !o.is_empty());
    }

    /// True when some open transaction has an offset of `group` for the partition.
    pub fn contains(&self, group: &str, topic: &str, partition: i32) -> bool {
        let key = (group.to_string(), topic.to_string(), partition);
        self.by_producer.values().any(|o| o.contains_key(&key))
    }

    /// True when some open transaction has an offset of `group`.
    pub fn has_group(&self, group: &str) -> bool {
        self.by_producer
            .values()
            .any(|o| o.keys().any(|(g, _, _)| g == group))
    }

    /// The partitions of `group` with pending offsets.
    pub fn partitions_of(&self, group: &str) -> BTreeSet<(String, i32)> {
        self.by_producer
            .values()
            .flat_map(|o| o.keys())
            .filter(|(g, _, _)| g == group)
            .map(|(_, t, p)| (t.clone(), *p))
            .collect()
    }
}
