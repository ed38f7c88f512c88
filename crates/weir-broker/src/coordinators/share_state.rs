//! The broker side of the share coordinator (KIP-932): ownership of the
//! `__share_group_state` partitions this broker leads, as for the other coordinators.

use std::sync::Arc;

use weir_meta::image::MetadataImage;
use weir_share_coordinator::{ShareStateCoordinator, SHARE_GROUP_STATE_TOPIC};

use super::ownership::led_partitions;
use crate::applier::CoordinatorOwnership;

/// The share coordinator, told about every applied image.
pub struct ShareStateOwnership {
    node_id: i32,
    state: Arc<ShareStateCoordinator>,
}

impl ShareStateOwnership {
    /// Ownership of `state` for node `node_id`.
    pub fn new(node_id: i32, state: Arc<ShareStateCoordinator>) -> Self {
        ShareStateOwnership { node_id, state }
    }
}

impl CoordinatorOwnership for ShareStateOwnership {
    fn on_metadata(&self, image: &MetadataImage) {
        let (partitions, led) = led_partitions(image, SHARE_GROUP_STATE_TOPIC, self.node_id);
        self.state.sync_ownership(partitions, &led);
    }
}
