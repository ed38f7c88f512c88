//! ISR changes proposed by a partition leader (AlterPartition through the controller, never
//! decided locally), the periodic out-of-sync check, and controlled shutdown.

use std::sync::Arc;
use std::time::Duration;

use weir_log::TopicPartition;
use weir_meta::error::MetaError;
use weir_meta::records::PartitionInfo;

use super::now_ms;
use crate::broker::Broker;

impl Broker {
    /// Propose `isr` for a led partition (AlterPartition at the partition epoch of `current`);
    /// the controller rejects it if leadership or the partition moved on meanwhile.
    pub(crate) fn spawn_alter_isr(
        self: &Arc<Self>,
        tp: TopicPartition,
        current: PartitionInfo,
        isr: Vec<i32>,
    ) {
        let b = self.clone();
        tokio::spawn(async move {
            let r = b
                .meta
                .alter_partition(
                    &tp.topic,
                    tp.partition,
                    b.config.node_id,
                    current.leader_epoch,
                    current.partition_epoch,
                    isr.clone(),
                )
                .await;
            match r {
                Ok(()) => {
                    tracing::info!(partition = %tp.dir_name(), ?isr, "ISR change committed");
                }
                Err(e) => {
                    tracing::warn!(partition = %tp.dir_name(), ?isr, error = %e, "AlterPartition failed");
                    // A quorum error may hide a commit; a stale epoch means the image is about to
                    // show the controller's ISR. Only other refusals certainly changed nothing.
                    let expands = isr.iter().any(|r| !current.isr.contains(r));
                    let refused = expands
                        && !matches!(
                            e,
                            MetaError::Raft(_)
                                | MetaError::NotController(_)
                                | MetaError::InvalidUpdateVersion(_)
                                | MetaError::FencedLeaderEpoch(_)
                        );
                    b.clear_isr_pending(&tp, refused);
                }
            }
        });
    }
}

/// Every `replica.lag.time.max.ms / 2` (as Kafka), remove ISR members that have not caught up
/// within `replica.lag.time.max.ms` from the partitions led here.
pub async fn shrink_loop(broker: Arc<Broker>) {
    let lag = broker.config.replication.lag_time_max_ms;
    let period = Duration::from_millis((lag / 2).clamp(100, 15_000) as u64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if broker.is_shutting_down() {
            return;
        }
        for (tp, lagging) in broker.take_out_of_sync(now_ms()) {
            let Some(p) = broker.partition_info(&tp.topic, tp.partition) else {
                broker.clear_isr_pending(&tp, false);
                continue;
            };
            let isr: Vec<i32> = p
                .isr
                .iter()
                .copied()
                .filter(|r| !lagging.contains(r))
                .collect();
            tracing::warn!(partition = %tp.dir_name(), ?lagging, ?isr, lag_ms = lag, "followers fell out of sync: shrinking the ISR");
            broker.spawn_alter_isr(tp, p, isr);
        }
    }
}

/// How long a controlled shutdown waits for leadership to move.
const CONTROLLED_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl Broker {
    /// Controlled shutdown (`controlled.shutdown.enable`): when another broker is alive, stop
    /// heartbeating and have the controller fence this broker, which moves every leadership it
    /// holds to another ISR member and takes it out of every ISR, then wait (bounded) until the
    /// applied metadata shows that. Clients get NOT_LEADER_OR_FOLLOWER, refresh metadata and
    /// carry on with the new leaders instead of timing out against a dead one.
    pub async fn controlled_shutdown(&self) {
        if !self.config.replication.controlled_shutdown || !self.is_broker() {
            return;
        }
        let node = self.config.node_id;
        let image = self.meta.image();
        let others = image.brokers.values().any(|b| b.id != node && !b.fenced);
        let leads_replicated = image.topics.values().any(|t| {
            t.partitions
                .iter()
                .any(|p| p.leader == node && p.replicas.len() > 1)
        });
        if !others || !leads_replicated {
            return;
        }
        self.set_leaving();
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + CONTROLLED_SHUTDOWN_TIMEOUT;
        let moved_away = |img: &weir_meta::image::MetadataImage| {
            img.topics.values().all(|t| {
                t.partitions
                    .iter()
                    .all(|p| p.leader != node || p.replicas.len() == 1)
            })
        };
        let moved = tokio::time::timeout_at(deadline, async {
            loop {
                let image = self.meta.image();
                if moved_away(&image) {
                    return Ok(());
                }
                let records = weir_meta::controller::fence(&image, node);
                if let Err(e) = self.meta.propose(records).await {
                    tracing::warn!(error = %e, "controlled shutdown: fencing failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                return self.await_image(moved_away).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            Err(crate::error::BrokerError::kafka(
                kafka_protocol::error::ResponseError::RequestTimedOut,
                "timed out waiting for the controller",
            ))
        });
        match moved {
            Ok(()) => tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "controlled shutdown: leadership moved to other brokers"
            ),
            Err(e) => tracing::warn!(error = %e, "controlled shutdown: leadership did not move"),
        }
    }
}
