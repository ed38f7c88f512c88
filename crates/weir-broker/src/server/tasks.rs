//! Background tasks of a running server: log maintenance (retention, rolling, flushing,
//! checkpoints, producer expiry) and the coordinators' timers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;
use weir_group_coordinator::GroupCoordinator;

use super::stop::stopped;
use crate::replica::manager::ReplicaManager;
use crate::share::groups::ShareGroupCoordinator;
use crate::share::manager::SharePartitionManager;

/// Upper bound of the maintenance period. `LogManager::run_maintenance` does more than
/// retention (Kafka's `log.retention.check.interval.ms`, default 5 min): it also rolls segments
/// by `segment.ms`, applies `flush.ms` and writes checkpoints, which Kafka runs on their own
/// faster schedulers. One pass every `min(log.retention.check.interval.ms, 5 s)` keeps all of
/// them timely at negligible cost.
pub const MAX_MAINTENANCE_PERIOD: Duration = Duration::from_secs(5);
/// Lower bound of the maintenance period, so a tiny configured interval cannot spin.
pub const MIN_MAINTENANCE_PERIOD: Duration = Duration::from_millis(100);

/// The maintenance period for a configured `log.retention.check.interval.ms`.
pub fn maintenance_period(retention_check_interval_ms: u64) -> Duration {
    Duration::from_millis(retention_check_interval_ms)
        .clamp(MIN_MAINTENANCE_PERIOD, MAX_MAINTENANCE_PERIOD)
}

/// Run `LogManager::run_maintenance` periodically on the blocking pool until stopped.
pub async fn maintenance_loop(
    replicas: Arc<ReplicaManager>,
    retention_check_interval_ms: u64,
    producer_expiry: i64,
    mut stop: watch::Receiver<bool>,
) {
    let period = maintenance_period(retention_check_interval_ms);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; nothing to do at start-up
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            _ = ticker.tick() => {
                let logs = replicas.logs().clone();
                match tokio::task::spawn_blocking(move || {
                    let expired = logs.expire_producers(producer_expiry);
                    if expired > 0 {
                        tracing::info!(expired, "idle idempotent producers forgotten (producer.id.expiration.ms)");
                    }
                    logs.run_maintenance()
                })
                .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => warn!(error = %e, "log maintenance failed"),
                    Err(e) => warn!(error = %e, "log maintenance task panicked"),
                }
            }
        }
    }
}

/// How often group timers (session timeouts, join deadlines) are checked.
const GROUP_TICK: Duration = Duration::from_millis(100);

/// Drive the group coordinator's timers until shutdown.
pub async fn group_timer_loop(groups: Arc<GroupCoordinator>, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(GROUP_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            _ = ticker.tick() => groups.tick().await,
        }
    }
}

/// Drive the share groups' timers until shutdown: member session expiry (releasing what an
/// expired member holds on the share-partitions led here), acquisition-lock expiry.
pub async fn share_timer_loop(
    groups: Arc<ShareGroupCoordinator>,
    share: Arc<SharePartitionManager>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(GROUP_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            _ = ticker.tick() => {
                for m in groups.tick() {
                    share.sessions().drop_member(&m.group_id, &m.member_id);
                    share.release_member(&m.group_id, &m.member_id, None).await;
                }
                share.tick().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_period_is_clamped() {
        assert_eq!(maintenance_period(300_000), Duration::from_secs(5));
        assert_eq!(maintenance_period(1_000), Duration::from_secs(1));
        assert_eq!(maintenance_period(1), Duration::from_millis(100));
    }
}
