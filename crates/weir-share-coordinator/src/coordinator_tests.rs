//! Tests of [`ShareStateCoordinator`] over [`MemoryLog`]: writes, snapshots, fencing, replay
//! after a failover, and the share-partition state and its dead letters across a reload.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_coordinator::testing::MemoryLog;

use crate::records::{self, RecordKind};
use crate::*;

const N: i32 = 4;

fn coordinator(log: &Arc<MemoryLog>, every: u32) -> ShareStateCoordinator {
    let config = ShareCoordinatorConfig {
        state_topic_partitions: N,
        snapshot_update_records_per_snapshot: every,
        ..ShareCoordinatorConfig::default()
    };
    let c = ShareStateCoordinator::new(
        config,
        log.clone(),
        log.clone(),
        Arc::new(ManualClock::new(1_000)),
    );
    let led: BTreeMap<i32, i32> = (0..N).map(|p| (p, 0)).collect();
    assert_eq!(c.sync_ownership(Some(N), &led).loaded.len(), N as usize);
    c
}

fn key(p: i32) -> ShareKey {
    ShareKey::new("orders-group", TopicId([7; 16]), p)
}

fn kinds(log: &MemoryLog, k: &ShareKey) -> Vec<RecordKind> {
    let p = partition_for(&k.coordinator_key(), N);
    log.records(p)
        .iter()
        .filter_map(|r| records::decode_key(&r.key).unwrap())
        .filter(|(_, kk)| kk == k)
        .map(|(kind, _)| kind)
        .collect()
}

fn dlq() -> PartitionLimits {
    PartitionLimits {
        dead_letter_enabled: true,
        ..PartitionLimits::default()
    }
}

#[tokio::test]
async fn state_is_partitioned_like_kafka_and_checked() {
    let log = Arc::new(MemoryLog::with_topic(N));
    let c = coordinator(&log, 500);
    let k = key(0);
    assert_eq!(
        c.coordinator_partition(&k),
        Some(partition_for(&k.coordinator_key(), N))
    );
    assert_eq!(c.check(&k).unwrap(), c.coordinator_partition(&k).unwrap());
    assert_eq!(c.read_state(&k).await.unwrap(), None);
    // Not leading the partition: NOT_COORDINATOR.
    c.sync_ownership(Some(N), &BTreeMap::new());
    assert_eq!(c.check(&k).unwrap_err().code(), 16);
    assert_eq!(c.initialize_state(&k, 0, 5).await.unwrap_err().code(), 16);
}

#[tokio::test]
async fn writes_are_updates_with_a_snapshot_every_n() {
    let log = Arc::new(MemoryLog::with_topic(N));
    let c = coordinator(&log, 2);
    let k = key(1);
    c.initialize_state(&k, 0, 100).await.unwrap();
    let mut p = SharePartition::new(100);
    p.take_update();
    for i in 0..5 {
        let o = 100 + i;
        p.acquire(
            "m",
            &[(o, o)],
            10,
            AcquireMode::BatchOptimized,
            &PartitionLimits::default(),
            0,
        );
        p.acknowledge(
            "m",
            &[AckBatch::all(o, o, AckType::Accept)],
            &PartitionLimits::default(),
            0,
        )
        .unwrap();
        c.write_state(&k, 0, 1, &p.take_update().unwrap())
            .await
            .unwrap();
    }
    use RecordKind::{Snapshot as S, Update as U};
    assert_eq!(kinds(&log, &k), vec![S, U, U, S, U, U]);
    let st = c.read_state(&k).await.unwrap().unwrap();
    assert_eq!(
        (st.start_offset, st.leader_epoch, st.snapshot_epoch),
        (105, 1, 1)
    );
    assert!(st.batches.is_empty());
    assert_eq!(st.create_timestamp, 1_000);
}

#[tokio::test]
async fn stale_leader_and_state_epochs_are_fenced() {
    let log = Arc::new(MemoryLog::with_topic(N));
    let c = coordinator(&log, 500);
    let k = key(2);
    c.initialize_state(&k, 3, 0).await.unwrap();
    let u = SharePartition::new(0).snapshot();
    c.write_state(&k, 3, 5, &u).await.unwrap();
    assert_eq!(c.write_state(&k, 3, 4, &u).await.unwrap_err().code(), 74);
    assert_eq!(c.write_state(&k, 2, 5, &u).await.unwrap_err().code(), 124);
    assert_eq!(c.initialize_state(&k, 2, 0).await.unwrap_err().code(), 124);
    let before = log.records(c.coordinator_partition(&k).unwrap()).len();
    assert_eq!(before, 2, "fenced writes append nothing");
    // A failed append installs nothing.
    log.fail_next_append(WriteError::NotLeader("gone".into()));
    let mut p = SharePartition::new(50);
    let moved = p.take_update().unwrap();
    assert_eq!(
        c.write_state(&k, 3, 5, &moved).await.unwrap_err().code(),
        16
    );
    assert_eq!(c.read_state(&k).await.unwrap().unwrap().start_offset, 0);
}

