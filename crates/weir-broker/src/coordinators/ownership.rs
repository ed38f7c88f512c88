//! Coordinators follow leadership of their internal-topic partitions: on every applied image the
//! group coordinator loads the `__consumer_offsets` partitions this broker now leads (at their
//! leader epoch) and drops the others, as Kafka's coordinators do on election / resignation.

use std::collections::BTreeMap;

use weir_group_coordinator::{GroupCoordinator, OFFSETS_TOPIC};
use weir_meta::image::MetadataImage;

use crate::applier::CoordinatorOwnership;

/// The group coordinator, told about every applied image.
pub struct GroupOwnership {
    node_id: i32,
    groups: std::sync::Arc<GroupCoordinator>,
}

impl GroupOwnership {
    /// Ownership of `groups` for node `node_id`.
    pub fn new(node_id: i32, groups: std::sync::Arc<GroupCoordinator>) -> Self {
        GroupOwnership { node_id, groups }
    }
}

/// The partition count of `topic` and the leader epoch of each of its partitions `node` leads.
pub fn led_partitions(
    image: &MetadataImage,
    topic: &str,
    node: i32,
) -> (Option<i32>, BTreeMap<i32, i32>) {
    let Some(t) = image.topics.get(topic) else {
        return (None, BTreeMap::new());
    };
    let led = t
        .partitions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.leader == node)
        .map(|(i, p)| (i as i32, p.leader_epoch))
        .collect();
    (Some(t.partitions.len() as i32), led)
}

impl CoordinatorOwnership for GroupOwnership {
    fn on_metadata(&self, image: &MetadataImage) {
        let (partitions, led) = led_partitions(image, OFFSETS_TOPIC, self.node_id);
        self.groups.sync_ownership(partitions, &led);
    }
}
