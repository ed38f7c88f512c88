//! [`TxnCoordinator`]: the runtime of `__transaction_state` with the transaction shards, the
//! coordinator's settings and the broker's services; ownership, coordinator checks, and the
//! one "decide, persist, install" step every operation is made of.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use weir_coordinator::{
    Clock, CoordinatorError, CoordinatorRuntime, OwnershipChange, PartitionReader, PartitionWriter,
    Record,
};

use crate::config::TransactionConfig;
use crate::error::TxnError;
use crate::io::{MarkerWriter, OffsetsPartitioner, ProducerIdSource};
use crate::metadata::TxnMetadata;
use crate::records;
use crate::shard::TxnShard;
use crate::state::TxnState;
use crate::TRANSACTION_STATE_TOPIC;

/// The broker services the coordinator calls (besides the runtime's storage).
#[derive(Clone)]
pub struct TxnServices {
    /// Producer ids for new transactional ids and rotations.
    pub producer_ids: Arc<dyn ProducerIdSource>,
    /// Writes transaction markers.
    pub markers: Arc<dyn MarkerWriter>,
    /// The `__consumer_offsets` partition of a group (AddOffsetsToTxn).
    pub offsets: Arc<dyn OffsetsPartitioner>,
}

impl std::fmt::Debug for TxnServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnServices").finish_non_exhaustive()
    }
}

/// What a decision does: persist new metadata (then answer), or answer without a write.
pub(crate) enum Step<T> {
    /// Write this metadata (a Dead one as a tombstone), install it, then answer `T`.
    Write(TxnMetadata, T),
    /// Answer `T`; nothing changes.
    Reply(T),
}

/// The coordinator of every transactional id whose `__transaction_state` partition this
/// broker leads (Kafka's `TransactionCoordinator` + `TransactionStateManager`).
pub struct TxnCoordinator {
    pub(crate) runtime: CoordinatorRuntime<TxnShard>,
    pub(crate) config: TransactionConfig,
    pub(crate) services: TxnServices,
    /// The led partitions of the last sync (the epoch a shard is loaded at is read from here).
    led: Arc<Mutex<BTreeMap<i32, i32>>>,
    /// Transactional ids whose markers are being written right now.
    pub(crate) in_flight: Mutex<HashSet<String>>,
    /// Woken when a transaction needs markers.
    pub(crate) wakeup: Arc<tokio::sync::Notify>,
    /// When the timers last ran: (abort check, expiry check).
    pub(crate) last_checks: Mutex<(i64, i64)>,
}

impl std::fmt::Debug for TxnCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnCoordinator")
            .field("owned", &self.runtime.owned())
            .finish_non_exhaustive()
    }
}

