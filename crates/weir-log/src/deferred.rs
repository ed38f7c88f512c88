//! The background pass over segments left unchecked when the log dirs opened
//! ([`StartupVerify::FromRecoveryPoint`]; `partition_log/verify.rs` checks one partition).
//!
//! [`StartupVerify::FromRecoveryPoint`]: crate::StartupVerify::FromRecoveryPoint

use crate::{LogError, LogManager, PartitionDamage, VerifyOutcome};

/// What one [`LogManager::verify_deferred`] pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct VerifyPass {
    /// Partitions whose deferred segments all passed.
    pub partitions: usize,
    /// Segments checked.
    pub segments: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Partitions whose segments changed while being read (checked again by the next pass).
    pub retry: usize,
    /// Partitions found damaged.
    pub damaged: usize,
}

impl LogManager {
    /// One pass over the open partitions that still have unverified segments: check each
    /// (outside its lock, in partition order), calling `on_damage` for each partition found
    /// damaged (its reads of the damaged segment are then refused until
    /// [`crate::PartitionLog::repair_damage`]). Partitions opened later, or whose segments changed
    /// while read, are left to the next pass. Stops early when `stop` returns true.
    pub fn verify_deferred(
        &self,
        on_damage: &mut dyn FnMut(PartitionDamage),
        stop: &dyn Fn() -> bool,
    ) -> VerifyPass {
        let mut logs: Vec<_> = self
            .read_logs()
            .values()
            .filter(|l| l.has_unverified_segments())
            .cloned()
            .collect();
        logs.sort_by(|a, b| a.topic_partition().cmp(b.topic_partition()));
        let mut pass = VerifyPass::default();
        for log in logs {
            if stop() {
                break;
            }
            match log.verify_deferred() {
                Ok(VerifyOutcome::Nothing) => {}
                Ok(VerifyOutcome::Verified { segments, bytes }) => {
                    pass.partitions += 1;
                    pass.segments += segments;
                    pass.bytes += bytes;
                }
                Ok(VerifyOutcome::Changed) => pass.retry += 1,
                Ok(VerifyOutcome::Damaged(d)) => {
                    pass.damaged += 1;
                    on_damage(d);
                }
                Err(e) => {
                    pass.retry += 1;
                    log_failure(&log.topic_partition().dir_name(), &e);
                }
            }
        }
        pass
    }

    /// True while an open partition has segments not verified yet.
    pub fn has_unverified_segments(&self) -> bool {
        self.read_logs()
            .values()
            .any(|l| l.has_unverified_segments())
    }

    /// Open partitions with damage found at run time and not repaired yet.
    pub fn runtime_damage(&self) -> Vec<PartitionDamage> {
        let mut out: Vec<_> = self
            .read_logs()
            .values()
            .filter_map(|l| l.runtime_damage())
            .collect();
        out.sort_by(|a, b| a.tp.cmp(&b.tp));
        out
    }
}

fn log_failure(partition: &str, e: &LogError) {
    tracing::warn!(partition, error = %e, "background segment verification failed; retrying later");
}
