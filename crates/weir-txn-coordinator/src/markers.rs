//! The second phase of a transaction: writing the markers of a PrepareCommit / PrepareAbort to
//! every partition through the broker's [`crate::MarkerWriter`], then recording
//! CompleteCommit / CompleteAbort (Kafka's `TransactionMarkerChannelManager` and its completion
//! handler). A transaction in a Prepare state *is* the queue: after EndTxn, a fence, a timeout
//! abort, or a load (failover) the marker sender finds it with
//! [`TxnCoordinator::pending_marker_jobs`], so a failover mid-transaction finishes it and never
//! leaves a partition blocked.

use std::collections::BTreeSet;

use crate::coordinator::{Step, TxnCoordinator};
use crate::error::TxnError;
use crate::io::{marker_disposition, MarkerDisposition, MarkerJob};
use crate::metadata::TxnMetadata;
use crate::state::TxnState;
use crate::types::{TopicPartition, TxnResult};

/// What [`TxnCoordinator::complete_marker_job`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerProgress {
    /// Every marker is written and the completion recorded.
    Completed,
    /// Some partitions still lack their marker (or the completion could not be written yet,
    /// `error`); the job is offered again by the next [`TxnCoordinator::pending_marker_jobs`].
    Pending {
        /// Partitions still without a marker.
        remaining: usize,
        /// Why the completion was not recorded, if it was tried.
        error: Option<TxnError>,
    },
    /// The transaction is no longer the job's (completed, moved on, or its shard unloaded).
    Stale,
    /// A leader answered TRANSACTION_COORDINATOR_FENCED: this coordinator is stale.
    Fenced,
    /// Another task is writing this transaction's markers.
    AlreadyRunning,
}

/// Removes a transactional id from the in-flight set when dropped (also on cancellation).
struct InFlight<'a> {
    coordinator: &'a TxnCoordinator,
    id: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.coordinator
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// True when `m` is still the transaction `job` is for, in the shard loaded at its epoch.
fn matches(m: &TxnMetadata, job: &MarkerJob, coordinator_epoch: i32) -> bool {
    m.producer_id == job.producer_id
        && m.producer_epoch == job.producer_epoch
        && m.state == prepare_of(job.result)
        && coordinator_epoch == job.coordinator_epoch
}

fn prepare_of(result: TxnResult) -> TxnState {
    if result.is_commit() {
        TxnState::PrepareCommit
    } else {
        TxnState::PrepareAbort
    }
}

impl TxnCoordinator {
    /// Every transaction of the loaded shards that waits for markers, with the partitions
    /// still without one (transactions whose markers are being written are left out). The
    /// broker's marker sender runs [`Self::complete_marker_job`] on each (possibly
    /// concurrently), when woken ([`Self::marker_wakeup`]) and on a retry interval.
    pub fn pending_marker_jobs(&self) -> Vec<MarkerJob> {
        let in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut jobs = Vec::new();
        self.runtime.scan(|_, s, _| {
            for (id, m) in &s.txns {
                let result = match m.state {
                    TxnState::PrepareCommit => TxnResult::Commit,
                    TxnState::PrepareAbort => TxnResult::Abort,
                    _ => continue,
                };
                if in_flight.contains(id) {
                    continue;
                }
                jobs.push(MarkerJob {
                    transactional_id: id.clone(),
                    producer_id: m.producer_id,
                    producer_epoch: m.producer_epoch,
                    result,
                    coordinator_epoch: s.coordinator_epoch,
                    transaction_version: m.client_version,
                    partitions: m.partitions.iter().cloned().collect(),
                });
            }
        });
        jobs.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        jobs
    }