#[tokio::test]
async fn state_survives_a_failover_acquired_records_become_available() {
    let log = Arc::new(MemoryLog::with_topic(N));
    let c = coordinator(&log, 3);
    let k = key(3);
    let l = dlq();
    c.initialize_state(&k, 0, 0).await.unwrap();
    let mut p = SharePartition::new(0);
    p.take_update();
    p.acquire("a", &[(0, 9)], 100, AcquireMode::BatchOptimized, &l, 0);
    p.acquire("b", &[(10, 14)], 100, AcquireMode::BatchOptimized, &l, 0);
    let steps: [(&str, i64, i64, AckType); 5] = [
        ("a", 0, 1, AckType::Accept),
        ("a", 3, 3, AckType::Release),
        ("a", 4, 4, AckType::Reject),
        ("b", 10, 11, AckType::Gap),
        ("a", 5, 6, AckType::Accept),
    ];
    for (m, f, last, t) in steps {
        p.acknowledge(m, &[AckBatch::all(f, last, t)], &l, 0)
            .unwrap();
        c.write_state(&k, 0, 0, &p.take_update().unwrap())
            .await
            .unwrap();
    }
    p.expire_locks(&l, 30_000);
    c.write_state(&k, 0, 0, &p.take_update().unwrap())
        .await
        .unwrap();

    // A new coordinator replays the log.
    let c2 = coordinator(&log, 3);
    let st = c2.read_state(&k).await.unwrap().unwrap();
    assert_eq!(st, c.read_state(&k).await.unwrap().unwrap());
    let q = SharePartition::load(st.start_offset, &st.batches);
    assert_eq!(q.start_offset(), 2);
    assert_eq!(q.end_offset(), 14);
    for o in 2..=14 {
        let want = p.record(o).map(|v| match v {
            RecordView::Acquired { delivery_count, .. } => RecordView::Available { delivery_count },
            v => v,
        });
        assert_eq!(q.record(o), want, "offset {o}");
    }
    assert_eq!(
        q.record(4),
        Some(RecordView::DeadLetterPending { delivery_count: 1 })
    );
    assert_eq!(
        q.record(2),
        Some(RecordView::Available { delivery_count: 1 })
    );
    assert_eq!(
        q.record(12),
        Some(RecordView::Available { delivery_count: 1 })
    );
}

#[tokio::test]
async fn dead_letters_are_copied_exactly_once_across_reloads() {
    let log = Arc::new(MemoryLog::with_topic(N));
    let c = coordinator(&log, 500);
    let k = key(0);
    let l = dlq();
    c.initialize_state(&k, 0, 0).await.unwrap();
    let mut p = SharePartition::new(0);
    p.take_update();
    p.acquire("a", &[(0, 2)], 10, AcquireMode::BatchOptimized, &l, 0);
    p.acknowledge("a", &[AckBatch::all(0, 1, AckType::Reject)], &l, 0)
        .unwrap();
    p.acknowledge("a", &[AckBatch::all(2, 2, AckType::Accept)], &l, 0)
        .unwrap();
    c.write_state(&k, 0, 0, &p.take_update().unwrap())
        .await
        .unwrap();

    // The "DLQ topic": copies by source offset.
    let mut dlq_topic: Vec<i64> = Vec::new();
    let copy = |cands: Vec<DeadLetterCandidate>, dlq_topic: &mut Vec<i64>| -> Vec<i64> {
        let mut done = Vec::new();
        for cand in cands {
            if !(cand.maybe_copied && dlq_topic.contains(&cand.offset)) {
                dlq_topic.push(cand.offset);
            }
            done.push(cand.offset);
        }
        done
    };
    // The leader copies offsets 0 and 1, then fails over before confirming them.
    let offered = p.take_dead_letters();
    assert_eq!(offered.len(), 2);
    assert!(offered
        .iter()
        .all(|d| !d.maybe_copied && d.reason == Some(DeadLetterReason::Rejected)));
    copy(offered, &mut dlq_topic);
    assert!(p.take_dead_letters().is_empty());

    let c2 = coordinator(&log, 500);
    let st = c2.read_state(&k).await.unwrap().unwrap();
    let mut q = SharePartition::load(st.start_offset, &st.batches);
    let again = q.take_dead_letters();
    assert_eq!(
        again.iter().map(|d| d.offset).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(again.iter().all(|d| d.maybe_copied && d.reason.is_none()));
    let done = copy(again, &mut dlq_topic);
    assert_eq!(dlq_topic, vec![0, 1], "no second copy");
    assert_eq!(q.confirm_dead_letters(&done), 2);
    assert_eq!(q.start_offset(), 3);
    c2.write_state(&k, 0, 0, &q.take_update().unwrap())
        .await
        .unwrap();

    // After the confirmation is persisted nothing is offered again.
    let c3 = coordinator(&log, 500);
    let st = c3.read_state(&k).await.unwrap().unwrap();
    let mut r = SharePartition::load(st.start_offset, &st.batches);
    assert_eq!(r.start_offset(), 3);
    assert!(r.take_dead_letters().is_empty());
}

#[tokio::test]
async fn delete_state_tombstones_both_keys() {
    let log = Arc::new(MemoryLog::with_topic(N));
    let c = coordinator(&log, 500);
    let k = key(1);
    c.initialize_state(&k, 0, 7).await.unwrap();
    c.write_state(&k, 0, 0, &SharePartition::new(8).take_update().unwrap())
        .await
        .unwrap();
    c.delete_state(&k).await.unwrap();
    assert_eq!(c.read_state(&k).await.unwrap(), None);
    let tail: Vec<_> = log.records(c.coordinator_partition(&k).unwrap());
    assert!(tail[tail.len() - 2..].iter().all(|r| r.value.is_none()));
    let c2 = coordinator(&log, 500);
    assert_eq!(c2.read_state(&k).await.unwrap(), None);
    assert_eq!(c2.read_state(&key(0)).await.unwrap(), None);
}
