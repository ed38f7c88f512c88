//! Leader appends: validating Produce batches, assigning offsets and writing them to the active
//! segment, plus the unflushed-message accounting shared with follower appends.

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;

use super::{AppendResult, Inner, PartitionLog};
use crate::batch::{self, BatchHeader, HEADER_LEN};
use crate::error::RecordError;
use crate::group_commit::DurabilityTicket;
use crate::producer_state::Check;
use crate::txn_marker;
use crate::{LogError, TimestampType};

impl PartitionLog {
    /// Validate and append one or more v2 record batches (a Produce `records` field), assigning
    /// offsets by rewriting base offsets. Nothing is stored if any batch is invalid. Control
    /// batches are refused (INVALID_RECORD; markers go through
    /// [`PartitionLog::append_txn_marker`]); a transactional batch starts its producer's
    /// transaction here unless one is ongoing, and a non-transactional batch of a producer with an
    /// ongoing transaction is `InvalidTxnState`.
    pub fn append(&self, records: &[u8]) -> Result<AppendResult, LogError> {
        self.append_from(records, false, None)
    }

    /// Start verifying a transactional write of `producer_id` at `epoch` with its transaction
    /// coordinator (KIP-890; `tv2`: transaction version 2, Produce v12+): None when its
    /// transaction at that epoch is already ongoing here, else a guard for
    /// [`PartitionLog::append_verified`].
    pub fn begin_verification(&self, producer_id: i64, epoch: i16, tv2: bool) -> Option<u64> {
        self.lock()
            .producers
            .begin_verification(producer_id, epoch, tv2)
    }

    /// [`PartitionLog::append`] of a write verified as `(producer id, guard)`: refused with
    /// `InvalidTxnState` (nothing stored) when a marker ended a transaction of that producer
    /// here after the verification began — the write belongs to a transaction that is over and
    /// must not open a new one (the hanging-transaction anomaly).
    pub fn append_verified(
        &self,
        records: &[u8],
        guard: Option<(i64, u64)>,
    ) -> Result<AppendResult, LogError> {
        self.append_from(records, false, guard)
    }

    /// [`PartitionLog::append`] for a coordinator writing its own internal topic (Kafka's
    /// `AppendOrigin.COORDINATOR`): the same validation, except that the sequence numbers of
    /// batches with a producer id are not checked (a coordinator's transactional batches carry
    /// base sequence -1) and no batch is taken for a retry. The producer epoch is still
    /// checked: an epoch older than the producer's current one is `InvalidProducerEpoch`.
    pub fn append_as_coordinator(&self, records: &[u8]) -> Result<AppendResult, LogError> {
        self.append_from(records, true, None)
    }

    fn append_from(
        &self,
        records: &[u8],
        coordinator: bool,
        guard: Option<(i64, u64)>,
    ) -> Result<AppendResult, LogError> {
        let mut inner = self.lock();
        if let Some((producer_id, g)) = guard {
            let epoch = records
                .get(51..53)
                .map_or(-1, |b| i16::from_be_bytes([b[0], b[1]]));
            if !inner.producers.verified(producer_id, epoch, g) {
                return Err(LogError::InvalidTxnState(format!(
                    "the transaction of producer {producer_id} ended in {} while this write was \
                     being verified",
                    self.tp.dir_name()
                )));
            }
        }
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        if self.commit.failed() {
            return Err(LogError::Io(std::io::Error::other(
                "log dir failed (a write or an fsync); refusing writes",
            )));
        }
        if records.is_empty() {
            return Err(LogError::InvalidRecord(
                "produce request has no record batches".into(),
            ));
        }
        let mut headers: Vec<(usize, BatchHeader)> = Vec::new();
        let mut pos = 0;
        while pos < records.len() {
            let h = batch::validate_batch(&records[pos..])?;
            if txn_marker::is_control(&h) {
                return Err(LogError::InvalidRecord(format!(
                    "Clients are not allowed to write control records in topic partition {}.",
                    self.tp.dir_name()
                )));
            }
            if h.total_len > inner.config.max_message_bytes as usize {
                return Err(LogError::MessageTooLarge {
                    size: h.total_len,
                    max: inner.config.max_message_bytes,
                });
            }
            if inner.config.cleanup_policy.compact && h.compression() == 0 {
                self.check_keys(&records[pos..pos + h.total_len], &h)?;
            }
            headers.push((pos, h));
            pos += h.total_len;
        }
        let now = self.clock.now_ms();
        let headers_len = headers.len();
        // Offsets and the leader epoch live in each batch's header, outside the CRC: only the
        // 61-byte headers are copied and patched, the bodies are written from `records` as they
        // are (the whole-batch copy cost ~8 % of the broker's produce CPU). LogAppendTime
        // rewrites a CRC-covered attribute, so it patches a copy of each whole batch.
        let append_time = inner.config.message_timestamp_type == TimestampType::LogAppendTime;
        let mut patched: Vec<Vec<u8>> = headers
            .iter()
            .map(|(off, h)| {
                let end = if append_time { h.total_len } else { HEADER_LEN };
                records[*off..*off + end].to_vec()
            })
            .collect();
        let base_offset = inner.log_end_offset;
        let mut next = base_offset;
        let epoch = inner.epochs.last().map(|&(e, _)| e);
        let mut count = 0u64;
        let mut pending = HashMap::new();
        for ((_, h), b) in headers.iter_mut().zip(patched.iter_mut()) {
            let check = if coordinator {
                inner.producers.check_coordinator(&pending, h)?
            } else {
                inner.producers.check(&pending, h)?
            };
            if let Check::Duplicate(d) = check {
                if headers_len > 1 {
                    return Err(LogError::InvalidRecord(
                        "a retried idempotent batch must be sent alone".into(),
                    ));
                }
                return Ok(self.duplicate_result(&inner, d));
            }
            batch::set_base_offset(b, next);
            if let Some(e) = epoch {
                batch::set_partition_leader_epoch(b, e);
            }
            if append_time {
                batch::set_log_append_time(b, h.total_len, now);
                h.max_timestamp = now;
            }
            h.base_offset = next;
            next = h.next_offset();
            count += h.records_count as u64;
            inner.producers.stage(&mut pending, h);
        }
        let pieces: Vec<&[u8]> = headers
            .iter()
            .zip(&patched)
            .flat_map(|((off, h), p)| [p.as_slice(), &records[*off + p.len()..*off + h.total_len]])
            .collect();
        self.maybe_roll(&mut inner, records.len() as u64, base_offset, next - 1, now)
            .map_err(|e| self.dir_failed(e))?;
        let file = write_to_active_segment(&mut inner, &pieces, &headers)
            .map_err(|e| self.dir_failed(e))?;
        inner.log_end_offset = next;
        inner.producers.commit(pending);
        let durable = self.count_unflushed(&mut inner, &file, count);
        Ok(AppendResult {
            base_offset,
            last_offset: next - 1,
            log_append_time: if append_time { now } else { -1 },
            log_start_offset: inner.log_start_offset,
            durable,
        })
    }

