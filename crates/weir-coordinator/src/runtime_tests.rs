//! Tests of the runtime with the in-memory topic and a manual clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::testing::MemoryLog;
use crate::*;

/// A shard that is a key-value map of its partition's records.
#[derive(Debug, Default)]
struct Kv {
    partition: i32,
    map: BTreeMap<String, String>,
    loaded_at: Option<i64>,
}

impl Shard for Kv {
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, _now: i64) {
        let k = String::from_utf8_lossy(key).into_owned();
        match value {
            Some(v) => {
                self.map.insert(k, String::from_utf8_lossy(v).into_owned());
            }
            None => {
                self.map.remove(&k);
            }
        }
    }
    fn loaded(&mut self, now: i64) {
        self.loaded_at = Some(now);
    }
}

fn rec(k: &str, v: Option<&str>) -> Record {
    Record {
        key: k.as_bytes().to_vec(),
        value: v.map(|v| v.as_bytes().to_vec()),
    }
}

fn runtime(log: &Arc<MemoryLog>) -> Arc<CoordinatorRuntime<Kv>> {
    Arc::new(CoordinatorRuntime::new(
        "__test",
        log.clone(),
        log.clone(),
        Arc::new(ManualClock::new(1_000)),
        Box::new(|p| Kv {
            partition: p,
            ..Default::default()
        }),
    ))
}

fn all(n: i32, epoch: i32) -> BTreeMap<i32, i32> {
    (0..n).map(|p| (p, epoch)).collect()
}

/// Put `v` at `k` durably, then install it.
async fn put(rt: &CoordinatorRuntime<Kv>, k: &str, v: &str) -> Result<bool, CoordinatorError> {
    let (k2, v2) = (k.to_string(), v.to_string());
    rt.write(
        k,
        |_, _| Ok((vec![rec(k, Some(v))], ())),
        move |s, r, ()| match (s, r) {
            (Some(s), Ok(())) => {
                s.map.insert(k2, v2);
                Ok(true)
            }
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Ok(false),
        },
    )
    .await?
}

fn get(rt: &CoordinatorRuntime<Kv>, k: &str) -> Option<String> {
    rt.try_read(k, |s| s.map.get(k).cloned()).unwrap().flatten()
}

#[tokio::test]
async fn write_installs_only_after_the_append() {
    let log = Arc::new(MemoryLog::with_topic(3));
    let rt = runtime(&log);
    rt.sync_ownership(Some(3), &all(3, 0));
    let p = rt.check("a").unwrap();
    let hold = log.hold_appends();
    let task = tokio::spawn({
        let rt = rt.clone();
        async move { put(&rt, "a", "1").await }
    });
    while log.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        get(&rt, "a"),
        None,
        "not visible before the append completes"
    );
    assert!(log.records(p).is_empty());
    hold.add_permits(1);
    assert!(task.await.unwrap().unwrap());
    assert_eq!(get(&rt, "a").as_deref(), Some("1"));
    assert_eq!(log.records(p), vec![rec("a", Some("1"))]);
}

#[tokio::test]
async fn failed_writes_are_mapped_and_not_installed() {
    let log = Arc::new(MemoryLog::with_topic(1));
    let rt = runtime(&log);
    rt.sync_ownership(Some(1), &all(1, 0));
    let cases = [
        (WriteError::NotLeader("x".into()), 16),
        (WriteError::Storage("x".into()), 16),
        (WriteError::UnknownPartition("x".into()), 15),
        (WriteError::NotEnoughReplicas("x".into()), 15),
        (WriteError::Timeout("x".into()), 15),
        (
            WriteError::Other {
                code: 58,
                message: "x".into(),
            },
            58,
        ),
    ];
    for (e, code) in cases {
        log.fail_next_append(e);
        assert_eq!(put(&rt, "a", "1").await.unwrap_err().code(), code);
        assert_eq!(get(&rt, "a"), None);
    }
    // A wrong leader epoch in the writer is NOT_COORDINATOR too.
    log.set_epoch(0, 7);
    assert_eq!(put(&rt, "a", "1").await.unwrap_err().code(), 16);
    assert!(log.records(0).is_empty());
}

