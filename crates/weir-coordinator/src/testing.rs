//! An in-memory coordinator topic for tests of coordinators built on the runtime (no broker):
//! [`MemoryLog`] is both the [`PartitionWriter`] and the [`PartitionReader`], with injectable
//! failures and a way to hold appends in flight. It also keeps transactional batches and
//! transaction markers ([`LogEntry`]) so coordinators' transactional writes and their replay can
//! be tested.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{ReadError, WriteError};
use crate::io::{BoxFuture, PartitionReader, PartitionWriter, Record, ReplayItem, TxnProducer};

/// One entry of a [`MemoryLog`] partition, in append order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A data record; `txn` = the producer of its transactional batch (None: ordinary batch).
    Data {
        /// The record.
        record: Record,
        /// The producer when it was appended transactionally.
        txn: Option<TxnProducer>,
    },
    /// A COMMIT (`commit` = true) or ABORT marker of `producer_id`.
    Marker {
        /// The producer whose transaction ends.
        producer_id: i64,
        /// The marker's producer epoch.
        producer_epoch: i16,
        /// COMMIT or ABORT.
        commit: bool,
    },
}

/// Called when [`PartitionWriter::ensure_topic`] creates the topic, with its partition count
/// (tests use it to sync a runtime's ownership, as the broker's metadata applier would).
pub type OnCreate = Box<dyn Fn(i32) + Send + Sync>;

#[derive(Default)]
struct Inner {
    partitions: Option<i32>,
    create_with: i32,
    logs: BTreeMap<i32, Vec<LogEntry>>,
    /// Latest producer epoch seen per (partition, producer id) (fencing of stale epochs).
    producer_epochs: BTreeMap<(i32, i64), i16>,
    epochs: BTreeMap<i32, i32>,
    fail_appends: VecDeque<WriteError>,
    fail_reads: BTreeSet<i32>,
    held: Option<Arc<tokio::sync::Semaphore>>,
    in_flight: usize,
    ensure_calls: usize,
}

/// An in-memory topic: a `Vec<Record>` per partition. Appends are checked against the
/// partition's leader epoch when one is set ([`MemoryLog::set_epoch`]); failures queued with
/// [`MemoryLog::fail_next_append`] are returned (in order) instead of appending.
#[derive(Default)]
pub struct MemoryLog {
    inner: Mutex<Inner>,
    on_create: Mutex<Option<OnCreate>>,
}

impl std::fmt::Debug for MemoryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLog").finish_non_exhaustive()
    }
}

impl MemoryLog {
    /// A log whose topic does not exist yet; [`PartitionWriter::ensure_topic`] creates it with
    /// `create_with` partitions.
    pub fn new(create_with: i32) -> Self {
        let log = MemoryLog::default();
        log.lock().create_with = create_with;
        log
    }

    /// A log whose topic already exists with `partitions` partitions.
    pub fn with_topic(partitions: i32) -> Self {
        let log = MemoryLog::new(partitions);
        log.lock().partitions = Some(partitions);
        log
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Call `f` with the partition count when `ensure_topic` creates the topic.
    pub fn on_create(&self, f: OnCreate) {
        *self.on_create.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    /// The topic's partition count (None = not created).
    pub fn partitions(&self) -> Option<i32> {
        self.lock().partitions
    }

    /// How many times `ensure_topic` was called.
    pub fn ensure_calls(&self) -> usize {
        self.lock().ensure_calls
    }

    /// Appends to `partition` must carry `epoch` from now on (NotLeader otherwise).
    pub fn set_epoch(&self, partition: i32, epoch: i32) {
        self.lock().epochs.insert(partition, epoch);
    }

    /// The next append fails with `e` (queued; one failure per append).
    pub fn fail_next_append(&self, e: WriteError) {
        self.lock().fail_appends.push_back(e);
    }

    /// Replays of `partition` fail while `failing`.
    pub fn fail_reads(&self, partition: i32, failing: bool) {
        let mut g = self.lock();
        if failing {
            g.fail_reads.insert(partition);
        } else {
            g.fail_reads.remove(&partition);
        }
    }

    /// Hold every later append until a permit is added to the returned semaphore (one permit
    /// releases one append).
    pub fn hold_appends(&self) -> Arc<tokio::sync::Semaphore> {
        let s = Arc::new(tokio::sync::Semaphore::new(0));
        self.lock().held = Some(s.clone());
        s
    }

    /// Appends currently waiting on [`MemoryLog::hold_appends`].
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// The data records of `partition` (transactional or not) in append order.
    pub fn records(&self, partition: i32) -> Vec<Record> {
        self.entries(partition)
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::Data { record, .. } => Some(record),
                LogEntry::Marker { .. } => None,
            })
            .collect()
    }

    /// Every entry of `partition` (data records and markers) in append order.
    pub fn entries(&self, partition: i32) -> Vec<LogEntry> {
        self.lock()
            .logs
            .get(&partition)
            .cloned()
            .unwrap_or_default()
    }

