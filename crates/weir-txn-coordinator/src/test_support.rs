//! Fakes and helpers for the coordinator's tests: an in-memory `__transaction_state`, a manual
//! clock, a counting producer-id source and a scriptable marker writer.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use weir_coordinator::testing::MemoryLog;

use crate::*;

pub(crate) const N: i32 = 5;
pub(crate) const START: i64 = 1_000_000;
pub(crate) const FIRST_PID: i64 = 1000;

/// Hands out 1000, 1001, …; fails while `failing`.
#[derive(Default)]
pub(crate) struct Pids {
    next: AtomicI64,
    pub failing: AtomicBool,
}

impl ProducerIdSource for Pids {
    fn next_id(&self) -> BoxFuture<'_, Result<i64, CoordinatorError>> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                return Err(CoordinatorError::LoadInProgress(
                    "no producer id block yet".into(),
                ));
            }
            Ok(FIRST_PID + self.next.fetch_add(1, Ordering::SeqCst))
        })
    }
}

/// Records every job; answers Written unless a result is scripted for the partition.
#[derive(Default)]
pub(crate) struct Markers {
    pub jobs: Mutex<Vec<MarkerJob>>,
    pub script: Mutex<HashMap<TopicPartition, VecDeque<MarkerResult>>>,
}

impl Markers {
    pub fn answer(&self, tp: &TopicPartition, r: MarkerResult) {
        self.script
            .lock()
            .unwrap()
            .entry(tp.clone())
            .or_default()
            .push_back(r);
    }

    pub fn jobs(&self) -> Vec<MarkerJob> {
        self.jobs.lock().unwrap().clone()
    }
}

impl MarkerWriter for Markers {
    fn write_markers<'a>(
        &'a self,
        job: &'a MarkerJob,
    ) -> BoxFuture<'a, Vec<(TopicPartition, MarkerResult)>> {
        Box::pin(async move {
            self.jobs.lock().unwrap().push(job.clone());
            let mut script = self.script.lock().unwrap();
            job.partitions
                .iter()
                .map(|tp| {
                    let r = script
                        .get_mut(tp)
                        .and_then(|q| q.pop_front())
                        .unwrap_or(MarkerResult::Written);
                    (tp.clone(), r)
                })
                .collect()
        })
    }
}

pub(crate) struct Groups;

impl OffsetsPartitioner for Groups {
    fn partition_for(&self, group_id: &str) -> i32 {
        partition_for(group_id, 50)
    }
}

pub(crate) fn config() -> TransactionConfig {
    TransactionConfig {
        abort_timed_out_interval_ms: 1_000,
        remove_expired_interval_ms: 1_000,
        transactional_id_expiration_ms: 60_000,
        ..TransactionConfig::default()
    }
}

/// One coordinator on a shared log, with its fakes.
pub(crate) struct Env {
    pub log: Arc<MemoryLog>,
    pub clock: Arc<ManualClock>,
    pub pids: Arc<Pids>,
    pub markers: Arc<Markers>,
    pub c: TxnCoordinator,
}

pub(crate) fn all(epoch: i32) -> BTreeMap<i32, i32> {
    (0..N).map(|p| (p, epoch)).collect()
}

impl Env {
    /// A coordinator leading every partition of an existing topic at epoch 0.
    pub fn new() -> Env {
        let log = Arc::new(MemoryLog::with_topic(N));
        Env::on(
            log,
            Arc::new(ManualClock::new(START)),
            Arc::new(Pids::default()),
            0,
        )
    }

    /// Another coordinator on `log` leading every partition at `epoch` (a failover).
    pub fn on(log: Arc<MemoryLog>, clock: Arc<ManualClock>, pids: Arc<Pids>, epoch: i32) -> Env {
        let markers = Arc::new(Markers::default());
        let c = TxnCoordinator::new(
            config(),
            log.clone(),
            log.clone(),
            clock.clone(),
            TxnServices {
                producer_ids: pids.clone(),
                markers: markers.clone(),
                offsets: Arc::new(Groups),
            },
        );
        for p in 0..N {
            log.set_epoch(p, epoch);
        }
        c.sync_ownership(Some(N), &all(epoch));
        Env {
            log,
            clock,
            pids,
            markers,
            c,
        }
    }

    /// The failover of this coordinator's partitions to a new one at `epoch`.
    pub fn failover(&self, epoch: i32) -> Env {
        self.c.sync_ownership(Some(N), &BTreeMap::new());
        Env::on(
            self.log.clone(),
            self.clock.clone(),
            self.pids.clone(),
            epoch,
        )
    }

    pub fn state(&self, id: &str) -> TransactionDescription {
        self.c.describe(id).unwrap()
    }

    /// The last metadata written for `id` (None: never, or a tombstone).
    pub fn last_record(&self, id: &str) -> Option<TxnMetadata> {
        let p = partition_for(id, N);
        let key = records::encode_key(id);
        let r = self
            .log
            .records(p)
            .into_iter()
            .rev()
            .find(|r| r.key == key)?;
        r.value.map(|v| records::decode_value(&v).unwrap().unwrap())
    }

    /// init_producer_id (v1 client, no expectation, 60 s timeout).
    pub async fn init(&self, id: &str) -> Result<ProducerIdAndEpoch, TxnError> {
        self.c.init_producer_id(id, 60_000, None, false).await
    }

    /// add_partitions from a client (v1) for `topic` partitions `parts`.
    pub async fn add(
        &self,
        id: &str,
        p: ProducerIdAndEpoch,
        parts: &[i32],
    ) -> Result<(), TxnError> {
        let tps: Vec<TopicPartition> = parts.iter().map(|&i| TopicPartition::new("t", i)).collect();
        let codes = self
            .c
            .add_partitions(id, p.producer_id, p.epoch, &tps, false, false)
            .await?;
        assert!(codes.iter().all(|(_, c)| *c == 0));
        Ok(())
    }
}

pub(crate) fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

pub(crate) fn code<T: std::fmt::Debug>(r: Result<T, TxnError>) -> i16 {
    r.expect_err("expected an error").code()
}
