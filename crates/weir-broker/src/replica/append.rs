//! The one append path of a partition leader, for clients (Produce) and internal writers (the
//! coordinators' compacted topics) alike: check leadership and the request, append, wait until
//! the leader's copy is durable (which counts it toward the high watermark), then — for
//! acks=all — wait until the ISR has it.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use weir_log::{AppendResult, PartitionLog, TopicPartition};

use super::manager::ReplicaManager;
use crate::error::BrokerError;

/// Who appends, and what they asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A Produce request: `acks` ∈ {-1, 0, 1}; from `produce_version` 3 on the records must be
    /// exactly one batch (Kafka's rule).
    Client {
        /// The request's `acks`.
        acks: i16,
        /// The Produce API version.
        produce_version: i16,
    },
    /// A coordinator writing its internal topic: always acks=all with a required ISR of one
    /// (Kafka's `offsets.commit.required.acks=-1`).
    Coordinator,
}

impl AppendOrigin {
    fn acks(self) -> i16 {
        match self {
            AppendOrigin::Client { acks, .. } => acks,
            AppendOrigin::Coordinator => -1,
        }
    }
}

/// An append that is in the log but not yet known durable or replicated.
#[derive(Debug)]
pub struct Appended {
    /// The partition's log.
    pub log: Arc<PartitionLog>,
    /// Where the batch went.
    pub res: AppendResult,
    /// The leader epoch the append happened in.
    pub leader_epoch: i32,
    /// The ISR size acks=all requires.
    pub min_isr: usize,
    pub(super) acks: i16,
}

impl Appended {
    /// True while acks=all must still wait for the ISR (the append is not yet below the high
    /// watermark).
    pub fn needs_replication_wait(&self) -> bool {
        self.acks == -1 && self.log.high_watermark() <= self.res.last_offset
    }
}

impl ReplicaManager {
    /// Append `records` to `tp` as its leader. Errors, with Kafka's codes and nothing appended:
    /// INVALID_REQUIRED_ACKS (21), UNKNOWN_TOPIC_OR_PARTITION (3) / NOT_LEADER_OR_FOLLOWER (6),
    /// INVALID_RECORD (87) for a v3+ produce that is not exactly one batch, NOT_ENOUGH_REPLICAS
    /// (19) for acks=all with an ISR below `min.insync.replicas`, and the log's own refusals
    /// (CORRUPT_MESSAGE, OUT_OF_ORDER_SEQUENCE_NUMBER, …). Wakes follower fetches.
    pub fn append(
        &self,
        tp: &TopicPartition,
        records: &[u8],
        origin: AppendOrigin,
    ) -> Result<Appended, BrokerError> {
        self.append_verified(tp, records, origin, None)
    }

