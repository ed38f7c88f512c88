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
            let mut attempt = 0u32;
            loop {
                attempt += 1;
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
                if attempt == 1 {
                    tracing::warn!(partition = %tp.dir_name(), ?isr, error = %e, "AlterPartition failed");
                } else {
                    tracing::debug!(partition = %tp.dir_name(), ?isr, error = %e, attempt, "AlterPartition failed again");
                }
                let now = b.view.partition(&tp.topic, tp.partition);
                let leads = now.as_ref().is_some_and(|p| p.leader == b.settings.node_id);
                match after_failure(&e, &current, &isr, now.as_ref().filter(|_| leads)) {
                    AfterFailure::Retry if !b.is_shutting_down() => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                    AfterFailure::Retry => b.clear_isr_pending(&tp, false),
                    AfterFailure::Clear { refused } => b.clear_isr_pending(&tp, refused),
                }
                return;
            }
        });
    }
}

/// What a leader does after an AlterPartition proposing `isr` at `current` failed with `e`.
#[derive(Debug, PartialEq, Eq)]
enum AfterFailure {
    /// Propose the same change again (same partition epoch).
    Retry,
    /// Stop; `refused` when the controller certainly changed nothing and the proposed expansion
    /// must be forgotten.
    Clear { refused: bool },
}

/// A quorum error (or a controller change) may hide a commit: the same change is proposed again
/// at the same partition epoch (as Kafka's AlterPartitionManager retries) while `led_now` (the
/// image's partition, if this broker still leads it) is still at `current`'s leader and partition
/// epochs — until it commits, the controller answers that the epoch moved on (it did commit, or
/// something else did), or the image shows that anyway. Dropping it instead left a pending
/// expansion that no later fetch re-proposes: the follower stayed out of the ISR for good (found
/// by the 1,000-fault campaign of seed 20261209). A stale epoch means the image is about to show
/// the controller's ISR; only other refusals certainly changed nothing.
fn after_failure(
    e: &MetaError,
    current: &PartitionInfo,
    isr: &[i32],
    led_now: Option<&PartitionInfo>,
) -> AfterFailure {
    let ambiguous = matches!(e, MetaError::Raft(_) | MetaError::NotController(_));
    let unchanged = led_now.is_some_and(|p| {
        p.leader_epoch == current.leader_epoch && p.partition_epoch == current.partition_epoch
    });
    if ambiguous && unchanged {
        return AfterFailure::Retry;
    }
    let expands = isr.iter().any(|r| !current.isr.contains(r));
    AfterFailure::Clear {
        refused: expands && e.certainly_changed_nothing(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn part(leader_epoch: i32, partition_epoch: i32, isr: &[i32]) -> PartitionInfo {
        PartitionInfo {
            leader: 1,
            leader_epoch,
            partition_epoch,
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            ..PartitionInfo::default()
        }
    }

    #[test]
    fn an_expansion_lost_in_a_quorum_error_is_proposed_again_while_nothing_moved() {
        let current = part(4, 7, &[1, 3]);
        let timeout = MetaError::Raft("controller RPC timed out".into());
        let same = part(4, 7, &[1, 3]);
        assert_eq!(
            after_failure(&timeout, &current, &[1, 2, 3], Some(&same)),
            AfterFailure::Retry
        );
        // The image moved on (the change committed, or another did): stop, keep nothing.
        let moved = part(4, 8, &[1, 2, 3]);
        assert_eq!(
            after_failure(&timeout, &current, &[1, 2, 3], Some(&moved)),
            AfterFailure::Clear { refused: false }
        );
        // No longer the leader here.
        assert_eq!(
            after_failure(&timeout, &current, &[1, 2, 3], None),
            AfterFailure::Clear { refused: false }
        );
        // A certain refusal forgets the expansion.
        let invalid = MetaError::InvalidRequest("ISR must contain the leader".into());
        assert_eq!(
            after_failure(&invalid, &current, &[1, 2, 3], Some(&same)),
            AfterFailure::Clear { refused: true }
        );
    }
}
