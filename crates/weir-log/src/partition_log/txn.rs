//! The partition side of transactions (KIP-98): writing COMMIT/ABORT markers as the leader,
//! applying batches and markers to the producer state (leader, follower and replay alike), the
//! transaction indexes, the last stable offset and READ_COMMITTED reads.
//!
//! Crash safety of `.txnindex`: entries are appended after their marker is written, without
//! fsync; a segment's index is fsynced with the segment (roll, flush, clean shutdown) and every
//! producer snapshot is written only after everything below its offset was flushed. So when the
//! state is rebuilt from a snapshot at offset S (open, truncation), entries with a marker at or
//! above S are dropped and re-derived from the replayed markers, and entries below S are durable.

use super::{AppendResult, Inner, PartitionLog, ReadResult};
use crate::batch::{self, BatchHeader};
use crate::producer_state::CompletedTxn;
use crate::txn_index::AbortedTxn;
use crate::txn_marker::{self, EndTxnMarker, TxnMarker};
use crate::{LogError, TimestampType};

/// The last stable offset of `inner` (Kafka's `UnifiedLog.lastStableOffset`): the first unstable
/// offset when it is below the high watermark (never below the log start), else the high
/// watermark.
pub(super) fn last_stable_offset(inner: &Inner) -> i64 {
    let hw = inner.high_watermark;
    match inner.producers.first_unstable_offset(hw) {
        Some(first) if first < hw => first.max(inner.log_start_offset),
        _ => hw,
    }
}

/// Apply one stored batch (`bytes` is the whole batch, `h` its header) to the producer state
/// without the leader's checks; an ABORT marker that completes a transaction adds its entry to
/// the transaction index of the marker's segment.
pub(super) fn apply_batch(
    inner: &mut Inner,
    bytes: &[u8],
    h: &BatchHeader,
) -> Result<(), LogError> {
    if h.producer_id < 0 {
        return Ok(());
    }
    if !txn_marker::is_control(h) {
        inner.producers.replay(h);
        return Ok(());
    }
    let marker = match txn_marker::parse_marker(bytes, h) {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(()),
        Err(e) => {
            tracing::warn!(offset = h.base_offset, error = %e, "ignoring an unparsable control batch");
            return Ok(());
        }
    };
    complete(
        inner,
        h.producer_id,
        h.producer_epoch,
        marker,
        h.base_offset,
        h.max_timestamp,
    )
}

fn complete(
    inner: &mut Inner,
    producer_id: i64,
    producer_epoch: i16,
    marker: EndTxnMarker,
    offset: i64,
    timestamp: i64,
) -> Result<(), LogError> {
    let hw = inner.high_watermark;
    let completed =
        inner
            .producers
            .apply_marker(producer_id, producer_epoch, marker, offset, timestamp, hw);
    match completed {
        Some(c) if c.aborted => index_aborted(inner, &c),
        _ => Ok(()),
    }
}

fn index_aborted(inner: &mut Inner, c: &CompletedTxn) -> Result<(), LogError> {
    let entry = AbortedTxn {
        producer_id: c.producer_id,
        first_offset: c.first_offset,
        last_offset: c.last_offset,
        last_stable_offset: inner.producers.last_stable_offset_after(c),
    };
    let Some((_, seg)) = inner.segments.range_mut(..=c.last_offset).next_back() else {
        return Err(LogError::Io(std::io::Error::other(format!(
            "no segment holds the marker at offset {}",
            c.last_offset
        ))));
    };
    seg.txn_index().append(entry)
}

/// Drop the transaction-index entries whose marker is at or above `from` (before the producer
/// state is replayed from `from`, which re-derives them).
pub(super) fn truncate_txn_indexes(inner: &mut Inner, from: i64) -> Result<(), LogError> {
    let first = inner
        .segments
        .range(..=from)
        .next_back()
        .map_or(i64::MIN, |(&b, _)| b);
    for (_, seg) in inner.segments.range_mut(first..) {
        seg.txn_index().truncate_from(from)?;
    }
    Ok(())
}