impl TxnCoordinator {
    /// A coordinator that coordinates nothing until [`Self::sync_ownership`] says which
    /// `__transaction_state` partitions this broker leads. `writer` appends to (and creates)
    /// `__transaction_state`, `reader` replays its partitions.
    pub fn new(
        config: TransactionConfig,
        writer: Arc<dyn PartitionWriter>,
        reader: Arc<dyn PartitionReader>,
        clock: Arc<dyn Clock>,
        services: TxnServices,
    ) -> Self {
        let led: Arc<Mutex<BTreeMap<i32, i32>>> = Arc::default();
        let epochs = led.clone();
        let new_shard = move |p: i32| {
            let epoch = epochs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&p)
                .copied()
                .unwrap_or(-1);
            TxnShard::new(epoch)
        };
        let now = clock.now_ms();
        TxnCoordinator {
            runtime: CoordinatorRuntime::new(
                TRANSACTION_STATE_TOPIC,
                writer,
                reader,
                clock,
                Box::new(new_shard),
            ),
            config,
            services,
            led,
            in_flight: Mutex::default(),
            wakeup: Arc::default(),
            last_checks: Mutex::new((now, now)),
        }
    }

    /// The coordinator's settings.
    pub fn config(&self) -> &TransactionConfig {
        &self.config
    }

    /// Current time from the injected clock.
    pub fn now(&self) -> i64 {
        self.runtime.now()
    }

    /// Align the coordinator with the metadata (called by the broker's metadata applier, one
    /// call at a time): `partitions` = the partition count of `__transaction_state` (None =
    /// absent), `led` = the partitions this broker leads with their leader epoch. Loads every
    /// newly led partition by replay (transactions found in PrepareCommit / PrepareAbort are
    /// completed by the marker sender, which is woken) and forgets the partitions no longer led.
    pub fn sync_ownership(
        &self,
        partitions: Option<i32>,
        led: &BTreeMap<i32, i32>,
    ) -> OwnershipChange {
        *self.led.lock().unwrap_or_else(|e| e.into_inner()) = led.clone();
        let change = self.runtime.sync_ownership(partitions, led);
        if !change.loaded.is_empty() {
            self.wakeup.notify_one();
        }
        change
    }

    /// The partitions this broker coordinates (leads and has loaded), with their leader epoch.
    pub fn owned(&self) -> BTreeMap<i32, i32> {
        self.runtime.owned()
    }

    /// Led partitions whose state is not loaded yet (ListTransactions answers
    /// COORDINATOR_LOAD_IN_PROGRESS while there are any).
    pub fn loading(&self) -> Vec<i32> {
        let owned = self.runtime.owned();
        let n = self.runtime.partitions().unwrap_or(0);
        self.led
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(p, e)| (0..n).contains(*p) && owned.get(p) != Some(e))
            .map(|(&p, _)| p)
            .collect()
    }

    /// Check that this broker coordinates `transactional_id`: NOT_COORDINATOR when it does not
    /// lead its partition, COORDINATOR_LOAD_IN_PROGRESS while loading it; Ok before the topic
    /// exists (the first InitProducerId creates it).
    pub fn check_coordinator(&self, transactional_id: &str) -> Result<(), CoordinatorError> {
        if self.runtime.partition_of(transactional_id).is_none() {
            return Ok(());
        }
        self.runtime.check(transactional_id).map(|_| ())
    }

    /// The `__transaction_state` partition of `transactional_id` (FindCoordinator names its
    /// leader); None while the topic does not exist.
    pub fn coordinator_partition(&self, transactional_id: &str) -> Option<i32> {
        self.runtime.partition_of(transactional_id)
    }

    /// Create `__transaction_state` if it does not exist yet (FindCoordinator(transaction)
    /// does, as Kafka); returns its partition count.
    pub async fn ensure_topic(&self) -> Result<i32, CoordinatorError> {
        self.runtime.ensure_topic().await
    }

    /// Woken whenever a transaction needs markers (after EndTxn, a fence, a timeout abort, a
    /// load): the broker's marker sender waits on it (and on a retry interval).
    pub fn marker_wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.wakeup.clone()
    }

    /// A producer id for `decide` when it asks for one.
    pub(crate) async fn fresh_producer_id(&self) -> Result<i64, TxnError> {
        Ok(self.services.producer_ids.next_id().await?)
    }

    /// One operation on `id`: under its gate, `decide` sees its metadata (None if unknown) and
    /// now; a [`Step::Write`] is persisted and only then installed (a failed write is
    /// answered with its mapped error and changes nothing).
    pub(crate) async fn step<T: Send>(
        &self,
        id: &str,
        decide: impl FnOnce(Option<&TxnMetadata>, i64) -> Result<Step<T>, TxnError> + Send,
    ) -> Result<T, TxnError> {
        let out = self
            .runtime
            .write(
                id,
                |s: &mut TxnShard, now| {
                    let d = decide(s.txns.get(id), now);
                    let records = match &d {
                        Ok(Step::Write(m, _)) => vec![record(id, m)],
                        _ => Vec::new(),
                    };
                    Ok((records, d))
                },
                |shard, written, d| match d? {
                    Step::Reply(t) => Ok(t),
                    Step::Write(m, t) => {
                        written?;
                        if let Some(s) = shard {
                            s.install(id, m);
                        }
                        Ok(t)
                    }
                },
            )
            .await;
        out?
    }
}

/// The `__transaction_state` record of `m` for `id` (a tombstone when Dead).
pub(crate) fn record(id: &str, m: &TxnMetadata) -> Record {
    Record {
        key: records::encode_key(id),
        value: (m.state != TxnState::Dead).then(|| records::encode_value(m)),
    }
}
