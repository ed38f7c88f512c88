//! Leader elections an operator asks for (ElectLeaders): the decision is `weir_meta::election`'s,
//! committed through the metadata quorum like any admin change.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::time::Instant;
use weir_meta::election::{elect, Election, ElectionType};
use weir_meta::MetaError;

use super::topics::TopicAdmin;
use crate::error::BrokerError;

impl TopicAdmin {
    /// Elect `topic`-`partition`'s leader by `kind` and wait until the local image shows the new
    /// leader, by `deadline`. Errors as Kafka's: ELECTION_NOT_NEEDED,
    /// PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE,
    /// UNKNOWN_TOPIC_OR_PARTITION, or NOT_CONTROLLER / REQUEST_TIMED_OUT from the quorum. A
    /// proposal that loses a race with another change of the partition is recomputed from a
    /// newer image. An unclean election is logged as a warning.
    pub async fn elect_leader(
        &self,
        topic: &str,
        partition: i32,
        kind: ElectionType,
        deadline: Instant,
    ) -> Result<(), BrokerError> {
        loop {
            let mut rx = self.view.subscribe();
            let image = rx.borrow_and_update().clone();
            let (record, unclean) = match elect(&image, topic, partition, kind) {
                Election::Elect { record, unclean } => (record, unclean),
                Election::NotNeeded => {
                    return Err(BrokerError::kafka(
                        ResponseError::ElectionNotNeeded,
                        "the partition already has the leader this election would choose",
                    ))
                }
                Election::PreferredNotAvailable => {
                    return Err(BrokerError::kafka(
                        ResponseError::PreferredLeaderNotAvailable,
                        "the preferred replica is not live or not in the ISR",
                    ))
                }
                Election::NoEligibleLeader => {
                    return Err(BrokerError::kafka(
                        ResponseError::EligibleLeadersNotAvailable,
                        "no live replica can lead this partition",
                    ))
                }
                Election::Unknown => {
                    return Err(BrokerError::kafka(
                        ResponseError::UnknownTopicOrPartition,
                        format!("no partition {topic}-{partition}"),
                    ))
                }
            };
            let epoch = image
                .partition(topic, partition)
                .map_or(-1, |p| p.partition_epoch);
            let left = deadline.saturating_duration_since(Instant::now());
            match self.quorum.propose_within(vec![record], left).await {
                Ok(_) => {
                    if unclean {
                        tracing::warn!(
                            topic,
                            partition,
                            "UNCLEAN leader election: a replica outside the ISR now leads; \
                             records only the lost ISR held may be gone"
                        );
                    } else {
                        tracing::info!(topic, partition, ?kind, "leader elected on request");
                    }
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
                Err(MetaError::InvalidUpdateVersion(e)) => {
                    if Instant::now() >= deadline {
                        return Err(MetaError::InvalidUpdateVersion(e).into());
                    }
                    let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Every partition of the image, by topic (for an election over all partitions).
    pub fn all_partitions(&self) -> Vec<(String, Vec<i32>)> {
        self.view
            .image()
            .topics
            .iter()
            .map(|(name, t)| (name.clone(), (0..t.partitions.len() as i32).collect()))
            .collect()
    }
}
