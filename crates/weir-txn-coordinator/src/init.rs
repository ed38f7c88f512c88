//! InitProducerId: a producer id and epoch for a transactional id (Kafka's
//! `handleInitProducerId` / `prepareInitProducerIdTransit`), with KIP-360's expected producer
//! id and epoch, epoch exhaustion (a new producer id) and the fencing of an ongoing
//! transaction.

use crate::coordinator::{Step, TxnCoordinator};
use crate::error::TxnError;
use crate::metadata::TxnMetadata;
use crate::state::TxnState;
use crate::types::{
    is_epoch_exhausted, ProducerIdAndEpoch, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TV2,
};

/// How many times an operation is decided again after fetching a producer id it found it
/// needs (the state may change between the two).
pub(crate) const PRODUCER_ID_ATTEMPTS: usize = 3;

/// What an InitProducerId decision leads to.
pub(crate) enum InitOutcome {
    /// The client's producer id and epoch.
    Ready(ProducerIdAndEpoch),
    /// The ongoing transaction is being aborted: CONCURRENT_TRANSACTIONS (the client retries).
    Fenced,
    /// Decide again with a fresh producer id.
    NeedProducerId,
}

/// KIP-360: the expected producer id is acceptable when the id has no epoch yet, when it is
/// the current producer id, or when it is the previous one at an exhausted epoch (a retry of a
/// rotation whose answer was lost).
fn expected_is_valid(m: &TxnMetadata, e: ProducerIdAndEpoch) -> bool {
    m.producer_epoch == NO_PRODUCER_EPOCH
        || e.producer_id == m.producer_id
        || (e.producer_id == m.prev_producer_id && is_epoch_exhausted(e.epoch))
}

/// The InitProducerId decision on `current` (None: unknown transactional id); `fresh` is a
/// producer id fetched for this decision, if any.
pub(crate) fn decide_init(
    current: Option<&TxnMetadata>,
    timeout_ms: i32,
    expected: Option<ProducerIdAndEpoch>,
    tv2: bool,
    fresh: Option<i64>,
    now: i64,
) -> Result<Step<InitOutcome>, TxnError> {
    let created;
    let m = match (current, fresh) {
        (Some(m), _) => m,
        (None, Some(pid)) => {
            created = TxnMetadata::new_empty(pid, timeout_ms, now);
            &created
        }
        (None, None) => return Ok(Step::Reply(InitOutcome::NeedProducerId)),
    };
    if let Some(e) = expected {
        if !expected_is_valid(m, e) {
            return Err(TxnError::ProducerFenced(format!(
                "producer {}/{} is not the producer of this transactional id ({}/{})",
                e.producer_id, e.epoch, m.producer_id, m.producer_epoch
            )));
        }
    }
    match m.state {
        TxnState::PrepareCommit | TxnState::PrepareAbort => Err(TxnError::ConcurrentTransactions(
            format!("the previous transaction is completing ({})", m.state),
        )),
        TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
            let rotate =
                m.is_epoch_exhausted() && expected.is_none_or(|e| e.epoch == m.producer_epoch);
            let mut next = if rotate {
                let Some(pid) = fresh else {
                    return Ok(Step::Reply(InitOutcome::NeedProducerId));
                };
                m.prepare_rotation(pid, timeout_ms, now, expected.is_some())?
            } else {
                m.prepare_increment_epoch(timeout_ms, expected.map(|e| e.epoch), now)?
            };
            next.client_version = if tv2 { TV2 } else { 0 };
            let answer = ProducerIdAndEpoch::new(next.producer_id, next.producer_epoch);
            Ok(Step::Write(next, InitOutcome::Ready(answer)))
        }
        TxnState::Ongoing => {
            // Fence the current producer and abort its transaction; the client retries and
            // then gets a new epoch (or, if the fence exhausted it, a new producer id).
            let next_pid = if m.fence_needs_producer_id() {
                match fresh {
                    Some(pid) => pid,
                    None => return Ok(Step::Reply(InitOutcome::NeedProducerId)),
                }
            } else {
                NO_PRODUCER_ID
            };
            Ok(Step::Write(
                m.prepare_fence_abort(next_pid, now)?,
                InitOutcome::Fenced,
            ))
        }
        TxnState::Dead | TxnState::PrepareEpochFence => Err(TxnError::Internal(format!(
            "transactional id in state {}",
            m.state
        ))),
    }
}

impl TxnCoordinator {
    /// InitProducerId for a transactional producer: `timeout_ms` its transaction timeout,
    /// `expected` the producer id and epoch it had (KIP-360, InitProducerId v3+; None for a new
    /// producer), `tv2` whether it uses transaction version 2 (it sends EndTxn v5+).
    ///
    /// A new transactional id gets a new producer id at epoch 0; a known one gets its epoch
    /// bumped (fencing older producers), or a new producer id when the epoch is exhausted. An
    /// ongoing transaction is aborted first (its producer fenced) and the answer is
    /// CONCURRENT_TRANSACTIONS, as while the previous transaction completes. Errors:
    /// INVALID_REQUEST (empty id), INVALID_TRANSACTION_TIMEOUT, PRODUCER_FENCED (an expected
    /// producer that is not this id's), the runtime's NOT_COORDINATOR /
    /// COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE, the producer-id source's.
    pub async fn init_producer_id(
        &self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<ProducerIdAndEpoch>,
        tv2: bool,
    ) -> Result<ProducerIdAndEpoch, TxnError> {
        if transactional_id.is_empty() {
            return Err(TxnError::InvalidRequest("empty transactional id".into()));
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout {
                timeout_ms,
                max_ms: self.config.max_timeout_ms,
            });
        }
        self.runtime.ensure(transactional_id).await?;
        let mut fresh = None;
        for _ in 0..PRODUCER_ID_ATTEMPTS {
            let outcome = self
                .step(transactional_id, |m, now| {
                    decide_init(m, timeout_ms, expected, tv2, fresh, now)
                })
                .await?;
            match outcome {
                InitOutcome::Ready(p) => {
                    tracing::info!(
                        transactional_id,
                        producer_id = p.producer_id,
                        epoch = p.epoch,
                        "initialized transactional producer"
                    );
                    return Ok(p);
                }
                InitOutcome::Fenced => {
                    self.wakeup.notify_one();
                    return Err(TxnError::ConcurrentTransactions(
                        "aborting the ongoing transaction of the previous producer".into(),
                    ));
                }
                InitOutcome::NeedProducerId => fresh = Some(self.fresh_producer_id().await?),
            }
        }
        Err(TxnError::ConcurrentTransactions(
            "the transactional id kept changing; retry".into(),
        ))
    }

    /// InitProducerId without a transactional id (an idempotent producer): a new producer id
    /// at epoch 0, straight from the producer-id source (no state is kept).
    pub async fn init_idempotent_producer(&self) -> Result<ProducerIdAndEpoch, TxnError> {
        Ok(ProducerIdAndEpoch::new(self.fresh_producer_id().await?, 0))
    }
}
