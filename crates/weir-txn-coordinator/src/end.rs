//! EndTxn: commit or abort (Kafka's `endTransaction` for transaction version 1 and 2). The
//! PrepareCommit / PrepareAbort record is written and answered; the markers follow
//! ([`crate::markers`]).

use crate::coordinator::{Step, TxnCoordinator};
use crate::error::TxnError;
use crate::init::PRODUCER_ID_ATTEMPTS;
use crate::metadata::TxnMetadata;
use crate::state::TxnState;
use crate::types::{ProducerIdAndEpoch, TxnResult, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TV2};

/// What an EndTxn decision leads to.
pub(crate) enum EndOutcome {
    /// Answered (the producer id and epoch to return; -1/-1 for version 1).
    Done(ProducerIdAndEpoch),
    /// The Prepare record is being written: answer with this once it is, then send markers.
    Prepared(ProducerIdAndEpoch),
    /// Decide again with a fresh producer id (version 2, epoch exhausted).
    NeedProducerId,
}

fn invalid(m: &TxnMetadata, result: TxnResult) -> TxnError {
    TxnError::InvalidTxnState(format!(
        "cannot {} a transaction in state {}",
        if result.is_commit() {
            "commit"
        } else {
            "abort"
        },
        m.state
    ))
}

fn prepare_state(result: TxnResult) -> TxnState {
    if result.is_commit() {
        TxnState::PrepareCommit
    } else {
        TxnState::PrepareAbort
    }
}

const NONE: ProducerIdAndEpoch = ProducerIdAndEpoch {
    producer_id: NO_PRODUCER_ID,
    epoch: NO_PRODUCER_EPOCH,
};

/// Transaction version 1: the epoch must be the current one; a retry after completion is
/// answered NONE, during completion CONCURRENT_TRANSACTIONS.
pub(crate) fn decide_end_v1(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
    result: TxnResult,
    now: i64,
) -> Result<Step<EndOutcome>, TxnError> {
    let m = mapped(current, producer_id, false)?;
    if epoch != m.producer_epoch {
        return Err(fenced(epoch, m));
    }
    use TxnState::*;
    match (m.state, result) {
        (Ongoing, r) => {
            let next = m.prepare_end(prepare_state(r), 0, NO_PRODUCER_ID, now, false)?;
            Ok(Step::Write(next, EndOutcome::Prepared(NONE)))
        }
        (CompleteCommit, TxnResult::Commit) | (CompleteAbort, TxnResult::Abort) => {
            Ok(Step::Reply(EndOutcome::Done(NONE)))
        }
        (PrepareCommit, TxnResult::Commit) | (PrepareAbort, TxnResult::Abort) => Err(
            TxnError::ConcurrentTransactions("the transaction is completing".into()),
        ),
        _ => Err(invalid(m, result)),
    }
}

fn mapped(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    retry_on_overflow: bool,
) -> Result<&TxnMetadata, TxnError> {
    let m = current
        .ok_or_else(|| TxnError::InvalidProducerIdMapping("unknown transactional id".into()))?;
    if m.producer_id != producer_id && !retry_on_overflow {
        return Err(TxnError::InvalidProducerIdMapping(format!(
            "producer id {producer_id} is not the transactional id's ({})",
            m.producer_id
        )));
    }
    Ok(m)
}

fn fenced(epoch: i16, m: &TxnMetadata) -> TxnError {
    TxnError::ProducerFenced(format!(
        "epoch {epoch} is not valid for producer {} at epoch {} ({})",
        m.producer_id, m.producer_epoch, m.state
    ))
}

