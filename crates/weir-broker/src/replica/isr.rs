//! ISR changes proposed by a partition leader (AlterPartition through the controller, never
//! decided locally) and the periodic out-of-sync check.

use std::sync::Arc;
use std::time::Duration;

use weir_log::TopicPartition;
use weir_meta::error::MetaError;
use weir_meta::records::PartitionInfo;

use super::manager::{now_ms, ReplicaManager};

impl ReplicaManager {
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
            let mut backoff = Duration::from_millis(50);
            loop {
                let r = b
                    .quorum
                    .alter_partition(
                        &tp.topic,
                        tp.partition,
                        b.settings.node_id,
                        current.leader_epoch,
                        current.partition_epoch,
                        isr.clone(),
                    )
                    .await;
                let e = match r {
                    Ok(()) => {
                        // Counted and logged at info when the applied image shows it (the applier).
                        tracing::debug!(partition = %tp.dir_name(), ?isr, "ISR change committed");
                        return;
                    }
                    Err(e) => e,
                };
                tracing::warn!(partition = %tp.dir_name(), ?isr, error = %e, "AlterPartition failed");
                // A quorum error may hide a commit: propose the same change again at the same
                // partition epoch (as Kafka's AlterPartitionManager retries) until it commits, the
                // controller answers that the epoch moved on (it did commit, or something else
                // did), or the image shows that anyway. Dropping it instead would leave a pending
                // expansion that no later fetch re-proposes: the follower would stay out of the
                // ISR for good (found by the 1,000-fault campaign of seed 20261209).
                let ambiguous = matches!(e, MetaError::Raft(_) | MetaError::NotController(_));
                let unchanged = b.view.partition(&tp.topic, tp.partition).is_some_and(|p| {
                    p.leader == b.settings.node_id
                        && p.leader_epoch == current.leader_epoch
                        && p.partition_epoch == current.partition_epoch
                });
                if ambiguous && unchanged && !b.is_shutting_down() {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
                // A stale epoch means the image is about to show the controller's ISR. Only
                // other refusals certainly changed nothing.
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
                return;
            }
        });
    }
}

/// Every `replica.lag.time.max.ms / 2` (as Kafka), remove ISR members that have not caught up
/// within `replica.lag.time.max.ms` from the partitions led here.
pub async fn shrink_loop(broker: Arc<ReplicaManager>) {
    let lag = broker.settings.replication.lag_time_max_ms;
    let period = Duration::from_millis((lag / 2).clamp(100, 15_000) as u64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if broker.is_shutting_down() {
            return;
        }
        for (tp, lagging) in broker.take_out_of_sync(now_ms()) {
            let Some(p) = broker.view.partition(&tp.topic, tp.partition) else {
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
