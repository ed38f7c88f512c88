//! [`TxnMetadata`]: the state of one transactional id, and its transitions (Kafka's
//! `TransactionMetadata.prepare*`), sans-IO: each `prepare_*` checks the transition and returns
//! the next metadata; the coordinator persists it and only then installs it.

use std::collections::BTreeSet;

use crate::error::TxnError;
use crate::state::TxnState;
use crate::types::{
    is_epoch_exhausted, supports_epoch_bump, TopicPartition, TransactionVersion, NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
};

/// The state of one transactional id, as persisted in `__transaction_state` (plus the
/// in-memory `last_producer_epoch`, which Kafka does not persist either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// Producer id in use.
    pub producer_id: i64,
    /// The producer id before the last transition (differs from `producer_id` after a
    /// rotation; lets a client retry an InitProducerId whose answer it lost).
    pub prev_producer_id: i64,
    /// The producer id the transaction rotates to when it completes (transaction version 2,
    /// epoch exhausted), else -1.
    pub next_producer_id: i64,
    /// Current producer epoch.
    pub producer_epoch: i16,
    /// The epoch before the last bump, for retried InitProducerId (KIP-360); -1 when unknown
    /// (not persisted: -1 after a load).
    pub last_producer_epoch: i16,
    /// Transaction timeout.
    pub timeout_ms: i32,
    /// State.
    pub state: TxnState,
    /// Partitions in the transaction (while markers are written: those still without one).
    pub partitions: BTreeSet<TopicPartition>,
    /// When the transaction started (first partition added), -1 if none.
    pub start_ms: i64,
    /// When the metadata last changed (drives transactional-id expiry).
    pub last_update_ms: i64,
    /// The client's transaction version at the last transition.
    pub client_version: TransactionVersion,
}

impl TxnMetadata {
    /// The metadata of a transactional id seen for the first time (not persisted until the
    /// first epoch is assigned by [`TxnMetadata::prepare_increment_epoch`]).
    pub fn new_empty(producer_id: i64, timeout_ms: i32, now: i64) -> Self {
        TxnMetadata {
            producer_id,
            prev_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now,
            client_version: 0,
        }
    }

    /// True when this producer id has no epoch left for clients.
    pub fn is_epoch_exhausted(&self) -> bool {
        is_epoch_exhausted(self.producer_epoch)
    }

    /// Kafka's `prepareTransitionTo`: check `self.state -> to`, copy, record the previous
    /// producer id, apply `f`, check the result's producer id and epoch.
    fn transit(
        &self,
        to: TxnState,
        f: impl FnOnce(&mut TxnMetadata),
    ) -> Result<TxnMetadata, TxnError> {
        if !self.state.can_transition_to(to) {
            return Err(TxnError::InvalidTxnState(format!(
                "cannot go from {} to {to}",
                self.state
            )));
        }
        let mut next = self.clone();
        next.prev_producer_id = self.producer_id;
        next.state = to;
        f(&mut next);
        if next.producer_id < 0 {
            return Err(TxnError::Internal(format!(
                "illegal producer id {}",
                next.producer_id
            )));
        }
        if to != TxnState::Dead && next.producer_epoch < 0 {
            return Err(TxnError::Internal(format!(
                "illegal producer epoch {}",
                next.producer_epoch
            )));
        }
        Ok(next)
    }

    /// InitProducerId on a transactional id without a transaction: bump the epoch (Kafka's
    /// `prepareIncrementProducerEpoch`, with KIP-360's `expected_epoch`): no expected epoch
    /// bumps and forgets the last epoch; the current epoch (or none yet) bumps and remembers it;
    /// the last epoch is a retry of a bump already done (no new bump); anything else is
    /// PRODUCER_FENCED.
    pub fn prepare_increment_epoch(
        &self,
        timeout_ms: i32,
        expected_epoch: Option<i16>,
        now: i64,
    ) -> Result<TxnMetadata, TxnError> {
        let bump = |e: i16| -> Result<i16, TxnError> {
            if is_epoch_exhausted(e) {
                return Err(TxnError::Internal(format!(
                    "no epoch left for producer id {}",
                    self.producer_id
                )));
            }
            Ok(e + 1)
        };
        let (epoch, last) = match expected_epoch {
            None => (bump(self.producer_epoch)?, NO_PRODUCER_EPOCH),
            Some(x) if self.producer_epoch == NO_PRODUCER_EPOCH || x == self.producer_epoch => {
                (bump(self.producer_epoch)?, self.producer_epoch)
            }
            Some(x) if x == self.last_producer_epoch => {
                (self.producer_epoch, self.last_producer_epoch)
            }
            Some(x) => {
                return Err(TxnError::ProducerFenced(format!(
                    "expected epoch {x} is neither the current epoch {} nor the last one {}",
                    self.producer_epoch, self.last_producer_epoch
                )))
            }
        };
        self.transit(TxnState::Empty, |m| {
            m.producer_epoch = epoch;
            m.last_producer_epoch = last;
            m.timeout_ms = timeout_ms;
            m.partitions.clear();
            m.start_ms = -1;
            m.last_update_ms = now;
        })
    }

