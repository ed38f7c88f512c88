//! Tests of transactional writes, their replay with markers, and `update_partition`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::testing::{LogEntry, MemoryLog};
use crate::*;

/// A key-value shard whose transactional records stay pending per producer until a marker.
#[derive(Debug, Default)]
struct TxnKv {
    map: BTreeMap<String, String>,
    pending: HashMap<i64, Vec<(String, String)>>,
}

impl TxnKv {
    fn complete(&mut self, producer_id: i64, commit: bool) {
        let staged = self.pending.remove(&producer_id).unwrap_or_default();
        if commit {
            self.map.extend(staged);
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Shard for TxnKv {
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, _now: i64) {
        if let Some(v) = value {
            self.map.insert(text(key), text(v));
        }
    }
    fn replay_transactional(&mut self, pid: i64, _e: i16, k: &[u8], v: Option<&[u8]>, _now: i64) {
        if let Some(v) = v {
            self.pending
                .entry(pid)
                .or_default()
                .push((text(k), text(v)));
        }
    }
    fn replay_marker(&mut self, producer_id: i64, commit: bool, _now: i64) {
        self.complete(producer_id, commit);
    }
}

/// A shard that implements none of the transactional methods.
#[derive(Debug, Default)]
struct Plain {
    map: BTreeMap<String, String>,
}

impl Shard for Plain {
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, _now: i64) {
        if let Some(v) = value {
            self.map.insert(text(key), text(v));
        }
    }
}

fn rec(k: &str, v: &str) -> Record {
    Record {
        key: k.as_bytes().to_vec(),
        value: Some(v.as_bytes().to_vec()),
    }
}

fn runtime<S: Shard + Default>(log: &Arc<MemoryLog>) -> CoordinatorRuntime<S> {
    CoordinatorRuntime::new(
        "__test",
        log.clone(),
        log.clone(),
        Arc::new(ManualClock::new(1_000)),
        Box::new(|_| S::default()),
    )
}

fn one(epoch: i32) -> BTreeMap<i32, i32> {
    [(0, epoch)].into()
}

/// Write `k=v` transactionally for `pid`, staging it as pending on success.
async fn put_txn(
    rt: &CoordinatorRuntime<TxnKv>,
    pid: i64,
    epoch: i16,
    k: &str,
    v: &str,
) -> Result<(), CoordinatorError> {
    let (k2, v2) = (k.to_string(), v.to_string());
    rt.write_transactional(
        k,
        pid,
        epoch,
        |_, _| Ok((vec![rec(k, v)], ())),
        move |s, r, ()| {
            r?;
            if let Some(s) = s {
                s.pending.entry(pid).or_default().push((k2, v2));
            }
            Ok(())
        },
    )
    .await?
}

#[tokio::test]
async fn transactional_write_is_tagged_and_replays_with_markers() {
    let log = Arc::new(MemoryLog::with_topic(1));
    let rt = runtime::<TxnKv>(&log);
    rt.sync_ownership(Some(1), &one(0));
    put_txn(&rt, 7, 1, "a", "1").await.unwrap();
    put_txn(&rt, 8, 1, "b", "2").await.unwrap();
    assert_eq!(
        log.entries(0)[0],
        LogEntry::Data {
            record: rec("a", "1"),
            txn: Some(TxnProducer {
                producer_id: 7,
                producer_epoch: 1
            }),
        }
    );
    // Nothing visible before the markers; the broker completes through update_partition.
    assert!(rt.try_read("a", |s| s.map.is_empty()).unwrap().unwrap());
    rt.update_partition(0, |s, _| s.complete(7, true)).unwrap();
    assert_eq!(
        rt.try_read("a", |s| s.map.get("a").cloned())
            .unwrap()
            .unwrap(),
        Some("1".into())
    );
    log.push_marker(0, 7, 1, true);
    log.push_marker(0, 8, 1, false);
    // Failover: a fresh load sees the commit of 7 and the abort of 8.
    rt.sync_ownership(Some(1), &one(1));
    let (map, pending) = rt
        .try_read("a", |s| (s.map.clone(), s.pending.len()))
        .unwrap()
        .unwrap();
    assert_eq!(map, [("a".to_string(), "1".to_string())].into());
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn an_open_transaction_stays_pending_after_reload_and_stale_epochs_are_refused() {
    let log = Arc::new(MemoryLog::with_topic(1));
    let rt = runtime::<TxnKv>(&log);
    rt.sync_ownership(Some(1), &one(0));
    put_txn(&rt, 7, 3, "a", "1").await.unwrap();
    let err = put_txn(&rt, 7, 2, "a", "0").await.unwrap_err();
    assert_eq!(err.code(), 47);
    rt.sync_ownership(Some(1), &one(1));
    let pending = rt.try_read("a", |s| s.pending.clone()).unwrap().unwrap();
    assert_eq!(pending[&7], vec![("a".to_string(), "1".to_string())]);
}

#[tokio::test]
async fn shards_ignore_transactional_records_by_default() {
    let log = Arc::new(MemoryLog::with_topic(1));
    log.push(0, vec![rec("x", "plain")]);
    let txn_rt = runtime::<TxnKv>(&log);
    txn_rt.sync_ownership(Some(1), &one(0));
    put_txn(&txn_rt, 5, 0, "y", "txn").await.unwrap();
    log.push_marker(0, 5, 0, true);
    let rt = runtime::<Plain>(&log);
    rt.sync_ownership(Some(1), &one(0));
    let map = rt.try_read("x", |s| s.map.clone()).unwrap().unwrap();
    assert_eq!(map, [("x".to_string(), "plain".to_string())].into());
}

#[tokio::test]
async fn update_partition_requires_ownership() {
    let log = Arc::new(MemoryLog::with_topic(2));
    log.fail_reads(1, true);
    let rt = runtime::<TxnKv>(&log);
    rt.sync_ownership(Some(2), &[(0, 0), (1, 0)].into());
    assert!(rt.update_partition(0, |_, now| now).is_ok());
    assert_eq!(rt.update_partition(1, |_, _| ()).unwrap_err().code(), 14);
    rt.sync_ownership(Some(2), &[(1, 0)].into());
    assert_eq!(rt.update_partition(0, |_, _| ()).unwrap_err().code(), 16);
}

/// A writer that only knows plain appends (the trait's default for transactional ones).
struct PlainWriter(Arc<MemoryLog>);

impl PartitionWriter for PlainWriter {
    fn append(&self, p: i32, e: i32, r: Vec<Record>) -> BoxFuture<'_, Result<(), WriteError>> {
        self.0.append(p, e, r)
    }
    fn ensure_topic(&self) -> BoxFuture<'_, Result<i32, WriteError>> {
        self.0.ensure_topic()
    }
}

#[tokio::test]
async fn writers_without_transactions_refuse_with_unsupported_version() {
    let log = Arc::new(MemoryLog::with_topic(1));
    let rt: CoordinatorRuntime<TxnKv> = CoordinatorRuntime::new(
        "__test",
        Arc::new(PlainWriter(log.clone())),
        log.clone(),
        Arc::new(ManualClock::new(0)),
        Box::new(|_| TxnKv::default()),
    );
    rt.sync_ownership(Some(1), &one(0));
    let err = put_txn(&rt, 1, 0, "a", "1").await.unwrap_err();
    assert_eq!(err.code(), 35);
    assert!(log.entries(0).is_empty());
}