#[tokio::test]
async fn a_write_racing_an_ownership_change_gets_not_coordinator() {
    let log = Arc::new(MemoryLog::with_topic(1));
    let rt = runtime(&log);
    rt.sync_ownership(Some(1), &all(1, 0));
    let hold = log.hold_appends();
    let task = tokio::spawn({
        let rt = rt.clone();
        async move {
            rt.write(
                "a",
                |_, _| Ok((vec![rec("a", Some("1"))], 5)),
                |s, r, p| (s.is_some(), r.map_err(|e| e.code()), p),
            )
            .await
        }
    });
    while log.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    // Leadership moves and comes back at a new epoch while the append is in flight.
    let change = rt.sync_ownership(Some(1), &all(1, 1));
    assert_eq!(change.unloaded, vec![0]);
    assert_eq!(change.loaded, vec![(0, 1)]);
    hold.add_permits(1);
    let (had_shard, result, payload) = task.await.unwrap().unwrap();
    assert!(!had_shard, "complete must not see the reloaded shard");
    assert_eq!(result, Err(16));
    assert_eq!(payload, 5, "complete always runs");
}

#[tokio::test]
async fn load_by_replay_reload_at_a_new_epoch_and_unload() {
    let log = Arc::new(MemoryLog::with_topic(2));
    let p = partition_for("a", 2);
    log.push(
        p,
        vec![rec("a", Some("1")), rec("b", Some("2")), rec("b", None)],
    );
    let rt = runtime(&log);
    assert_eq!(rt.check("a").unwrap_err().code(), 15, "topic unknown");
    let change = rt.sync_ownership(Some(2), &all(2, 3));
    assert_eq!(change.loaded, vec![(0, 3), (1, 3)]);
    assert_eq!(rt.owned(), all(2, 3));
    assert_eq!(get(&rt, "a").as_deref(), Some("1"));
    let seen = rt.try_read("a", |s| (s.partition, s.loaded_at)).unwrap();
    assert_eq!(seen, Some((p, Some(1_000))));
    assert_eq!(
        rt.try_read("b", |s| s.map.get("b").cloned()).unwrap(),
        Some(None)
    );
    // Same epoch again: nothing changes.
    assert_eq!(
        rt.sync_ownership(Some(2), &all(2, 3)),
        OwnershipChange::default()
    );
    // Another leader wrote meanwhile; we lead again at a new epoch: reloaded.
    log.push(p, vec![rec("a", Some("9"))]);
    let change = rt.sync_ownership(Some(2), &all(2, 4));
    assert_eq!(change.unloaded, vec![0, 1]);
    assert_eq!(get(&rt, "a").as_deref(), Some("9"));
    // Leadership lost: state dropped, NOT_COORDINATOR.
    let led: BTreeMap<i32, i32> = all(2, 4).into_iter().filter(|(q, _)| *q != p).collect();
    let change = rt.sync_ownership(Some(2), &led);
    assert_eq!(change.unloaded, vec![p]);
    assert_eq!(rt.check("a").unwrap_err().code(), 16);
    assert_eq!(rt.try_read("a", |_| ()).unwrap_err().code(), 16);
    assert!(!rt.owned().contains_key(&p));
    // Topic gone: nothing owned.
    rt.sync_ownership(None, &all(2, 4));
    assert!(rt.owned().is_empty());
    assert_eq!(rt.try_read("a", |_| ()).unwrap(), None);
}

#[tokio::test]
async fn a_failed_load_is_load_in_progress_and_retried() {
    let log = Arc::new(MemoryLog::with_topic(1));
    log.push(0, vec![rec("a", Some("1"))]);
    let rt = runtime(&log);
    log.fail_reads(0, true);
    let change = rt.sync_ownership(Some(1), &all(1, 0));
    assert_eq!(change.failed, vec![0]);
    assert_eq!(rt.check("a").unwrap_err().code(), 14);
    assert_eq!(put(&rt, "a", "2").await.unwrap_err().code(), 14);
    log.fail_reads(0, false);
    let change = rt.sync_ownership(Some(1), &all(1, 0));
    assert_eq!(change.loaded, vec![(0, 0)]);
    assert_eq!(rt.check("a"), Ok(0));
    assert_eq!(get(&rt, "a").as_deref(), Some("1"));
}

