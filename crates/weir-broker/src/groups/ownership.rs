//! Which groups this broker coordinates: those stored in the `__consumer_offsets` partitions it
//! leads (as in Kafka). Leadership changes load or drop a partition's groups; every group
//! request checks ownership first.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;

use super::{records, store, GroupCoordinator, OFFSETS_TOPIC};
use crate::broker::Broker;
use crate::error::BrokerError;

impl GroupCoordinator {
    fn owned(&self) -> std::sync::MutexGuard<'_, BTreeSet<i32>> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Broker {
    /// Align the coordinator with the metadata image: load the groups of every
    /// `__consumer_offsets` partition this broker now leads, and forget the groups of the
    /// partitions it no longer leads (their new leader loads them from its replica).
    pub(crate) fn sync_group_ownership(&self) {
        let Some(meta) = self.topics.get(OFFSETS_TOPIC) else {
            return;
        };
        let node = self.config.node_id;
        let led: BTreeSet<i32> = (0..meta.partitions)
            .filter(|&p| {
                self.partition_info(OFFSETS_TOPIC, p)
                    .is_some_and(|i| i.leader == node)
            })
            .collect();
        let owned = self.groups.owned().clone();
        for &p in owned.difference(&led) {
            let mut groups = self.groups.lock();
            let before = groups.len();
            groups.retain(|id, _| records::partition_for(id, meta.partitions) != p);
            tracing::info!(
                partition = p,
                groups = before - groups.len(),
                "no longer the group coordinator for this __consumer_offsets partition"
            );
            drop(groups);
            self.groups.owned().remove(&p);
        }
        for &p in led.difference(&owned) {
            match store::replay_partition(self, &self.groups, p) {
                Ok(_) => {
                    self.groups.owned().insert(p);
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
        let leader = self.partition_info(OFFSETS_TOPIC, p).map(|i| i.leader);
        if leader != Some(self.config.node_id) {
            return Err(BrokerError::kafka(
                ResponseError::NotCoordinator,
                format!(
                    "broker {} is not the coordinator of group {group} (leader of {OFFSETS_TOPIC}-{p}: {leader:?})",
                    self.config.node_id
                ),
            ));
        }
        if !self.groups.owned().contains(&p) {
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
