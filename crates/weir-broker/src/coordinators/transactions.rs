//! The broker side of the transaction coordinator: producer ids from the controller's blocks,
//! the group coordinator's partitioning for AddOffsetsToTxn, and ownership of the
//! `__transaction_state` partitions this broker leads.

use std::sync::Arc;

use weir_coordinator::{BoxFuture, CoordinatorError};
use weir_group_coordinator::GroupCoordinator;
use weir_meta::image::MetadataImage;
use weir_txn_coordinator::{
    OffsetsPartitioner, ProducerIdSource, TxnCoordinator, TRANSACTION_STATE_TOPIC,
};

use super::ownership::led_partitions;
use super::producer_ids::ProducerIdManager;
use crate::applier::CoordinatorOwnership;

impl ProducerIdSource for ProducerIdManager {
    /// A fresh id from the controller's blocks; a failed reservation is passed on with its
    /// Kafka code (e.g. REQUEST_TIMED_OUT while the quorum has no leader).
    fn next_id(&self) -> BoxFuture<'_, Result<i64, CoordinatorError>> {
        Box::pin(async move {
            ProducerIdManager::next_id(self).await.map_err(|e| {
                let code = kafka_protocol::error::ResponseError::try_from_code(e.code())
                    .unwrap_or(kafka_protocol::error::ResponseError::UnknownServerError);
                CoordinatorError::kafka(code, e.message())
            })
        })
    }
}

/// `__consumer_offsets` partitioning as the group coordinator has it.
pub struct GroupPartitioner {
    groups: Arc<GroupCoordinator>,
    configured_partitions: i32,
}

impl GroupPartitioner {
    /// Partitions of `groups`; `configured_partitions` (`offsets.topic.num.partitions`) is used
    /// while the topic does not exist yet (it is created with that many).
    pub fn new(groups: Arc<GroupCoordinator>, configured_partitions: i32) -> Self {
        GroupPartitioner {
            groups,
            configured_partitions,
        }
    }
}

impl OffsetsPartitioner for GroupPartitioner {
    fn partition_for(&self, group_id: &str) -> i32 {
        self.groups
            .coordinator_partition(group_id)
            .unwrap_or_else(|| {
                weir_coordinator::partition_for(group_id, self.configured_partitions.max(1))
            })
    }
}

/// The transaction coordinator, told about every applied image.
pub struct TxnOwnership {
    node_id: i32,
    txn: Arc<TxnCoordinator>,
}

impl TxnOwnership {
    /// Ownership of `txn` for node `node_id`.
    pub fn new(node_id: i32, txn: Arc<TxnCoordinator>) -> Self {
        TxnOwnership { node_id, txn }
    }
}

impl CoordinatorOwnership for TxnOwnership {
    fn on_metadata(&self, image: &MetadataImage) {
        let (partitions, led) = led_partitions(image, TRANSACTION_STATE_TOPIC, self.node_id);
        self.txn.sync_ownership(partitions, &led);
    }
}