    /// InitProducerId when the epoch is exhausted: continue with `new_producer_id` at epoch 0
    /// (Kafka's `prepareProducerIdRotation`); `record_last_epoch` keeps the old epoch so a
    /// KIP-360 retry of this very call is recognised.
    pub fn prepare_rotation(
        &self,
        new_producer_id: i64,
        timeout_ms: i32,
        now: i64,
        record_last_epoch: bool,
    ) -> Result<TxnMetadata, TxnError> {
        let last = if record_last_epoch {
            self.producer_epoch
        } else {
            NO_PRODUCER_EPOCH
        };
        self.transit(TxnState::Empty, |m| {
            m.producer_id = new_producer_id;
            m.producer_epoch = 0;
            m.last_producer_epoch = last;
            m.timeout_ms = timeout_ms;
            m.partitions.clear();
            m.start_ms = -1;
            m.last_update_ms = now;
        })
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: Ongoing with the union of the partitions; the
    /// transaction starts now unless it was already running.
    pub fn prepare_add_partitions(
        &self,
        added: &BTreeSet<TopicPartition>,
        now: i64,
        client_version: TransactionVersion,
    ) -> Result<TxnMetadata, TxnError> {
        let starts = matches!(
            self.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        );
        self.transit(TxnState::Ongoing, |m| {
            m.partitions.extend(added.iter().cloned());
            if starts {
                m.start_ms = now;
            }
            m.last_update_ms = now;
            m.client_version = client_version;
        })
    }

    /// EndTxn: PrepareCommit / PrepareAbort (Kafka's `prepareAbortOrCommit`). Transaction
    /// version 2 bumps the epoch (the markers carry an epoch above every record of the
    /// transaction) and, when that exhausts it, names the producer id the transaction rotates to
    /// on completion (`next_producer_id`, else -1). `no_partition_added`: a version-2 abort of a
    /// transaction without partitions (its start time becomes now).
    pub fn prepare_end(
        &self,
        to: TxnState,
        client_version: TransactionVersion,
        next_producer_id: i64,
        now: i64,
        no_partition_added: bool,
    ) -> Result<TxnMetadata, TxnError> {
        if !to.is_prepare() {
            return Err(TxnError::Internal(format!(
                "{to} does not end a transaction"
            )));
        }
        let (epoch, last) = if supports_epoch_bump(client_version) {
            let bumped = self.producer_epoch.checked_add(1).ok_or_else(|| {
                TxnError::Internal(format!(
                    "epoch of producer id {} would overflow",
                    self.producer_id
                ))
            })?;
            (bumped, self.producer_epoch)
        } else {
            (self.producer_epoch, self.last_producer_epoch)
        };
        self.transit(to, |m| {
            m.producer_epoch = epoch;
            m.last_producer_epoch = last;
            if no_partition_added {
                m.start_ms = now;
            }
            m.next_producer_id = next_producer_id;
            m.last_update_ms = now;
            m.client_version = client_version;
        })
    }

    /// The epoch a fence moves to: one above the current (two with transaction version 2:
    /// the fence, then the end's own bump, as Kafka's epoch fence followed by a version-2
    /// abort), never above `i16::MAX`.
    pub fn fence_epoch(&self) -> i16 {
        let bump = if supports_epoch_bump(self.client_version) {
            2
        } else {
            1
        };
        (i32::from(self.producer_epoch) + bump).min(i32::from(i16::MAX)) as i16
    }

    /// True when fencing needs a new producer id to rotate to at completion (version 2 and the
    /// fence epoch is exhausted).
    pub fn fence_needs_producer_id(&self) -> bool {
        supports_epoch_bump(self.client_version) && is_epoch_exhausted(self.fence_epoch())
    }

    /// Fence the producer of an Ongoing transaction and abort it (a second InitProducerId, or
    /// the transaction timed out): Ongoing → PrepareEpochFence → PrepareAbort at
    /// [`TxnMetadata::fence_epoch`]. PrepareEpochFence is never persisted: the abort is.
    /// `next_producer_id`: see [`TxnMetadata::fence_needs_producer_id`] (else -1).
    pub fn prepare_fence_abort(
        &self,
        next_producer_id: i64,
        now: i64,
    ) -> Result<TxnMetadata, TxnError> {
        if self.producer_epoch == i16::MAX {
            return Err(TxnError::Internal(format!(
                "cannot fence producer id {} at epoch {}",
                self.producer_id,
                i16::MAX
            )));
        }
        let fenced = self.transit(TxnState::PrepareEpochFence, |m| {
            m.producer_epoch = self.fence_epoch();
            m.last_producer_epoch = NO_PRODUCER_EPOCH;
        })?;
        let mut abort = fenced.transit(TxnState::PrepareAbort, |m| {
            m.next_producer_id = next_producer_id;
            m.last_update_ms = now;
        })?;
        abort.prev_producer_id = self.producer_id;
        Ok(abort)
    }

    /// Every marker is written: CompleteCommit / CompleteAbort (Kafka's `prepareComplete`),
    /// rotating to `next_producer_id` at epoch 0 when a version-2 end exhausted the epoch.
    pub fn prepare_complete(&self, now: i64) -> Result<TxnMetadata, TxnError> {
        let to = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            s => {
                return Err(TxnError::InvalidTxnState(format!(
                    "cannot complete from {s}"
                )))
            }
        };
        let rotate =
            supports_epoch_bump(self.client_version) && self.next_producer_id != NO_PRODUCER_ID;
        self.transit(to, |m| {
            if rotate {
                m.producer_id = self.next_producer_id;
                m.producer_epoch = 0;
            }
            m.next_producer_id = NO_PRODUCER_ID;
            m.partitions.clear();
            m.last_update_ms = now;
        })
    }

    /// The transactional id expires (a tombstone is written; the metadata is then dropped).
    pub fn prepare_dead(&self) -> Result<TxnMetadata, TxnError> {
        self.transit(TxnState::Dead, |m| m.partitions.clear())
    }
}
