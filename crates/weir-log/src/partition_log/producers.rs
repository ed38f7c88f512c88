//! The idempotent-producer side of [`PartitionLog`]: rebuilding the state at open and after a
//! truncation, answering retried batches, expiry.

use super::{txn, AppendResult, Inner, PartitionLog};
use std::os::unix::fs::FileExt;

use crate::batch::BatchHeader;
use crate::producer_state::{self, BatchMetadata};
use crate::LogError;

impl PartitionLog {
    /// Rebuild the producer state from the batch headers at and above `from` (after loading the
    /// snapshot taken at `from`).
    /// Transaction-index entries with a marker at or above `from` are dropped first and
    /// re-derived from the replayed markers.
    pub(super) fn replay_producer_state(&self, from: i64) -> Result<(), LogError> {
        let mut inner = self.lock();
        self.replay_producer_state_locked(&mut inner, from)
    }

    /// [`PartitionLog::replay_producer_state`] under the caller's lock: a truncation rebuilds the
    /// state without releasing the lock in between, so no append, roll (which snapshots the
    /// state) or clean shutdown sees the state of the snapshot alone, which lacks the batches
    /// between the snapshot and the log end (the shape bug N needs: a retry of such a batch
    /// would be taken for new data).
    pub(super) fn replay_producer_state_locked(
        &self,
        inner: &mut Inner,
        from: i64,
    ) -> Result<(), LogError> {
        txn::truncate_txn_indexes(inner, from)?;
        // Only batch headers are read (61 bytes each), and the few control batches whole: a start
        // after a crash replays from the last producer snapshot, which may be gigabytes back.
        let leo = inner.log_end_offset;
        let first = inner.segments.range(..=from).next_back().map(|(&b, _)| b);
        let bases: Vec<i64> = inner
            .segments
            .range(first.unwrap_or(from)..)
            .map(|(&b, _)| b)
            .collect();
        let mut found: Vec<(BatchHeader, Vec<u8>)> = Vec::new();
        for (k, b) in bases.into_iter().enumerate() {
            let Some(seg) = inner.segments.get_mut(&b) else {
                continue;
            };
            let mut pos = if k == 0 {
                match seg.find(from)? {
                    Some(loc) => loc.position,
                    None => continue,
                }
            } else {
                0
            };
            while let Some(h) = seg.header_at(pos)? {
                if pos + h.total_len as u64 > seg.size() || h.base_offset >= leo {
                    break;
                }
                if h.last_offset() >= from && h.producer_id >= 0 {
                    let mut whole = Vec::new();
                    if crate::txn_marker::is_control(&h) {
                        whole = vec![0u8; h.total_len];
                        seg.log_file()?.read_exact_at(&mut whole, pos)?;
                    }
                    found.push((h, whole));
                }
                pos += h.total_len as u64;
            }
        }
        let batches = found.len();
        for (h, whole) in &found {
            txn::apply_batch(inner, whole, h)?;
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
