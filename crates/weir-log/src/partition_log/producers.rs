//! The idempotent-producer side of [`PartitionLog`]: rebuilding the state at open and after a
//! truncation, answering retried batches, expiry.

use super::{txn, AppendResult, Inner, PartitionLog};
use crate::batch::{self, BatchHeader};
use crate::producer_state::{self, BatchMetadata};
use crate::LogError;

impl PartitionLog {
    /// Rebuild the producer state from the batch headers at and above `from` (after loading the
    /// snapshot taken at `from`).
    /// Transaction-index entries with a marker at or above `from` are dropped first and
    /// re-derived from the replayed markers.
    pub(super) fn replay_producer_state(&self, from: i64) -> Result<(), LogError> {
        txn::truncate_txn_indexes(&mut self.lock(), from)?;
        let leo = self.log_end_offset();
        let mut offset = from;
        let mut batches = 0u64;
        while offset < leo {
            let read = self.read(offset, 1 << 20, leo)?;
            let bytes = read.records.to_bytes()?;
            if bytes.is_empty() {
                break;
            }
            let mut pos = 0;
            let mut inner = self.lock();
            while pos + batch::HEADER_LEN <= bytes.len() {
                let h = BatchHeader::parse(&bytes[pos..])?;
                let Some(whole) = bytes.get(pos..pos + h.total_len) else {
                    break;
                };
                if h.last_offset() >= offset {
                    txn::apply_batch(&mut inner, whole, &h)?;
                    batches += 1;
                }
                offset = offset.max(h.next_offset());
                pos += h.total_len;
            }
        }
        if batches > 0 {
            tracing::debug!(partition = %self.tp.dir_name(), from, batches, "producer state rebuilt from the log");
        }
        Ok(())
    }

    /// The idempotent-producer state of one producer (tests, diagnostics).
    pub fn producer_entry(&self, producer_id: i64) -> Option<producer_state::ProducerEntry> {
        self.lock().producers.get(producer_id).cloned()
    }

    /// Every producer with state here, by producer id (DescribeProducers).
    pub fn producers(&self) -> Vec<(i64, producer_state::ProducerEntry)> {
        self.lock().producers.snapshot_entries()
    }

    /// Forget producers idle for `producer.id.expiration.ms`; returns how many.
    pub fn expire_producers(&self, expiration_ms: i64) -> usize {
        let now = self.clock.now_ms();
        self.lock().producers.expire(now, expiration_ms)
    }

    /// The answer to a retried idempotent batch: its original offsets, durable once the next
    /// group-commit pass (which covers the original append) completes.
    pub(super) fn duplicate_result(&self, inner: &Inner, d: BatchMetadata) -> AppendResult {
        let durable = if inner.config.durable_acks() {
            inner
                .segments
                .values()
                .next_back()
                .and_then(|s| s.log_file().ok())
                .map(|f| self.commit.register(&f))
        } else {
            None
        };
        tracing::debug!(partition = %self.tp.dir_name(), first_offset = d.first_offset, "duplicate idempotent batch: answered with its original offsets");
        AppendResult {
            base_offset: d.first_offset,
            last_offset: d.last_offset,
            log_append_time: -1,
            log_start_offset: inner.log_start_offset,
            durable,
        }
    }
}