    /// [`ReplicaManager::append`] of a transactional write verified with its coordinator as
    /// `(producer id, guard)` (`PartitionLog::begin_verification`): INVALID_TXN_STATE, nothing
    /// appended, when the producer's transaction ended here after the verification began.
    pub fn append_verified(
        &self,
        tp: &TopicPartition,
        records: &[u8],
        origin: AppendOrigin,
        guard: Option<(i64, u64)>,
    ) -> Result<Appended, BrokerError> {
        let (topic, partition) = (tp.topic.as_str(), tp.partition);
        let acks = origin.acks();
        if !matches!(acks, -1..=1) {
            return Err(BrokerError::kafka(
                ResponseError::InvalidRequiredAcks,
                format!("acks must be -1, 0 or 1, got {acks}"),
            ));
        }
        let log = self.require_log(topic, partition)?;
        let leader_epoch = self.view.check_leader(topic, partition, -1)?;
        // The metadata applier starts a new leader epoch in the log (durably) after the image
        // naming this broker leader is visible; until then an append would carry the previous
        // epoch into the new one's offsets. Retriable: the client refreshes and retries.
        if log.latest_epoch().is_none_or(|e| e < leader_epoch) {
            return Err(BrokerError::kafka(
                ResponseError::NotLeaderOrFollower,
                format!(
                    "leader epoch {leader_epoch} of {topic}-{partition} is not started on this broker yet"
                ),
            ));
        }
        let min_isr = match origin {
            AppendOrigin::Client {
                produce_version, ..
            } => {
                if produce_version >= 3 {
                    check_single_batch(records)?;
                }
                self.view
                    .min_insync_override(topic)
                    .unwrap_or_else(|| self.default_min_insync())
                    .max(1) as usize
            }
            // The internal topic's own min.insync.replicas (e.g. transaction.state.log.min.isr),
            // else one: the offsets topic's acks=all with the broker default, as Kafka.
            AppendOrigin::Coordinator => {
                self.view.min_insync_override(topic).unwrap_or(1).max(1) as usize
            }
        };
        if acks == -1 {
            let isr = self
                .view
                .partition(topic, partition)
                .map(|p| p.isr)
                .unwrap_or_default();
            if isr.len() < min_isr {
                return Err(BrokerError::kafka(
                    ResponseError::NotEnoughReplicas,
                    format!(
                        "The size of the current ISR {isr:?} is insufficient to satisfy the min.isr \
                         requirement of {min_isr} for partition {topic}-{partition}"
                    ),
                ));
            }
        }
        let res = match origin {
            AppendOrigin::Client { .. } => log.append_verified(records, guard)?,
            // Coordinators' transactional batches carry base sequence -1: the log checks only
            // their producer epoch (Kafka's AppendOrigin.COORDINATOR).
            AppendOrigin::Coordinator => log.append_as_coordinator(records)?,
        };
        self.notify_new_appends();
        Ok(Appended {
            log,
            res,
            leader_epoch,
            min_isr,
            acks,
        })
    }

    /// Wait until the leader's copy of `a` is durable (one group-commit pass covers every
    /// concurrent append), then count it toward the high watermark.
    pub async fn await_durable(&self, a: &Appended) -> Result<(), BrokerError> {
        if let Some(ticket) = a.res.durable {
            self.logs.wait_durable_async(ticket).await?;
        }
        self.on_local_durable(&a.log, a.res.last_offset + 1);
        Ok(())
    }

    /// After [`ReplicaManager::await_durable`]: for acks=all, wait (at most `timeout`) until the
    /// ISR has the append; see [`ReplicaManager::await_replication`] for the errors. Appends that
    /// need no wait are answered by [`ReplicaManager::acks_done`].
    pub async fn await_acks(&self, a: &Appended, timeout: Duration) -> Result<(), BrokerError> {
        if !a.needs_replication_wait() {
            return self.acks_done(a);
        }
        self.await_replication(
            &a.log,
            a.res.last_offset + 1,
            a.leader_epoch,
            a.min_isr,
            timeout,
        )
        .await
    }

    /// The answer for an append that needs no replication wait: acks 0/1 succeed; an acks=all
    /// append already below the high watermark (a single-replica ISR, a retried batch) gets
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is below `min.insync.replicas`.
    pub fn acks_done(&self, a: &Appended) -> Result<(), BrokerError> {
        if a.acks != -1 {
            return Ok(());
        }
        self.check_min_isr_after_append(&a.log, a.min_isr)
    }

