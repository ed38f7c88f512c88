//! Which groups this broker coordinates: those stored in the `__consumer_offsets` partitions it
//! leads (as in Kafka). Leadership changes load or drop a partition's groups; every group
//! request checks ownership first.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::error::ResponseError;
use weir_log::TopicPartition;

use super::{records, store, GroupCoordinator, OFFSETS_TOPIC};
use crate::broker::Broker;
use crate::error::BrokerError;

impl GroupCoordinator {
    /// Loaded partitions and the leader epoch they were loaded at.
    fn owned(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, i32>> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Broker {
    /// Align the coordinator with the metadata image: load the groups of every
    /// `__consumer_offsets` partition this broker now leads, and forget the groups of the
    /// partitions it no longer leads (their new leader loads them from its replica). A partition
    /// led again at a newer leader epoch than the one it was loaded at (lost and regained between
    /// two reconciles) is reloaded: another leader may have written to it meanwhile. Groups of
    /// partitions led elsewhere that are still in memory (created before the topic existed) are
    /// dropped too. A led partition without a local log yet is loaded by a later reconcile.
    pub(crate) fn sync_group_ownership(&self) {
        let Some(meta) = self.topics.get(OFFSETS_TOPIC) else {
            return;
        };
        let node = self.config.node_id;
        let led: BTreeMap<i32, i32> = (0..meta.partitions)
            .filter_map(|p| {
                let info = self.partition_info(OFFSETS_TOPIC, p)?;
                (info.leader == node).then_some((p, info.leader_epoch))
            })
            .collect();
        let owned = self.groups.owned().clone();
        let stale: BTreeSet<i32> = owned
            .iter()
            .filter(|&(p, e)| led.get(p) != Some(e))
            .map(|(&p, _)| p)
            .collect();
        // Unmark first, so requests see NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS and never
        // a half-dropped group.
        {
            let mut o = self.groups.owned();
            for p in &stale {
                o.remove(p);
            }
        }
        {
            let mut groups = self.groups.lock();
            let mut dropped: BTreeMap<i32, usize> = BTreeMap::new();
            groups.retain(|id, _| {
                let p = records::partition_for(id, meta.partitions);
                let keep = led.contains_key(&p) && !stale.contains(&p);
                if !keep {
                    *dropped.entry(p).or_default() += 1;
                }
                keep
            });
            for p in &stale {
                tracing::info!(
                    partition = *p,
                    groups = dropped.get(p).copied().unwrap_or(0),
                    leader_epoch = led.get(p).copied(),
                    "no longer the group coordinator for this __consumer_offsets partition \
                     (or led again at a new epoch: reloading)"
                );
            }
        }
        for (&p, &epoch) in &led {
            if owned.get(&p) == Some(&epoch) {
                continue;
            }
            if self
                .partition_log(&TopicPartition::new(OFFSETS_TOPIC, p))
                .is_none()
            {
                tracing::debug!(
                    partition = p,
                    "led __consumer_offsets partition has no local log yet"
                );
                continue;
            }
            match store::replay_partition(self, &self.groups, p) {
                Ok(_) => {
                    self.groups.owned().insert(p, epoch);
                }
                Err(e) => {
                    tracing::warn!(partition = p, error = %e, "loading groups failed; will retry")
                }
            }
        }
    }

    /// Check that this broker coordinates `group`: NOT_COORDINATOR (16) when another broker
    /// leads the group's `__consumer_offsets` partition (the client looks the coordinator up
    /// again), COORDINATOR_LOAD_IN_PROGRESS (14) while its state is being loaded. Before the
    /// topic exists every broker may answer (the first FindCoordinator creates it).
    pub fn check_coordinator(&self, group: &str) -> Result<(), BrokerError> {
        let Some(meta) = self.topics.get(OFFSETS_TOPIC) else {
            return Ok(());
        };
        let p = records::partition_for(group, meta.partitions);
        let info = self.partition_info(OFFSETS_TOPIC, p);
        let leader = info.as_ref().map(|i| i.leader);
        if leader != Some(self.config.node_id) {
            return Err(BrokerError::kafka(
                ResponseError::NotCoordinator,
                format!(
                    "broker {} is not the coordinator of group {group} (leader of {OFFSETS_TOPIC}-{p}: {leader:?})",
                    self.config.node_id
                ),
            ));
        }
        let epoch = info.map(|i| i.leader_epoch);
        if self.groups.owned().get(&p).copied() != epoch {
            return Err(BrokerError::kafka(
                ResponseError::CoordinatorLoadInProgress,
                format!("group state of {OFFSETS_TOPIC}-{p} is still loading"),
            ));
        }
        Ok(())
    }

    /// The broker coordinating `group` (the leader of its `__consumer_offsets` partition), if
    /// the topic exists and the partition has a leader.
    pub fn coordinator_of(&self, group: &str) -> Option<i32> {
        let meta = self.topics.get(OFFSETS_TOPIC)?;
        let p = records::partition_for(group, meta.partitions);
        self.partition_info(OFFSETS_TOPIC, p)
            .map(|i| i.leader)
            .filter(|&l| l >= 0)
    }
}