/// Transaction version 2 (EndTxn v5+, KIP-890): every end bumps the epoch and answers the
/// producer id and epoch to continue with (a new producer id at epoch 0 when the bump exhausts
/// the epoch). A retry carries the epoch before the bump; an abort is also accepted without a
/// transaction (Empty, CompleteCommit, CompleteAbort).
pub(crate) fn decide_end_v2(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
    result: TxnResult,
    fresh: Option<i64>,
    now: i64,
) -> Result<Step<EndOutcome>, TxnError> {
    let Some(meta) = current else {
        return Err(TxnError::InvalidProducerIdMapping(
            "unknown transactional id".into(),
        ));
    };
    let retry_on_overflow =
        meta.prev_producer_id == producer_id && epoch == i16::MAX - 1 && meta.producer_epoch == 0;
    let retry_on_bump = i32::from(meta.producer_epoch) == i32::from(epoch) + 1;
    let m = mapped(current, producer_id, retry_on_overflow)?;
    use TxnState::*;
    let valid_epoch = match m.state {
        Ongoing | Empty | Dead | PrepareEpochFence => epoch == m.producer_epoch,
        PrepareCommit | PrepareAbort => retry_on_bump,
        CompleteCommit | CompleteAbort => {
            retry_on_bump || retry_on_overflow || epoch == m.producer_epoch
        }
    };
    if !valid_epoch {
        return Err(fenced(epoch, m));
    }
    let is_retry = retry_on_bump || retry_on_overflow;
    let current_ids = ProducerIdAndEpoch::new(m.producer_id, m.producer_epoch);
    let end = |to: TxnState, no_partition_added: bool| -> Result<Step<EndOutcome>, TxnError> {
        let next_pid = if m.is_epoch_exhausted() {
            match fresh {
                Some(pid) => pid,
                None => return Ok(Step::Reply(EndOutcome::NeedProducerId)),
            }
        } else {
            NO_PRODUCER_ID
        };
        let next = m.prepare_end(to, TV2, next_pid, now, no_partition_added)?;
        // The client continues with what the completion will install.
        let answer = if next_pid != NO_PRODUCER_ID {
            ProducerIdAndEpoch::new(next_pid, 0)
        } else {
            ProducerIdAndEpoch::new(next.producer_id, next.producer_epoch)
        };
        Ok(Step::Write(next, EndOutcome::Prepared(answer)))
    };
    match (m.state, result) {
        (Ongoing, r) => end(prepare_state(r), false),
        (CompleteCommit, TxnResult::Commit) | (CompleteAbort, TxnResult::Abort) if is_retry => {
            Ok(Step::Reply(EndOutcome::Done(current_ids)))
        }
        (CompleteCommit | CompleteAbort | Empty, TxnResult::Abort) if !is_retry => {
            end(PrepareAbort, true)
        }
        (PrepareCommit, TxnResult::Commit) | (PrepareAbort, TxnResult::Abort) => Err(
            TxnError::ConcurrentTransactions("the transaction is completing".into()),
        ),
        _ => Err(invalid(m, result)),
    }
}

impl TxnCoordinator {
    /// EndTxn: commit or abort the transaction of `transactional_id`. The Prepare record is
    /// written, the answer given, and the markers are written afterwards by the marker sender
    /// (woken here), which then records the completion.
    ///
    /// `tv2` (EndTxn v5+): the epoch is bumped and the new producer id and epoch returned;
    /// otherwise the answer is -1/-1. Errors: INVALID_REQUEST, INVALID_PRODUCER_ID_MAPPING,
    /// PRODUCER_FENCED, CONCURRENT_TRANSACTIONS (the previous end is still completing),
    /// INVALID_TXN_STATE (e.g. commit without a transaction), the runtime's errors.
    pub async fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        result: TxnResult,
        tv2: bool,
    ) -> Result<ProducerIdAndEpoch, TxnError> {
        if transactional_id.is_empty() {
            return Err(TxnError::InvalidRequest("empty transactional id".into()));
        }
        self.runtime.ensure(transactional_id).await?;
        let mut fresh = None;
        for _ in 0..PRODUCER_ID_ATTEMPTS {
            let outcome = self
                .step(transactional_id, |m, now| {
                    if tv2 {
                        decide_end_v2(m, producer_id, epoch, result, fresh, now)
                    } else {
                        decide_end_v1(m, producer_id, epoch, result, now)
                    }
                })
                .await?;
            match outcome {
                EndOutcome::Done(ids) => return Ok(ids),
                EndOutcome::Prepared(ids) => {
                    self.wakeup.notify_one();
                    return Ok(ids);
                }
                EndOutcome::NeedProducerId => fresh = Some(self.fresh_producer_id().await?),
            }
        }
        Err(TxnError::ConcurrentTransactions(
            "the transactional id kept changing; retry".into(),
        ))
    }
}
