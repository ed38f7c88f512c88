//! The storage side of the group model: the topic view, and the gate every append of a
//! coordinator instance passes (pending until the scheduler releases it, then appended to the
//! shared `MemoryLog`, which fences stale leader epochs).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use weir_coordinator::testing::MemoryLog;
use weir_coordinator::{BoxFuture, PartitionWriter, Record, WriteError};
use weir_group_coordinator::TopicView;

/// The committed-to topic.
pub(super) const TOPIC: &str = "t";
/// Its partitions.
pub(super) const TOPIC_PARTITIONS: i32 = 3;

pub(super) struct Topics;

impl TopicView for Topics {
    fn partition_counts(&self) -> BTreeMap<String, i32> {
        [(TOPIC.to_string(), TOPIC_PARTITIONS)].into()
    }
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        topic == TOPIC && (0..TOPIC_PARTITIONS).contains(&partition)
    }
}

/// Appends waiting for the scheduler, and what landed.
#[derive(Default)]
pub(super) struct Gate {
    pub(super) next: u64,
    /// Appends issued since the last drain.
    pub(super) issued: Vec<u64>,
    pub(super) released: BTreeSet<u64>,
    /// Appends that reached the log, in log order.
    pub(super) landed: Vec<u64>,
    /// (partition, epoch) -> the instance whose appends were accepted there.
    pub(super) accepted: BTreeMap<(i32, i32), usize>,
    pub(super) violation: Option<String>,
}

pub(super) fn lock(g: &Mutex<Gate>) -> MutexGuard<'_, Gate> {
    g.lock().unwrap_or_else(|p| p.into_inner())
}

/// One instance's `PartitionWriter`: the shared `MemoryLog` behind the gate.
pub(super) struct GatedWriter {
    pub(super) instance: usize,
    pub(super) log: Arc<MemoryLog>,
    pub(super) gate: Arc<Mutex<Gate>>,
    pub(super) partitions: i32,
    /// Current epochs, for the no-fencing mutation.
    pub(super) epochs: Arc<Mutex<BTreeMap<i32, i32>>>,
    pub(super) no_fencing: bool,
}

impl PartitionWriter for GatedWriter {
    fn append(
        &self,
        partition: i32,
        leader_epoch: i32,
        records: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        let id = {
            let mut g = lock(&self.gate);
            g.next += 1;
            let id = g.next;
            g.issued.push(id);
            id
        };
        let mut records = Some(records);
        Box::pin(std::future::poll_fn(move |_| {
            if !lock(&self.gate).released.contains(&id) {
                return Poll::Pending;
            }
            let epoch = if self.no_fencing {
                let e = self.epochs.lock().unwrap_or_else(|p| p.into_inner());
                e.get(&partition).copied().unwrap_or(leader_epoch)
            } else {
                leader_epoch
            };
            let recs = records.take().unwrap_or_default();
            let r = poll_now(self.log.append(partition, epoch, recs))
                .unwrap_or_else(|| Err(WriteError::NotLeader("append did not complete".into())));
            if r.is_ok() {
                let mut g = lock(&self.gate);
                g.landed.push(id);
                let prev = *g
                    .accepted
                    .entry((partition, leader_epoch))
                    .or_insert(self.instance);
                if prev != self.instance && g.violation.is_none() {
                    g.violation = Some(format!(
                        "instances {prev} and {} both had appends accepted for partition \
                         {partition} at epoch {leader_epoch}",
                        self.instance
                    ));
                }
            }
            Poll::Ready(r)
        }))
    }

    fn ensure_topic(&self) -> BoxFuture<'_, Result<i32, WriteError>> {
        let n = self.partitions;
        Box::pin(async move { Ok(n) })
    }
}

/// Poll a future once with a no-op waker.
pub(super) fn poll_now<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}