#[tokio::test]
async fn ensure_creates_the_topic_once_and_check_does_not() {
    let log = Arc::new(MemoryLog::new(4));
    let rt = runtime(&log);
    assert_eq!(rt.check("a").unwrap_err().code(), 15);
    assert_eq!(rt.partition_of("a"), None);
    assert_eq!(log.ensure_calls(), 0);
    // Without an ownership sync the topic exists but nothing is led here yet.
    assert_eq!(rt.ensure("a").await.unwrap_err().code(), 15);
    assert_eq!(log.ensure_calls(), 1);
    let weak = Arc::downgrade(&rt);
    let log2 = Arc::new(MemoryLog::new(4));
    let rt2 = runtime(&log2);
    let weak2 = Arc::downgrade(&rt2);
    log2.on_create(Box::new(move |n| {
        if let Some(rt) = weak2.upgrade() {
            rt.sync_ownership(Some(n), &all(n, 0));
        }
    }));
    drop(weak);
    let p = rt2.ensure("a").await.unwrap();
    assert_eq!(p, partition_for("a", 4));
    assert_eq!(rt2.partition_of("a"), Some(p));
    assert!(put(&rt2, "a", "1").await.unwrap());
    assert_eq!(
        log2.ensure_calls(),
        1,
        "the topic is known now: no more ensure"
    );
    assert_eq!(rt2.read("a", |s| s.map.len()).await.unwrap(), 1);
    assert_eq!(rt2.update("a", |_, now| now).await.unwrap(), 1_000);
}

#[tokio::test]
async fn writes_of_one_key_are_serialised() {
    let log = Arc::new(MemoryLog::with_topic(1));
    let rt = runtime(&log);
    rt.sync_ownership(Some(1), &all(1, 0));
    let hold = log.hold_appends();
    let first = tokio::spawn({
        let rt = rt.clone();
        async move { put(&rt, "a", "1").await }
    });
    while log.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let computed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let second = tokio::spawn({
        let (rt, computed) = (rt.clone(), computed.clone());
        async move {
            rt.write(
                "a",
                move |s, _| {
                    computed.store(true, std::sync::atomic::Ordering::SeqCst);
                    // Sees the first write installed.
                    Ok((vec![], s.map.get("a").cloned()))
                },
                |_, _, seen| seen,
            )
            .await
        }
    });
    // Another key is not blocked by "a"'s gate.
    assert_eq!(
        rt.write(
            "b",
            |_, _| Ok((vec![], ())),
            |s, r, ()| (s.is_some(), r.is_ok())
        )
        .await
        .unwrap(),
        (true, true)
    );
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(
        !computed.load(std::sync::atomic::Ordering::SeqCst),
        "second waits for the gate"
    );
    hold.add_permits(1);
    assert!(first.await.unwrap().unwrap());
    assert_eq!(second.await.unwrap().unwrap().as_deref(), Some("1"));
}

#[tokio::test]
async fn compute_errors_skip_write_and_complete_and_scan_visits_loaded_shards() {
    let log = Arc::new(MemoryLog::with_topic(2));
    let rt = runtime(&log);
    rt.sync_ownership(Some(2), &all(2, 0));
    let r: Result<(), _> = rt
        .write(
            "a",
            |_, _| {
                Err::<(Vec<Record>, ()), _>(CoordinatorError::Other {
                    code: 69,
                    message: "no".into(),
                })
            },
            |_, _, ()| panic!("complete must not run"),
        )
        .await;
    assert_eq!(r.unwrap_err().code(), 69);
    assert!(log.records(0).is_empty() && log.records(1).is_empty());
    let seen = rt.scan(|p, s, now| (s.partition == p, now));
    assert_eq!(seen, vec![(0, (true, 1_000)), (1, (true, 1_000))]);
    assert_eq!(rt.topic(), "__test");
    assert_eq!(rt.now(), 1_000);
}
