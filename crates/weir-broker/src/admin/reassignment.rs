//! Partition reassignment (KIP-455) from the admin API: start or cancel one partition's
//! reassignment through the metadata log, and list the ones in progress. The controller logic
//! (`weir_meta::reassignment`) decides; replication does the moving (new replicas follow the
//! leader and join the ISR; completion hands the partition to its target replicas; removed
//! replicas delete their logs in the metadata applier).

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use weir_meta::records::PartitionInfo;
use weir_meta::{reassignment, MetaError};

use super::topics::TopicAdmin;
use crate::error::BrokerError;

/// One partition's reassignment as ListPartitionReassignments reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingReassignment {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Its current replicas (target and removing ones).
    pub info: PartitionInfo,
}

impl TopicAdmin {
    /// Start a reassignment of `topic`-`partition` to `target`, or cancel the one in progress
    /// (`target` None), and wait until the local image shows the change (a reassignment that
    /// only removes replicas may be complete by then), all by `deadline`. `allow_rf_change` =
    /// false (KIP-860) refuses a target that changes the replication factor. A proposal that
    /// loses a race with another change of the partition (an ISR change, say, or its own
    /// earlier attempt whose answer was lost) is recomputed from a newer image.
    pub async fn reassign_partition(
        &self,
        topic: &str,
        partition: i32,
        target: Option<Vec<i32>>,
        allow_rf_change: bool,
        deadline: tokio::time::Instant,
    ) -> Result<(), BrokerError> {
        loop {
            let mut rx = self.view.subscribe();
            let image = rx.borrow_and_update().clone();
            let Some(record) = reassignment::reassign(
                &image,
                topic,
                partition,
                target.as_deref(),
                allow_rf_change,
            )?
            else {
                return Ok(());
            };
            let epoch = image
                .partition(topic, partition)
                .map(|p| p.partition_epoch)
                .unwrap_or(-1);
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.quorum.propose_within(vec![record], left).await {
                Ok(_) => {
                    tracing::info!(topic, partition, ?target, "partition reassignment changed");
                    return self
                        .applier
                        .await_image_until(
                            |img| {
                                img.partition(topic, partition)
                                    .is_none_or(|p| p.partition_epoch > epoch)
                            },
                            deadline,
                        )
                        .await;
                }
                // The partition changed meanwhile (or this broker's image lags): recompute from
                // a newer image.
                Err(MetaError::InvalidUpdateVersion(e)) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(MetaError::InvalidUpdateVersion(e).into());
                    }
                    let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reassignments in progress: of every partition (`requested` None), or of the requested
    /// partitions that have one (unknown topics and partitions are skipped, as in Kafka).
    pub fn ongoing_reassignments(
        &self,
        requested: Option<&[(String, Vec<i32>)]>,
    ) -> Vec<OngoingReassignment> {
        let image = self.view.image();
        let ongoing = |topic: &str, partition: i32, info: &PartitionInfo| OngoingReassignment {
            topic: topic.to_string(),
            partition,
            info: info.clone(),
        };
        match requested {
            None => reassignment::in_progress(&image)
                .into_iter()
                .map(|(t, p, info)| ongoing(t, p, info))
                .collect(),
            Some(list) => list
                .iter()
                .flat_map(|(t, parts)| parts.iter().map(move |p| (t, *p)))
                .filter_map(|(t, p)| {
                    image
                        .partition(t, p)
                        .filter(|info| info.is_reassigning())
                        .map(|info| ongoing(t, p, info))
                })
                .collect(),
        }
    }
}

/// True for errors that fail a whole admin request rather than one partition (the metadata
/// quorum is unavailable).
pub fn is_request_level(e: &BrokerError) -> bool {
    e.code() == ResponseError::NotController.code()
        || e.code() == ResponseError::RequestTimedOut.code()
}