    /// Wait (acks=all) until the high watermark passes `required` while this broker still leads
    /// the partition at `leader_epoch`. Errors: NOT_LEADER_OR_FOLLOWER when leadership moved
    /// (or the broker is stopping), REQUEST_TIMED_OUT after `timeout`, and
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the data is committed but the ISR has shrunk below
    /// `min_isr` (Kafka's answer: written, but not as durably as asked).
    pub async fn await_replication(
        &self,
        log: &PartitionLog,
        required: i64,
        leader_epoch: i32,
        min_isr: usize,
        timeout: Duration,
    ) -> Result<(), BrokerError> {
        let tp = log.topic_partition().clone();
        let mut data = self.subscribe_new_data();
        let mut meta = self.view.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            data.borrow_and_update();
            meta.borrow_and_update();
            let p = self.view.partition(&tp.topic, tp.partition);
            let leads = p.as_ref().is_some_and(|p| {
                p.leader == self.settings.node_id && p.leader_epoch == leader_epoch
            });
            if !leads {
                return Err(BrokerError::kafka(
                    ResponseError::NotLeaderOrFollower,
                    format!(
                        "leadership of {} moved before the write was replicated",
                        tp.dir_name()
                    ),
                ));
            }
            // The current log object: the partition may have moved to another log dir
            // (AlterReplicaLogDirs) since the append, and only the new one advances.
            let hw = self
                .logs
                .get(&tp)
                .map_or(log.high_watermark(), |l| l.high_watermark())
                .max(log.high_watermark());
            if hw >= required {
                return self.check_min_isr_after_append(log, min_isr);
            }
            tokio::select! {
                r = data.changed() => { if r.is_err() { break; } }
                r = meta.changed() => { if r.is_err() { break; } }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        Err(BrokerError::kafka(
            ResponseError::RequestTimedOut,
            format!(
                "{} was not replicated to every in-sync replica within {} ms",
                tp.dir_name(),
                timeout.as_millis()
            ),
        ))
    }

    /// For an acks=all write that is already below the high watermark:
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is smaller than `min_isr`.
    fn check_min_isr_after_append(
        &self,
        log: &PartitionLog,
        min_isr: usize,
    ) -> Result<(), BrokerError> {
        let tp = log.topic_partition();
        let isr = self
            .view
            .partition(&tp.topic, tp.partition)
            .map(|p| p.isr.len())
            .unwrap_or(0);
        if isr < min_isr {
            return Err(BrokerError::kafka(
                ResponseError::NotEnoughReplicasAfterAppend,
                format!(
                    "the ISR of {} shrank to {isr}, below min.insync.replicas={min_isr}, after the \
                     write was appended",
                    tp.dir_name()
                ),
            ));
        }
        Ok(())
    }
}

/// Kafka (produce v3+) requires exactly one record batch per partition.
fn check_single_batch(records: &[u8]) -> Result<(), BrokerError> {
    const LOG_OVERHEAD: usize = 12; // base offset (8) + batch length (4)
    let invalid = |why: &str| {
        BrokerError::kafka(
            ResponseError::InvalidRecord,
            format!(
                "Produce requests with version 3+ must contain exactly one record batch: {why}"
            ),
        )
    };
    let Some(len_bytes) = records.get(8..LOG_OVERHEAD) else {
        return Err(invalid("no record batch"));
    };
    let mut len = [0u8; 4];
    len.copy_from_slice(len_bytes);
    let batch_len = i32::from_be_bytes(len);
    let total = usize::try_from(batch_len)
        .ok()
        .and_then(|l| l.checked_add(LOG_OVERHEAD))
        .ok_or_else(|| invalid("negative batch length"))?;
    if total < records.len() {
        return Err(invalid("more than one batch"));
    }
    // A shorter-than-declared batch is left to the log's validation (CORRUPT_MESSAGE).
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(len_field: i32, total: usize) -> Vec<u8> {
        let mut v = vec![0u8; total];
        v[8..12].copy_from_slice(&len_field.to_be_bytes());
        v
    }

    #[test]
    fn single_batch_rule() {
        assert!(check_single_batch(&batch(49, 61)).is_ok());
        let two = [batch(49, 61), batch(49, 61)].concat();
        assert_eq!(
            check_single_batch(&two).unwrap_err().code(),
            ResponseError::InvalidRecord.code()
        );
        assert!(check_single_batch(&[]).is_err());
        assert!(check_single_batch(&batch(-5, 61)).is_err());
    }
}
