//! [`TxnShard`]: the transactional ids of one `__transaction_state` partition, rebuilt from
//! its records.

use std::collections::HashMap;

use weir_coordinator::Shard;

use crate::metadata::TxnMetadata;
use crate::records;
use crate::state::TxnState;

/// The transactional ids stored in one `__transaction_state` partition.
#[derive(Debug)]
pub(crate) struct TxnShard {
    /// The leader epoch this shard was loaded at (the coordinator epoch of its markers).
    pub coordinator_epoch: i32,
    /// Transactional id → its metadata.
    pub txns: HashMap<String, TxnMetadata>,
    /// Records applied by the load (for its log line).
    applied: usize,
}

impl TxnShard {
    /// An empty shard loaded at `coordinator_epoch`.
    pub fn new(coordinator_epoch: i32) -> Self {
        TxnShard {
            coordinator_epoch,
            txns: HashMap::new(),
            applied: 0,
        }
    }

    /// Make `m` the state of `id` (a Dead metadata removes it).
    pub fn install(&mut self, id: &str, m: TxnMetadata) {
        if m.state == TxnState::Dead {
            self.txns.remove(id);
        } else {
            self.txns.insert(id.to_string(), m);
        }
    }
}

/// Later records win, tombstones delete. Undecodable records are skipped with a warning, and
/// unknown key or value versions (records of a newer broker) are skipped as Kafka skips them.
/// Transactions found in PrepareCommit / PrepareAbort are completed by the marker sender
/// ([`crate::TxnCoordinator::pending_marker_jobs`]) once the shard is served.
impl Shard for TxnShard {
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, _now: i64) {
        let id = match records::decode_key(key) {
            Ok(Some(id)) => id,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "skipping undecodable __transaction_state key");
                return;
            }
        };
        self.applied += 1;
        let Some(value) = value else {
            self.txns.remove(&id);
            return;
        };
        match records::decode_value(value) {
            Ok(Some(m)) => self.install(&id, m),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(transactional_id = %id, error = %e, "skipping bad transaction record")
            }
        }
    }

    fn loaded(&mut self, _now: i64) {
        let completing = self.txns.values().filter(|m| m.state.is_prepare()).count();
        tracing::debug!(
            transactional_ids = self.txns.len(),
            completing,
            records = self.applied,
            coordinator_epoch = self.coordinator_epoch,
            "transaction coordinator state loaded"
        );
    }
}
