//! Tests of transactional offset commits: pending until the marker, commit / abort, the order
//! against plain commits, replay of markers on failover, require_stable, KIP-447 checks,
//! deletion and expiry with pending offsets.

use weir_coordinator::testing::LogEntry;
use weir_coordinator::{partition_for, TxnProducer};

use crate::coordinator_tests::{
    all, coordinator, entry, join_params, offsets, setup, simple, stable_group, N,
};
use crate::records::{self, RecordKey};
use crate::*;

const PID: i64 = 4000;

async fn txn(
    c: &GroupCoordinator,
    g: &str,
    pid: i64,
    who: &Committer,
    e: Vec<(String, i32, i64, i32, String)>,
) -> Vec<i16> {
    c.txn_offset_commit(g, pid, 0, who, e).await
}

fn stable(c: &GroupCoordinator, g: &str, ps: Vec<i32>) -> Vec<(i32, Option<i64>, i16)> {
    c.fetch_offsets(g, None, Some(vec![("t".into(), ps)]), true)
        .unwrap()
        .into_iter()
        .map(|f| (f.partition, f.offset.map(|v| v.offset), f.error_code))
        .collect()
}

#[tokio::test]
async fn pending_until_commit_marker_then_visible() {
    let (log, _, c) = setup();
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 1)]).await, vec![0]);
    assert_eq!(
        txn(&c, "g", PID, &simple(), vec![entry(0, 10), entry(1, 11)]).await,
        vec![0, 0]
    );
    let p = partition_for("g", N);
    let entries = log.entries(p);
    let txn_tags: Vec<Option<TxnProducer>> = entries
        .iter()
        .map(|e| match e {
            LogEntry::Data { txn, .. } => *txn,
            LogEntry::Marker { .. } => panic!("no marker written by the coordinator"),
        })
        .collect();
    let tag = Some(TxnProducer {
        producer_id: PID,
        producer_epoch: 0,
    });
    assert_eq!(txn_tags, vec![None, tag, tag]);
    // Same record format as OffsetCommit.
    let LogEntry::Data { record, .. } = &entries[1] else {
        unreachable!()
    };
    assert_eq!(
        records::decode_offset(record.value.as_deref().unwrap())
            .unwrap()
            .offset,
        10
    );
    assert_eq!(
        offsets(&c, "g"),
        vec![("t".into(), 0, 1)],
        "pending is invisible"
    );
    log.push_marker(p, PID, 0, true);
    assert_eq!(c.complete_transaction(p, PID, true), Ok(2));
    assert_eq!(
        offsets(&c, "g"),
        vec![("t".into(), 0, 10), ("t".into(), 1, 11)]
    );
    assert_eq!(c.complete_transaction(p, PID, true), Ok(0), "nothing left");
}

#[tokio::test]
async fn abort_drops_pending_offsets() {
    let (_, _, c) = setup();
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 1)]).await, vec![0]);
    assert_eq!(
        txn(&c, "g", PID, &simple(), vec![entry(0, 10)]).await,
        vec![0]
    );
    let p = partition_for("g", N);
    assert_eq!(c.complete_transaction(p, PID, false), Ok(1));
    assert_eq!(offsets(&c, "g"), vec![("t".into(), 0, 1)]);
    assert_eq!(stable(&c, "g", vec![0]), vec![(0, Some(1), 0)]);
}

#[tokio::test]
async fn a_plain_commit_written_after_the_txn_record_wins() {
    let (log, clock, c) = setup();
    let p = partition_for("g", N);
    // txn 10 on partition 0, then plain 20 on partition 0; plain 5 on partition 1, then txn 15.
    assert_eq!(c.commit("g", &simple(), vec![entry(1, 5)]).await, vec![0]);
    assert_eq!(
        txn(&c, "g", PID, &simple(), vec![entry(0, 10), entry(1, 15)]).await,
        vec![0, 0]
    );
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 20)]).await, vec![0]);
    log.push_marker(p, PID, 0, true);
    c.complete_transaction(p, PID, true).unwrap();
    let want = vec![("t".to_string(), 0, 20), ("t".to_string(), 1, 15)];
    assert_eq!(offsets(&c, "g"), want);
    // Replay agrees with the live state.
    let c2 = coordinator(&log, &clock);
    c2.sync_ownership(Some(N), &all(1));
    assert_eq!(offsets(&c2, "g"), want);
}

