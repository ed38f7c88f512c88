//! [`GroupTopics`]: the group coordinator's view of the broker's other topics.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_group_coordinator::{TopicView, OFFSETS_TOPIC};

use crate::metadata::view::MetadataView;

/// The topics the group coordinator may see: partition counts for KIP-848 assignors and the
/// existence check of OffsetCommit / TxnOffsetCommit.
pub struct GroupTopics {
    view: Arc<MetadataView>,
}

impl GroupTopics {
    /// Topics as `view` has them.
    pub fn new(view: Arc<MetadataView>) -> Self {
        GroupTopics { view }
    }
}

impl TopicView for GroupTopics {
    fn partition_counts(&self) -> BTreeMap<String, i32> {
        self.view.partition_counts(OFFSETS_TOPIC)
    }

    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.view
            .topic(topic)
            .is_some_and(|t| partition >= 0 && partition < t.partitions)
    }
}
