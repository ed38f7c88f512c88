//! The coordinator's timers: aborting transactions past their timeout and removing expired
//! transactional ids (the broker calls [`TxnCoordinator::tick`] periodically, e.g. every
//! 100 ms; each check runs at its own configured interval).

use crate::coordinator::{Step, TxnCoordinator};
use crate::error::TxnError;
use crate::init::PRODUCER_ID_ATTEMPTS;
use crate::state::TxnState;
use crate::types::NO_PRODUCER_ID;

/// What one [`TxnCoordinator::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Transactions aborted because they exceeded their timeout.
    pub aborted: Vec<String>,
    /// Transactional ids removed because they expired.
    pub expired: Vec<String>,
}

/// A transaction identity seen by a scan, re-checked under the id's gate.
type Candidate = (String, i64, i16);

impl TxnCoordinator {
    /// Run the timers that are due: every `abort_timed_out_interval_ms` abort the transactions
    /// past their timeout, every `remove_expired_interval_ms` remove expired transactional ids.
    pub async fn tick(&self) -> TickReport {
        let now = self.now();
        let (abort_due, expire_due) = {
            let mut last = self.last_checks.lock().unwrap_or_else(|e| e.into_inner());
            let abort = now - last.0 >= self.config.abort_timed_out_interval_ms;
            let expire = now - last.1 >= self.config.remove_expired_interval_ms;
            if abort {
                last.0 = now;
            }
            if expire {
                last.1 = now;
            }
            (abort, expire)
        };
        let mut report = TickReport::default();
        if abort_due {
            report.aborted = self.abort_timed_out().await;
        }
        if expire_due {
            report.expired = self.expire_transactional_ids().await;
        }
        report
    }

    /// Abort every Ongoing transaction whose start plus timeout is past (Kafka's
    /// `abortTimedOutTransactions`): its producer is fenced (epoch bump) and a PrepareAbort is
    /// written; the marker sender completes it. Returns the aborted transactional ids.
    pub async fn abort_timed_out(&self) -> Vec<String> {
        let timed_out = |m: &crate::metadata::TxnMetadata, now: i64| {
            m.state == TxnState::Ongoing
                && m.timeout_ms != i32::MAX
                && m.start_ms.saturating_add(i64::from(m.timeout_ms)) < now
        };
        let candidates = self.candidates(|m, now| timed_out(m, now));
        let mut aborted = Vec::new();
        for (id, pid, epoch) in candidates {
            match self.abort_one(&id, pid, epoch, &timed_out).await {
                Ok(true) => {
                    tracing::info!(transactional_id = %id, producer_id = pid, epoch, "aborting a transaction that exceeded its timeout");
                    aborted.push(id);
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(transactional_id = %id, error = %e, "could not abort a timed-out transaction")
                }
            }
        }
        if !aborted.is_empty() {
            self.wakeup.notify_one();
        }
        aborted
    }

    async fn abort_one(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        timed_out: &(dyn Fn(&crate::metadata::TxnMetadata, i64) -> bool + Sync),
    ) -> Result<bool, TxnError> {
        let mut fresh = None;
        for _ in 0..PRODUCER_ID_ATTEMPTS {
            let need = self
                .step(id, |m, now| {
                    let Some(m) = m.filter(|m| {
                        m.producer_id == pid && m.producer_epoch == epoch && timed_out(m, now)
                    }) else {
                        return Ok(Step::Reply(Some(false)));
                    };
                    let next_pid = match (m.fence_needs_producer_id(), fresh) {
                        (false, _) => NO_PRODUCER_ID,
                        (true, Some(p)) => p,
                        (true, None) => return Ok(Step::Reply(None)),
                    };
                    Ok(Step::Write(
                        m.prepare_fence_abort(next_pid, now)?,
                        Some(true),
                    ))
                })
                .await?;
            match need {
                Some(done) => return Ok(done),
                None => fresh = Some(self.fresh_producer_id().await?),
            }
        }
        Ok(false)
    }

    /// Remove the transactional ids without a transaction whose last change is older than
    /// `transactional.id.expiration.ms` (a tombstone is written, then the id forgotten).
    /// Returns the removed ids.
    pub async fn expire_transactional_ids(&self) -> Vec<String> {
        let ttl = self.config.transactional_id_expiration_ms;
        let expired = move |m: &crate::metadata::TxnMetadata, now: i64| {
            m.state.expiration_allowed() && m.last_update_ms <= now.saturating_sub(ttl)
        };
        let mut removed = Vec::new();
        for (id, pid, epoch) in self.candidates(expired) {
            let r = self
                .step(&id, |m, now| match m {
                    Some(m)
                        if m.producer_id == pid && m.producer_epoch == epoch && expired(m, now) =>
                    {
                        Ok(Step::Write(m.prepare_dead()?, true))
                    }
                    _ => Ok(Step::Reply(false)),
                })
                .await;
            match r {
                Ok(true) => {
                    tracing::info!(transactional_id = %id, "transactional id expired");
                    removed.push(id);
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(transactional_id = %id, error = %e, "could not expire a transactional id")
                }
            }
        }
        removed
    }

    /// The transactions of the loaded shards for which `pick(metadata, now)` holds.
    fn candidates(
        &self,
        pick: impl Fn(&crate::metadata::TxnMetadata, i64) -> bool,
    ) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = self
            .runtime
            .scan(|_, s, now| {
                s.txns
                    .iter()
                    .filter(|(_, m)| pick(m, now))
                    .map(|(id, m)| (id.clone(), m.producer_id, m.producer_epoch))
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flat_map(|(_, v)| v)
            .collect();
        out.sort();
        out
    }
}
