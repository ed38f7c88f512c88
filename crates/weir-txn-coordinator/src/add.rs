//! AddPartitionsToTxn (the client's v0–v3 path and the leaders' batched v4+ path, KIP-890:
//! an add for a version-2 producer, or VerifyOnly for a version-1 one) and AddOffsetsToTxn.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;

use crate::coordinator::{Step, TxnCoordinator};
use crate::error::TxnError;
use crate::metadata::TxnMetadata;
use crate::state::TxnState;
use crate::types::{TopicPartition, TransactionVersion, TV2};
use crate::OFFSETS_TOPIC;

/// The checks every add and verify starts with: the id is known, the producer id is its
/// producer id (INVALID_PRODUCER_ID_MAPPING), the epoch its epoch (PRODUCER_FENCED), and no
/// transaction is completing (CONCURRENT_TRANSACTIONS).
fn check_producer(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
) -> Result<&TxnMetadata, TxnError> {
    let m = current
        .ok_or_else(|| TxnError::InvalidProducerIdMapping("unknown transactional id".into()))?;
    if m.producer_id != producer_id {
        return Err(TxnError::InvalidProducerIdMapping(format!(
            "producer id {producer_id} is not the transactional id's ({})",
            m.producer_id
        )));
    }
    if m.producer_epoch != epoch {
        return Err(TxnError::ProducerFenced(format!(
            "epoch {epoch} is not the current epoch {}",
            m.producer_epoch
        )));
    }
    if m.state.is_prepare() {
        return Err(TxnError::ConcurrentTransactions(format!(
            "the previous transaction is completing ({})",
            m.state
        )));
    }
    Ok(m)
}

/// The add decision: partitions already in an Ongoing transaction are answered at once;
/// otherwise the transaction becomes Ongoing with them. `version`: the client's transaction
/// version to record (None keeps the current one).
pub(crate) fn decide_add(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
    added: &BTreeSet<TopicPartition>,
    version: Option<TransactionVersion>,
    now: i64,
) -> Result<Step<()>, TxnError> {
    let m = check_producer(current, producer_id, epoch)?;
    if added.is_empty() || (m.state == TxnState::Ongoing && added.is_subset(&m.partitions)) {
        return Ok(Step::Reply(()));
    }
    let next = m.prepare_add_partitions(added, now, version.unwrap_or(m.client_version))?;
    Ok(Step::Write(next, ()))
}

/// The VerifyOnly decision (a partition leader checking a version-1 producer's first write to
/// a partition): per partition NONE if it is in the transaction, TRANSACTION_ABORTABLE if not.
pub(crate) fn decide_verify(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
    partitions: &[TopicPartition],
) -> Result<Vec<(TopicPartition, i16)>, TxnError> {
    let m = check_producer(current, producer_id, epoch)?;
    Ok(partitions
        .iter()
        .map(|tp| {
            let code = if m.partitions.contains(tp) {
                0
            } else {
                ResponseError::TransactionAbortable.code()
            };
            (tp.clone(), code)
        })
        .collect())
}

impl TxnCoordinator {
    /// AddPartitionsToTxn for one transaction. `verify_only` (v4+, sent by a partition leader
    /// for a version-1 producer): nothing changes, each partition is answered NONE or
    /// TRANSACTION_ABORTABLE. Otherwise (a client's v0–v3 request, or a leader adding a
    /// version-2 producer's partition, `tv2`) the partitions join the transaction (it becomes
    /// Ongoing, its timeout starts with the first partition) and every partition is answered
    /// NONE. An `Err` applies to every partition: INVALID_REQUEST, INVALID_PRODUCER_ID_MAPPING,
    /// PRODUCER_FENCED, CONCURRENT_TRANSACTIONS, INVALID_TXN_STATE, the runtime's errors.
    ///
    /// Whether the topics exist (UNKNOWN_TOPIC_OR_PARTITION, with OPERATION_NOT_ATTEMPTED for
    /// the others) and authorization are checked by the handler before.
    pub async fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[TopicPartition],
        verify_only: bool,
        tv2: bool,
    ) -> Result<Vec<(TopicPartition, i16)>, TxnError> {
        if transactional_id.is_empty() {
            return Err(TxnError::InvalidRequest("empty transactional id".into()));
        }
        if verify_only {
            return self
                .runtime
                .read(transactional_id, |s| {
                    decide_verify(s.txns.get(transactional_id), producer_id, epoch, partitions)
                })
                .await?;
        }
        let version = if tv2 { TV2 } else { 0 };
        self.add(
            transactional_id,
            producer_id,
            epoch,
            partitions,
            Some(version),
        )
        .await?;
        Ok(partitions.iter().map(|tp| (tp.clone(), 0)).collect())
    }

    /// AddOffsetsToTxn: adds the group's `__consumer_offsets` partition (from the
    /// [`crate::OffsetsPartitioner`]) to the transaction, so its TxnOffsetCommits get the
    /// transaction's marker. Errors as [`Self::add_partitions`].
    pub async fn add_offsets(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> Result<(), TxnError> {
        if transactional_id.is_empty() {
            return Err(TxnError::InvalidRequest("empty transactional id".into()));
        }
        let tp = TopicPartition::new(OFFSETS_TOPIC, self.services.offsets.partition_for(group_id));
        self.add(transactional_id, producer_id, epoch, &[tp], None)
            .await
    }

    async fn add(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[TopicPartition],
        version: Option<TransactionVersion>,
    ) -> Result<(), TxnError> {
        self.runtime.ensure(id).await?;
        let added: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        self.step(id, |m, now| {
            decide_add(m, producer_id, epoch, &added, version, now)
        })
        .await
    }
}
