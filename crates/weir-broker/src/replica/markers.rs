//! Transaction markers as the partition leader writes them (the partition's side of
//! WriteTxnMarkers): the same leadership and ISR checks as any append, acks=all.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use weir_log::txn_marker::TxnMarker;
use weir_log::TopicPartition;

use super::append::Appended;
use super::manager::ReplicaManager;
use crate::error::BrokerError;

impl ReplicaManager {
    /// Append `marker` to `tp` as its leader (acks=all, `min.insync.replicas` of the topic) and
    /// wait until it is durable here and on the ISR (at most `timeout`). Errors with Kafka's
    /// codes: UNKNOWN_TOPIC_OR_PARTITION / NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS (nothing
    /// written), the log's INVALID_PRODUCER_EPOCH / TRANSACTION_COORDINATOR_FENCED, and
    /// REQUEST_TIMED_OUT / NOT_ENOUGH_REPLICAS_AFTER_APPEND (written, not yet as durable as
    /// asked: the coordinator retries, a second marker completes nothing).
    pub async fn append_marker(
        &self,
        tp: &TopicPartition,
        marker: &TxnMarker,
        timeout: Duration,
    ) -> Result<(), BrokerError> {
        let (topic, partition) = (tp.topic.as_str(), tp.partition);
        let log = self.require_log(topic, partition)?;
        let leader_epoch = self.view.check_leader(topic, partition, -1)?;
        let min_isr = self
            .view
            .min_insync_override(topic)
            .unwrap_or_else(|| self.default_min_insync())
            .max(1) as usize;
        let isr = self
            .view
            .partition(topic, partition)
            .map(|p| p.isr)
            .unwrap_or_default();
        if isr.len() < min_isr {
            return Err(BrokerError::kafka(
                ResponseError::NotEnoughReplicas,
                format!(
                    "the ISR {isr:?} of {topic}-{partition} is below min.insync.replicas {min_isr}"
                ),
            ));
        }
        let res = log.append_txn_marker(marker)?;
        self.notify_new_appends();
        let appended = Appended {
            log,
            res,
            leader_epoch,
            min_isr,
            acks: -1,
        };
        self.await_durable(&appended).await?;
        self.await_acks(&appended, timeout).await
    }
}