    /// A compacted topic refuses records without a key: the whole batch fails with
    /// INVALID_RECORD, listing the index of each keyless record (KIP-467) so that clients fail
    /// exactly those records, as Kafka's `LogValidator` does.
    fn check_keys(&self, batch: &[u8], h: &BatchHeader) -> Result<(), LogError> {
        let keyless = crate::records::keyless_record_indexes(batch, h)?;
        if keyless.is_empty() {
            return Ok(());
        }
        let message = format!(
            "Compacted topic cannot accept message without key in topic partition {}.",
            self.tp.dir_name()
        );
        let record_errors: Vec<RecordError> = keyless
            .into_iter()
            .map(|batch_index| RecordError {
                batch_index,
                message: message.clone(),
            })
            .collect();
        Err(LogError::InvalidRecords {
            message: RecordError::summary(&record_errors),
            record_errors,
        })
    }

    /// Count `records` newly written to `file`. With durable acks (`flush.messages=1`) returns
    /// the ticket to wait for; otherwise registers a flush once `flush.messages` accumulated.
    pub(super) fn count_unflushed(
        &self,
        inner: &mut Inner,
        file: &Arc<File>,
        records: u64,
    ) -> Option<DurabilityTicket> {
        inner.unflushed_messages += records;
        if inner.config.durable_acks() {
            return Some(self.commit.register(file));
        }
        if inner.unflushed_messages >= inner.config.flush_messages {
            self.commit.register(file);
            inner.unflushed_messages = 0;
        }
        None
    }
}

impl PartitionLog {
    /// An I/O error while writing takes the whole log dir offline (see
    /// [`GroupCommit::fail_writes`](crate::group_commit::GroupCommit::fail_writes)); returns `e`.
    /// Running out of file descriptors is not a disk failure: it becomes
    /// [`LogError::TooManyOpenFiles`] and the log dir stays online.
    pub(super) fn dir_failed(&self, e: LogError) -> LogError {
        if let LogError::Io(io) = &e {
            if crate::fd_cache::is_fd_exhaustion(io) {
                let io = std::io::Error::from_raw_os_error(io.raw_os_error().unwrap_or(0));
                return crate::fd_cache::open_error(&self.dir, io);
            }
            self.commit
                .fail_writes(&format!("{}: {io}", self.tp.dir_name()));
        }
        e
    }
}

/// Write whole batches (`pieces`, described by `headers`) at the end of the active segment and
/// return its file; on an error the segment is cut back to its previous end, so no partial batch
/// stays behind.
pub(super) fn write_to_active_segment(
    inner: &mut Inner,
    pieces: &[&[u8]],
    headers: &[(usize, BatchHeader)],
) -> Result<Arc<File>, LogError> {
    let interval = inner.config.index_interval_bytes;
    let (_, seg) = inner
        .segments
        .iter_mut()
        .next_back()
        .ok_or_else(|| LogError::Io(std::io::Error::other("no segment")))?;
    let size_before = seg.size();
    if let Err(e) = seg.append_pieces(pieces, headers, interval) {
        let _ = seg.truncate_bytes(size_before);
        return Err(e);
    }
    seg.log_file()
}