#[tokio::test]
async fn failover_replays_markers_and_keeps_open_transactions_pending() {
    let (log, clock, c) = setup();
    let p = partition_for("g", N);
    assert_eq!(
        txn(&c, "g", 1, &simple(), vec![entry(0, 10)]).await,
        vec![0]
    );
    assert_eq!(
        txn(&c, "g", 2, &simple(), vec![entry(1, 11)]).await,
        vec![0]
    );
    assert_eq!(
        txn(&c, "g", 3, &simple(), vec![entry(2, 12)]).await,
        vec![0]
    );
    log.push_marker(p, 1, 0, true);
    log.push_marker(p, 2, 0, false);
    // Producer 3's transaction is still open when the coordinator moves.
    let c2 = coordinator(&log, &clock);
    c2.sync_ownership(Some(N), &all(1));
    assert_eq!(offsets(&c2, "g"), vec![("t".into(), 0, 10)]);
    assert_eq!(
        stable(&c2, "g", vec![0, 1, 2]),
        vec![(0, Some(10), 0), (1, None, 0), (2, None, 88)]
    );
    log.push_marker(p, 3, 0, true);
    assert_eq!(c2.complete_transaction(p, 3, true), Ok(1));
    assert_eq!(stable(&c2, "g", vec![2]), vec![(2, Some(12), 0)]);
    // A partition this broker does not own: the marker is applied by its next load.
    c2.sync_ownership(Some(N), &BTreeMap::new());
    assert_eq!(c2.complete_transaction(p, 3, true).unwrap_err().code(), 16);
}

#[tokio::test]
async fn require_stable_answers_unstable_offset_commit_only_for_pending_partitions() {
    let (_, _, c) = setup();
    assert_eq!(
        c.commit("g", &simple(), vec![entry(0, 1), entry(1, 2)])
            .await,
        vec![0, 0]
    );
    assert_eq!(
        txn(&c, "g", PID, &simple(), vec![entry(0, 10)]).await,
        vec![0]
    );
    assert_eq!(
        stable(&c, "g", vec![0, 1]),
        vec![(0, None, 88), (1, Some(2), 0)]
    );
    // Without require_stable the committed offset is returned.
    let all_rows = c.fetch_offsets("g", None, None, false).unwrap();
    assert_eq!(all_rows.len(), 2);
    assert!(all_rows.iter().all(|f| f.error_code == 0));
    assert_eq!(all_rows[0].offset.as_ref().map(|v| v.offset), Some(1));
    // Fetch of all partitions with require_stable flags the pending one.
    let rows = c.fetch_offsets("g", None, None, true).unwrap();
    assert_eq!(rows[0].error_code, 88);
    assert_eq!(rows[1].error_code, 0);
    // Another group is not affected.
    assert_eq!(stable(&c, "other", vec![0]), vec![(0, None, 0)]);
}

#[tokio::test]
async fn kip_447_member_checks() {
    let (_, _, c) = setup();
    let m = stable_group(&c, "g").await;
    let who = |id: &str, gen: i32, inst: Option<&str>| Committer {
        member_id: id.into(),
        instance_id: inst.map(String::from),
        generation_or_epoch: gen,
    };
    assert_eq!(
        txn(&c, "g", PID, &who(&m, 1, None), vec![entry(0, 1)]).await,
        vec![0]
    );
    assert_eq!(
        txn(&c, "g", PID, &who(&m, 2, None), vec![entry(0, 1)]).await,
        vec![22]
    );
    assert_eq!(
        txn(&c, "g", PID, &who("x", 1, None), vec![entry(0, 1)]).await,
        vec![25]
    );
    // No member id and generation -1: no check, even with members (old producers).
    assert_eq!(
        txn(&c, "g", PID, &simple(), vec![entry(0, 1)]).await,
        vec![0]
    );
    // Unknown group: generation -1 creates a simple group, anything else is GROUP_ID_NOT_FOUND
    // (v6's code; the API handler answers ILLEGAL_GENERATION below v6).
    assert_eq!(
        txn(&c, "new", PID, &who("", 3, None), vec![entry(0, 1)]).await,
        vec![69]
    );
    assert_eq!(
        txn(&c, "new2", PID, &simple(), vec![entry(0, 1)]).await,
        vec![0]
    );
    // Per-partition refusals.
    let big = (
        "t".to_string(),
        1,
        1,
        -1,
        "x".repeat(OFFSET_METADATA_MAX_BYTES + 1),
    );
    assert_eq!(
        txn(
            &c,
            "g",
            PID,
            &simple(),
            vec![("nope".into(), 0, 1, -1, String::new()), big, entry(2, 1)]
        )
        .await,
        vec![3, 12, 0]
    );
    // Static membership: another member id with the same instance id is fenced.
    let mut jp = join_params("");
    jp.instance_id = Some("i1".into());
    let j = c.join("s", jp).await;
    assert_eq!(j.error, 0);
    assert_eq!(
        txn(
            &c,
            "s",
            PID,
            &who("impostor", j.generation, Some("i1")),
            vec![entry(0, 1)]
        )
        .await,
        vec![82]
    );
    assert_eq!(
        txn(
            &c,
            "s",
            PID,
            &who(&j.member_id, j.generation, Some("i2")),
            vec![entry(0, 1)]
        )
        .await,
        vec![25]
    );
}