    /// Write `job`'s markers through the [`crate::MarkerWriter`], forget the partitions that
    /// are done, and once none is left record CompleteCommit / CompleteAbort (transaction
    /// version 2 with an exhausted epoch: rotated to the next producer id). Safe to call for
    /// the same transaction from several tasks (one runs, the others get
    /// [`MarkerProgress::AlreadyRunning`]) and to cancel.
    pub async fn complete_marker_job(&self, job: MarkerJob) -> MarkerProgress {
        let id = job.transactional_id.clone();
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone())
        {
            return MarkerProgress::AlreadyRunning;
        }
        let _guard = InFlight {
            coordinator: self,
            id: id.clone(),
        };
        let current = self.runtime.try_read(&id, |s| {
            s.txns
                .get(&id)
                .filter(|m| matches(m, &job, s.coordinator_epoch))
                .map(|m| m.partitions.len())
        });
        let Ok(Some(Some(remaining))) = current else {
            return MarkerProgress::Stale;
        };
        if remaining > 0 && !job.partitions.is_empty() {
            let results = self.services.markers.write_markers(&job).await;
            let mut done = BTreeSet::new();
            for (tp, r) in results {
                match marker_disposition(r) {
                    MarkerDisposition::Done => {
                        done.insert(tp);
                    }
                    MarkerDisposition::Retry => {
                        tracing::debug!(transactional_id = %id, partition = %tp, result = ?r, "transaction marker not written yet; will retry");
                    }
                    MarkerDisposition::Fenced => {
                        tracing::warn!(transactional_id = %id, partition = %tp, "a newer transaction coordinator exists; stop writing markers");
                        return MarkerProgress::Fenced;
                    }
                }
            }
            let left = self.forget_done(&job, &done);
            match left {
                Some(0) => {}
                Some(n) => {
                    return MarkerProgress::Pending {
                        remaining: n,
                        error: None,
                    }
                }
                None => return MarkerProgress::Stale,
            }
        }
        self.record_completion(&job).await
    }

    /// Drop the partitions in `done` from the job's transaction (in memory: a reload resends
    /// every marker of the Prepare record, which partitions accept again); returns how many
    /// are left, None if the transaction is no longer the job's.
    fn forget_done(&self, job: &MarkerJob, done: &BTreeSet<TopicPartition>) -> Option<usize> {
        let id = &job.transactional_id;
        let left = self.runtime.try_update(id, |s, _| {
            let epoch = s.coordinator_epoch;
            let m = s.txns.get_mut(id).filter(|m| matches(m, job, epoch))?;
            m.partitions.retain(|tp| !done.contains(tp));
            Some(m.partitions.len())
        });
        left.ok().flatten().flatten()
    }

    async fn record_completion(&self, job: &MarkerJob) -> MarkerProgress {
        let id = &job.transactional_id;
        let r = self
            .step(id, |m, now| {
                let m = match m {
                    Some(m) if m.partitions.is_empty() => m,
                    Some(m) if m.state.is_prepare() => {
                        return Ok(Step::Reply(MarkerProgress::Pending {
                            remaining: m.partitions.len(),
                            error: None,
                        }))
                    }
                    _ => return Ok(Step::Reply(MarkerProgress::Stale)),
                };
                if m.producer_id != job.producer_id
                    || m.producer_epoch != job.producer_epoch
                    || m.state != prepare_of(job.result)
                {
                    return Ok(Step::Reply(MarkerProgress::Stale));
                }
                Ok(Step::Write(
                    m.prepare_complete(now)?,
                    MarkerProgress::Completed,
                ))
            })
            .await;
        match r {
            Ok(p) => {
                if p == MarkerProgress::Completed {
                    tracing::info!(transactional_id = %id, producer_id = job.producer_id, epoch = job.producer_epoch, result = ?job.result, "transaction completed");
                }
                p
            }
            Err(e) => {
                tracing::warn!(transactional_id = %id, error = %e, "could not record the transaction's completion; will retry");
                MarkerProgress::Pending {
                    remaining: 0,
                    error: Some(e),
                }
            }
        }
    }

    /// Run every pending marker job once, one after the other (a simple marker sender; the
    /// broker may instead spawn [`Self::complete_marker_job`] per job). Returns how many
    /// transactions completed.
    pub async fn run_marker_jobs(&self) -> usize {
        let mut completed = 0;
        for job in self.pending_marker_jobs() {
            if self.complete_marker_job(job).await == MarkerProgress::Completed {
                completed += 1;
            }
        }
        completed
    }
}