    /// Append `records` directly (as another leader would have).
    pub fn push(&self, partition: i32, records: Vec<Record>) {
        self.lock().logs.entry(partition).or_default().extend(
            records
                .into_iter()
                .map(|record| LogEntry::Data { record, txn: None }),
        );
    }

    /// Append a COMMIT (`commit` = true) or ABORT marker of `producer_id` to `partition`
    /// directly (as the broker does for WriteTxnMarkers). Never fails.
    pub fn push_marker(&self, partition: i32, producer_id: i64, producer_epoch: i16, commit: bool) {
        let mut g = self.lock();
        let e = g
            .producer_epochs
            .entry((partition, producer_id))
            .or_insert(producer_epoch);
        *e = (*e).max(producer_epoch);
        g.logs.entry(partition).or_default().push(LogEntry::Marker {
            producer_id,
            producer_epoch,
            commit,
        });
    }

    /// The common part of both appends: wait while held, then the injected failure, the
    /// partition and the leader epoch checks.
    async fn admit(
        &self,
        partition: i32,
        leader_epoch: i32,
    ) -> Result<MutexGuard<'_, Inner>, WriteError> {
        let held = {
            let mut g = self.lock();
            g.in_flight += 1;
            g.held.clone()
        };
        if let Some(s) = held {
            if let Ok(p) = s.acquire().await {
                p.forget();
            }
        }
        let mut g = self.lock();
        g.in_flight -= 1;
        if let Some(e) = g.fail_appends.pop_front() {
            return Err(e);
        }
        if !g.partitions.is_some_and(|n| (0..n).contains(&partition)) {
            return Err(WriteError::UnknownPartition(format!(
                "no partition {partition}"
            )));
        }
        if let Some(&e) = g.epochs.get(&partition) {
            if e != leader_epoch {
                return Err(WriteError::NotLeader(format!(
                    "partition {partition} is led at epoch {e}, not {leader_epoch}"
                )));
            }
        }
        Ok(g)
    }
}

impl PartitionWriter for MemoryLog {
    fn append(
        &self,
        partition: i32,
        leader_epoch: i32,
        records: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        Box::pin(async move {
            let mut g = self.admit(partition, leader_epoch).await?;
            g.logs.entry(partition).or_default().extend(
                records
                    .into_iter()
                    .map(|record| LogEntry::Data { record, txn: None }),
            );
            Ok(())
        })
    }

    /// Like `append`, the records tagged with their producer; an epoch older than the latest
    /// seen for that producer in the partition is INVALID_PRODUCER_EPOCH (47), as a log refuses it.
    fn append_transactional(
        &self,
        partition: i32,
        leader_epoch: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        Box::pin(async move {
            let mut g = self.admit(partition, leader_epoch).await?;
            let seen = g
                .producer_epochs
                .entry((partition, producer_id))
                .or_insert(producer_epoch);
            if *seen > producer_epoch {
                return Err(WriteError::Other {
                    code: 47,
                    message: format!(
                        "producer {producer_id} epoch {producer_epoch} is older than {seen}"
                    ),
                });
            }
            *seen = producer_epoch;
            let txn = Some(TxnProducer {
                producer_id,
                producer_epoch,
            });
            g.logs.entry(partition).or_default().extend(
                records
                    .into_iter()
                    .map(|record| LogEntry::Data { record, txn }),
            );
            Ok(())
        })
    }

    fn ensure_topic(&self) -> BoxFuture<'_, Result<i32, WriteError>> {
        Box::pin(async move {
            let created = {
                let mut g = self.lock();
                g.ensure_calls += 1;
                match g.partitions {
                    Some(n) => return Ok(n),
                    None => {
                        let n = g.create_with;
                        g.partitions = Some(n);
                        n
                    }
                }
            };
            if let Some(f) = &*self.on_create.lock().unwrap_or_else(|p| p.into_inner()) {
                f(created);
            }
            Ok(created)
        })
    }
}

impl PartitionReader for MemoryLog {
    fn replay(
        &self,
        partition: i32,
        f: &mut crate::io::RecordVisitor<'_>,
    ) -> Result<usize, ReadError> {
        let entries = {
            let g = self.lock();
            if g.fail_reads.contains(&partition) {
                return Err(ReadError(format!("partition {partition} has no local log")));
            }
            g.logs.get(&partition).cloned().unwrap_or_default()
        };
        let mut records = 0;
        for e in &entries {
            match e {
                LogEntry::Data { record, txn } => {
                    records += 1;
                    f(ReplayItem::Record {
                        key: &record.key,
                        value: record.value.as_deref(),
                        txn: *txn,
                    });
                }
                LogEntry::Marker {
                    producer_id,
                    producer_epoch,
                    commit,
                } => f(ReplayItem::Marker {
                    producer_id: *producer_id,
                    producer_epoch: *producer_epoch,
                    commit: *commit,
                }),
            }
        }
        Ok(records)
    }
}