#[tokio::test]
async fn stale_producer_epoch_is_refused_and_nothing_is_staged() {
    let (_, _, c) = setup();
    assert_eq!(
        c.txn_offset_commit("g", PID, 5, &simple(), vec![entry(0, 1)])
            .await,
        vec![0]
    );
    assert_eq!(
        c.txn_offset_commit("g", PID, 4, &simple(), vec![entry(1, 1)])
            .await,
        vec![47]
    );
    assert_eq!(
        stable(&c, "g", vec![0, 1]),
        vec![(0, None, 88), (1, None, 0)]
    );
}

#[tokio::test]
async fn delete_group_tombstones_pending_offsets_and_expiry_waits_for_them() {
    let (log, clock, c) = setup();
    let p = partition_for("g", N);
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 1)]).await, vec![0]);
    assert_eq!(
        txn(&c, "g", PID, &simple(), vec![entry(1, 10)]).await,
        vec![0]
    );
    // Expiry keeps a group with pending transactional offsets.
    clock.advance(120_000);
    c.tick().await;
    assert_eq!(offsets(&c, "g"), vec![("t".into(), 0, 1)]);
    assert_eq!(stable(&c, "g", vec![1]), vec![(1, None, 88)]);
    // DeleteGroups writes a tombstone for the pending-only partition too.
    assert_eq!(c.delete_groups(&["g".into()]).await, vec![0]);
    let tombstoned: Vec<RecordKey> = log
        .records(p)
        .iter()
        .filter(|r| r.value.is_none())
        .map(|r| records::decode_key(&r.key).unwrap().unwrap())
        .collect();
    assert!(tombstoned.contains(&RecordKey::Offset {
        group: "g".into(),
        topic: "t".into(),
        partition: 1
    }));
    assert_eq!(stable(&c, "g", vec![1]), vec![(1, None, 0)]);
    // The transaction's commit restores nothing (the tombstone came after its record).
    log.push_marker(p, PID, 0, true);
    assert_eq!(c.complete_transaction(p, PID, true), Ok(0));
    assert!(offsets(&c, "g").is_empty());
    let c2 = coordinator(&log, &clock);
    c2.sync_ownership(Some(N), &all(1));
    assert!(offsets(&c2, "g").is_empty());
    assert!(c2.list_groups(&[], &[]).is_empty());
}

#[tokio::test]
async fn expiry_resumes_after_the_transaction_aborts() {
    let (_, clock, c) = setup();
    let p = partition_for("g", N);
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 1)]).await, vec![0]);
    assert_eq!(
        txn(&c, "g", PID, &simple(), vec![entry(0, 10)]).await,
        vec![0]
    );
    clock.advance(120_000);
    c.tick().await;
    assert_eq!(offsets(&c, "g").len(), 1);
    c.complete_transaction(p, PID, false).unwrap();
    clock.advance(2_000);
    c.tick().await;
    assert!(offsets(&c, "g").is_empty());
}

#[tokio::test]
async fn offset_delete_removes_pending_offsets_too() {
    let (_, _, c) = setup();
    let p = partition_for("g", N);
    assert_eq!(
        txn(&c, "g", PID, &simple(), vec![entry(0, 10)]).await,
        vec![0]
    );
    assert_eq!(
        c.delete_offsets("g", vec![("t".into(), 0)]).await,
        Ok(vec![0])
    );
    assert_eq!(stable(&c, "g", vec![0]), vec![(0, None, 0)]);
    assert_eq!(c.complete_transaction(p, PID, true), Ok(0));
    assert!(offsets(&c, "g").is_empty());
}

use std::collections::BTreeMap;