impl PartitionLog {
    /// Append a COMMIT or ABORT marker for `marker.producer_id` as the leader (the partition's
    /// part of WriteTxnMarkers; Kafka's `appendAsLeader` with coordinator origin). Checks, then
    /// writes one control batch ([`crate::txn_marker::build_marker_batch`]) at the log end
    /// offset with the current leader epoch and the clock's time (LogAppendTime stamped when
    /// configured). The producer's ongoing transaction ends; an ABORT of one with data here adds
    /// `(producer id, first offset, marker offset, last stable offset)` to the active segment's
    /// `.txnindex`. A marker for a producer without an ongoing transaction here (a retry, or an
    /// abort for a producer that wrote nothing to this partition) is written all the same and
    /// completes nothing, as in Kafka.
    ///
    /// Errors: INVALID_PRODUCER_EPOCH (`InvalidProducerEpoch`) for a stale producer epoch,
    /// TRANSACTION_COORDINATOR_FENCED (`TransactionCoordinatorFenced`) for an older coordinator
    /// epoch than the producer's last marker, and the usual deleted / failed-log-dir errors.
    /// Await `durable` as for [`PartitionLog::append`] before answering.
    pub fn append_txn_marker(&self, marker: &TxnMarker) -> Result<AppendResult, LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        if self.commit.failed() {
            return Err(LogError::Io(std::io::Error::other(
                "log dir failed (a write or an fsync); refusing writes",
            )));
        }
        inner.producers.check_marker(marker)?;
        let now = self.clock.now_ms();
        let offset = inner.log_end_offset;
        let epoch = inner.epochs.last().map_or(-1, |&(e, _)| e);
        let end = EndTxnMarker {
            result: marker.result,
            coordinator_epoch: marker.coordinator_epoch,
        };
        let mut bytes = txn_marker::build_marker_batch(
            offset,
            now,
            epoch,
            marker.producer_id,
            marker.producer_epoch,
            end,
        );
        let append_time = inner.config.message_timestamp_type == TimestampType::LogAppendTime;
        if append_time {
            let len = bytes.len();
            batch::set_log_append_time(&mut bytes, len, now);
        }
        let h = BatchHeader::parse(&bytes)?;
        self.maybe_roll(&mut inner, bytes.len() as u64, offset, offset, now)
            .map_err(|e| self.dir_failed(e))?;
        let file = super::append::write_to_active_segment(&mut inner, &[&bytes], &[(0, h)])
            .map_err(|e| self.dir_failed(e))?;
        inner.log_end_offset = offset + 1;
        complete(
            &mut inner,
            marker.producer_id,
            marker.producer_epoch,
            end,
            offset,
            now,
        )?;
        let durable = self.count_unflushed(&mut inner, &file, 1);
        Ok(AppendResult {
            base_offset: offset,
            last_offset: offset,
            log_append_time: if append_time { now } else { -1 },
            log_start_offset: inner.log_start_offset,
            durable,
        })
    }

    /// The last stable offset: the first offset of the earliest transaction not yet decided
    /// (ongoing, or completed by a marker the high watermark has not passed yet), bounded by the
    /// high watermark and at least the log start offset. READ_COMMITTED consumers read below it;
    /// it is ListOffsets LATEST for READ_COMMITTED and the Fetch response's `last_stable_offset`.
    pub fn last_stable_offset(&self) -> i64 {
        last_stable_offset(&self.lock())
    }

    /// Ongoing transactions here as (producer id, first offset), by first offset.
    pub fn ongoing_transactions(&self) -> Vec<(i64, i64)> {
        self.lock().producers.ongoing_transactions()
    }

    /// The aborted transactions overlapping `[start_offset, upper_bound)` (Kafka's
    /// `collectAbortedTxns`): entries whose marker is at or after `start_offset` and whose first
    /// offset is below `upper_bound`, searching the transaction indexes from the segment holding
    /// `start_offset` on until an entry's last stable offset reaches `upper_bound`. Ordered by
    /// marker offset. For a Fetch response's `aborted_transactions` (producer id, first offset).
    pub fn collect_aborted(
        &self,
        start_offset: i64,
        upper_bound: i64,
    ) -> Result<Vec<AbortedTxn>, LogError> {
        let mut inner = self.lock();
        let first = inner
            .segments
            .range(..=start_offset)
            .next_back()
            .map_or(i64::MIN, |(&b, _)| b);
        let mut out = Vec::new();
        for (_, seg) in inner.segments.range_mut(first..) {
            let (found, complete) = seg.txn_index().collect(start_offset, upper_bound)?;
            out.extend(found);
            if complete {
                break;
            }
        }
        Ok(out)
    }

    /// A READ_COMMITTED read: whole batches from the one holding `offset`, at most `max_bytes`
    /// (at least one batch), none starting at or past the last stable offset, and the aborted
    /// transactions overlapping what was read (`collect_aborted(offset, end of the last batch
    /// read)`; empty when nothing was read).
    pub fn read_committed(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<(ReadResult, Vec<AbortedTxn>), LogError> {
        let lso = self.last_stable_offset();
        let (read, next) = self.read_bounded(offset, max_bytes, lso)?;
        let aborted = if read.records.len == 0 {
            Vec::new()
        } else {
            self.collect_aborted(offset, next)?
        };
        Ok((read, aborted))
    }
}
