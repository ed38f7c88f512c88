//! Tests of InitProducerId, AddPartitionsToTxn / AddOffsetsToTxn, EndTxn, fencing, timers and
//! their errors, over an in-memory log and a manual clock.

use weir_coordinator::WriteError;

use crate::test_support::*;
use crate::*;

const ID: &str = "txn-a";

fn pe(pid: i64, epoch: i16) -> ProducerIdAndEpoch {
    ProducerIdAndEpoch::new(pid, epoch)
}

#[tokio::test]
async fn commit_happy_path() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    assert_eq!(p, pe(FIRST_PID, 0));
    env.add(ID, p, &[0, 1]).await.unwrap();
    let d = env.state(ID);
    assert_eq!(
        (d.state, d.topics.clone()),
        (TxnState::Ongoing, vec![("t".into(), vec![0, 1])])
    );
    assert_eq!(d.start_ms, START);
    let r = env
        .c
        .end_txn(ID, p.producer_id, p.epoch, TxnResult::Commit, false)
        .await;
    assert_eq!(r.unwrap(), pe(NO_PRODUCER_ID, NO_PRODUCER_EPOCH));
    assert_eq!(env.state(ID).state, TxnState::PrepareCommit);
    assert_eq!(env.last_record(ID).unwrap().state, TxnState::PrepareCommit);
    assert_eq!(env.c.run_marker_jobs().await, 1);
    let jobs = env.markers.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (
            jobs[0].producer_id,
            jobs[0].producer_epoch,
            jobs[0].result,
            jobs[0].coordinator_epoch
        ),
        (FIRST_PID, 0, TxnResult::Commit, 0)
    );
    assert_eq!(jobs[0].partitions, vec![tp(0), tp(1)]);
    assert_eq!(env.state(ID).state, TxnState::CompleteCommit);
    let last = env.last_record(ID).unwrap();
    assert_eq!(
        (last.state, last.partitions.len()),
        (TxnState::CompleteCommit, 0)
    );
    // Nothing left to do.
    assert!(env.c.pending_marker_jobs().is_empty());
    // The next transaction keeps the producer id and epoch (version 1).
    env.add(ID, p, &[2]).await.unwrap();
    assert_eq!(env.state(ID).start_ms, START);
}

#[tokio::test]
async fn abort_with_offsets() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    env.add(ID, p, &[0]).await.unwrap();
    env.c
        .add_offsets(ID, p.producer_id, p.epoch, "g")
        .await
        .unwrap();
    let offsets = TopicPartition::new(OFFSETS_TOPIC, partition_for("g", 50));
    env.c
        .end_txn(ID, p.producer_id, p.epoch, TxnResult::Abort, false)
        .await
        .unwrap();
    assert_eq!(env.c.run_marker_jobs().await, 1);
    let job = &env.markers.jobs()[0];
    assert_eq!(job.result, TxnResult::Abort);
    assert!(job.partitions.contains(&offsets) && job.partitions.contains(&tp(0)));
    assert_eq!(env.state(ID).state, TxnState::CompleteAbort);
}

#[tokio::test]
async fn end_txn_retries_and_invalid_states_v1() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    let end = |r| env.c.end_txn(ID, p.producer_id, p.epoch, r, false);
    // Nothing to commit or abort yet.
    assert_eq!(code(end(TxnResult::Commit).await), 48);
    assert_eq!(code(end(TxnResult::Abort).await), 48);
    env.add(ID, p, &[0]).await.unwrap();
    end(TxnResult::Commit).await.unwrap();
    // While the markers are written: a retry waits, the other outcome is invalid.
    assert_eq!(code(end(TxnResult::Commit).await), 51);
    assert_eq!(code(end(TxnResult::Abort).await), 48);
    env.c.run_marker_jobs().await;
    // A retry after completion succeeds; the other outcome is invalid.
    end(TxnResult::Commit).await.unwrap();
    assert_eq!(code(end(TxnResult::Abort).await), 48);
    // Wrong producer id or epoch.
    assert_eq!(
        code(env.c.end_txn(ID, 7, 0, TxnResult::Commit, false).await),
        49
    );
    let fenced = env
        .c
        .end_txn(ID, p.producer_id, 3, TxnResult::Commit, false)
        .await;
    assert_eq!(fenced.unwrap_err().code_for(false), 47);
    assert_eq!(
        code(
            env.c
                .end_txn("nobody", 1, 0, TxnResult::Commit, false)
                .await
        ),
        49
    );
    assert_eq!(
        code(env.c.end_txn("", 1, 0, TxnResult::Commit, false).await),
        42
    );
}

#[tokio::test]
async fn second_init_fences_and_aborts_the_ongoing_transaction() {
    let env = Env::new();
    let old = env.init(ID).await.unwrap();
    env.add(ID, old, &[0, 1]).await.unwrap();
    // A new producer instance: the ongoing transaction is aborted first.
    assert_eq!(code(env.init(ID).await), 51);
    let d = env.state(ID);
    assert_eq!((d.state, d.producer_epoch), (TxnState::PrepareAbort, 1));
    // Still completing: the new producer retries.
    assert_eq!(code(env.init(ID).await), 51);
    // The old producer is fenced.
    assert_eq!(
        code(
            env.c
                .end_txn(ID, old.producer_id, 0, TxnResult::Commit, false)
                .await
        ),
        90
    );
    assert_eq!(code(env.add(ID, old, &[2]).await), 90);
    assert_eq!(env.c.run_marker_jobs().await, 1);
    let job = &env.markers.jobs()[0];
    assert_eq!(
        (job.result, job.producer_epoch, job.partitions.len()),
        (TxnResult::Abort, 1, 2)
    );
    assert_eq!(env.state(ID).state, TxnState::CompleteAbort);
    assert_eq!(env.init(ID).await.unwrap(), pe(FIRST_PID, 2));
    assert_eq!(code(env.add(ID, old, &[2]).await), 90);
}

#[tokio::test]
async fn concurrent_transactions_while_completing() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    env.add(ID, p, &[0]).await.unwrap();
    env.c
        .end_txn(ID, p.producer_id, p.epoch, TxnResult::Commit, false)
        .await
        .unwrap();
    assert_eq!(code(env.init(ID).await), 51);
    assert_eq!(code(env.add(ID, p, &[1]).await), 51);
    let verify = env
        .c
        .add_partitions(ID, p.producer_id, p.epoch, &[tp(0)], true, false)
        .await;
    assert_eq!(code(verify), 51);
    env.c.run_marker_jobs().await;
    assert_eq!(env.init(ID).await.unwrap(), pe(FIRST_PID, 1));
}

#[tokio::test]
async fn kip360_expected_producer() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    // The same producer bumps its epoch after an abortable error.
    let again = env
        .c
        .init_producer_id(ID, 60_000, Some(p), false)
        .await
        .unwrap();
    assert_eq!(again, pe(FIRST_PID, 1));
    // Its retry (answer lost) gets the same epoch, no second bump.
    assert_eq!(
        env.c
            .init_producer_id(ID, 60_000, Some(p), false)
            .await
            .unwrap(),
        again
    );
    // Another producer id, or an epoch that is neither current nor last: fenced.
    assert_eq!(
        code(
            env.c
                .init_producer_id(ID, 60_000, Some(pe(5, 0)), false)
                .await
        ),
        90
    );
    let stale = env
        .c
        .init_producer_id(ID, 60_000, Some(pe(FIRST_PID, 7)), false)
        .await;
    assert_eq!(stale.unwrap_err().code_for(false), 47);
    // A new transactional id accepts any expectation (recovering from UNKNOWN_PRODUCER_ID).
    let fresh = env
        .c
        .init_producer_id("other", 60_000, Some(pe(42, 3)), false)
        .await;
    assert_eq!(fresh.unwrap(), pe(FIRST_PID + 1, 0));
}

#[tokio::test]
async fn epoch_exhaustion_rotates_the_producer_id() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    // Make the epoch exhausted as a long life of the id would.
    let mut m = env.last_record(ID).unwrap();
    m.producer_epoch = i16::MAX - 1;
    env.log.push(
        partition_for(ID, N),
        vec![crate::coordinator::record(ID, &m)],
    );
    let env = env.failover(1);
    let rotated = env
        .c
        .init_producer_id(ID, 60_000, Some(pe(p.producer_id, i16::MAX - 1)), false)
        .await;
    assert_eq!(rotated.unwrap(), pe(FIRST_PID + 1, 0));
    let last = env.last_record(ID).unwrap();
    assert_eq!(
        (last.prev_producer_id, last.producer_id),
        (p.producer_id, FIRST_PID + 1)
    );
    // A retry with the old producer id at the exhausted epoch gets the same answer.
    let retry = env
        .c
        .init_producer_id(ID, 60_000, Some(pe(p.producer_id, i16::MAX - 1)), false)
        .await;
    assert_eq!(retry.unwrap(), pe(FIRST_PID + 1, 0));
}

#[tokio::test]
async fn timed_out_transaction_is_aborted() {
    let env = Env::new();
    let p = env
        .c
        .init_producer_id(ID, 5_000, None, false)
        .await
        .unwrap();
    env.add(ID, p, &[0]).await.unwrap();
    env.clock.advance(4_000);
    assert!(env.c.tick().await.aborted.is_empty());
    env.clock.advance(1_500);
    assert_eq!(env.c.tick().await.aborted, vec![ID.to_string()]);
    let d = env.state(ID);
    assert_eq!((d.state, d.producer_epoch), (TxnState::PrepareAbort, 1));
    env.c.run_marker_jobs().await;
    assert_eq!(env.state(ID).state, TxnState::CompleteAbort);
    // The slow producer is fenced; a restart gets the next epoch.
    assert_eq!(
        code(
            env.c
                .end_txn(ID, p.producer_id, 0, TxnResult::Commit, false)
                .await
        ),
        90
    );
    assert_eq!(env.init(ID).await.unwrap(), pe(FIRST_PID, 2));
}

#[tokio::test]
async fn transactional_ids_expire() {
    let env = Env::new();
    env.init(ID).await.unwrap();
    let busy = env.init("busy").await.unwrap();
    env.add("busy", busy, &[0]).await.unwrap();
    env.clock.advance(60_001);
    let report = env.c.tick().await;
    assert_eq!(report.expired, vec![ID.to_string()]);
    assert_eq!(code(env.c.describe(ID)), 105);
    assert!(env.last_record(ID).is_none(), "a tombstone was written");
    // Ongoing transactions do not expire (they time out and are aborted instead).
    assert_eq!(env.state("busy").state, TxnState::PrepareAbort);
    // The tombstone survives a reload; the id starts over with a new producer id.
    let env = env.failover(1);
    assert_eq!(code(env.c.describe(ID)), 105);
    assert_eq!(env.init(ID).await.unwrap(), pe(FIRST_PID + 2, 0));
}

#[tokio::test]
async fn transaction_version_2_bumps_the_epoch_every_transaction() {
    let env = Env::new();
    let p = env
        .c
        .init_producer_id(ID, 60_000, None, true)
        .await
        .unwrap();
    // The partition leader adds the partition for a version-2 producer.
    let codes = env
        .c
        .add_partitions(ID, p.producer_id, p.epoch, &[tp(0)], false, true)
        .await;
    assert_eq!(codes.unwrap(), vec![(tp(0), 0)]);
    let next = env
        .c
        .end_txn(ID, p.producer_id, 0, TxnResult::Commit, true)
        .await
        .unwrap();
    assert_eq!(next, pe(FIRST_PID, 1));
    // A retry during and after completion: CONCURRENT_TRANSACTIONS, then the same answer.
    assert_eq!(
        code(
            env.c
                .end_txn(ID, p.producer_id, 0, TxnResult::Commit, true)
                .await
        ),
        51
    );
    env.c.run_marker_jobs().await;
    assert_eq!(env.markers.jobs()[0].producer_epoch, 1);
    assert_eq!(env.markers.jobs()[0].transaction_version, TV2);
    assert_eq!(
        env.c
            .end_txn(ID, p.producer_id, 0, TxnResult::Commit, true)
            .await
            .unwrap(),
        next
    );
    assert_eq!(
        code(
            env.c
                .end_txn(ID, p.producer_id, 0, TxnResult::Abort, true)
                .await
        ),
        48
    );
    // The old epoch can no longer add partitions; the new one can.
    assert_eq!(
        code(
            env.c
                .add_partitions(ID, p.producer_id, 0, &[tp(1)], false, true)
                .await
        ),
        90
    );
    env.c
        .add_partitions(ID, p.producer_id, 1, &[tp(1)], false, true)
        .await
        .unwrap();
    let next = env
        .c
        .end_txn(ID, p.producer_id, 1, TxnResult::Abort, true)
        .await
        .unwrap();
    assert_eq!(next, pe(FIRST_PID, 2));
    env.c.run_marker_jobs().await;
    // Abort without a transaction is allowed (and bumps); commit is not.
    assert_eq!(
        code(
            env.c
                .end_txn(ID, p.producer_id, 2, TxnResult::Commit, true)
                .await
        ),
        48
    );
    let next = env
        .c
        .end_txn(ID, p.producer_id, 2, TxnResult::Abort, true)
        .await
        .unwrap();
    assert_eq!(next, pe(FIRST_PID, 3));
    assert_eq!(env.c.run_marker_jobs().await, 1);
    // A retry of an end that completed with an older epoch, or a future epoch: fenced.
    assert_eq!(
        code(
            env.c
                .end_txn(ID, p.producer_id, 0, TxnResult::Abort, true)
                .await
        ),
        90
    );
    assert_eq!(
        code(
            env.c
                .end_txn(ID, p.producer_id, 9, TxnResult::Abort, true)
                .await
        ),
        90
    );
    assert_eq!(
        code(env.c.end_txn(ID, 77, 3, TxnResult::Abort, true).await),
        49
    );
}

#[tokio::test]
async fn transaction_version_2_rotates_on_epoch_overflow() {
    let env = Env::new();
    let p = env
        .c
        .init_producer_id(ID, 60_000, None, true)
        .await
        .unwrap();
    let mut m = env.last_record(ID).unwrap();
    m.producer_epoch = i16::MAX - 1;
    env.log.push(
        partition_for(ID, N),
        vec![crate::coordinator::record(ID, &m)],
    );
    let env = env.failover(1);
    let e = i16::MAX - 1;
    env.c
        .add_partitions(ID, p.producer_id, e, &[tp(0)], false, true)
        .await
        .unwrap();
    let next = env
        .c
        .end_txn(ID, p.producer_id, e, TxnResult::Commit, true)
        .await
        .unwrap();
    assert_eq!(next, pe(FIRST_PID + 1, 0));
    env.c.run_marker_jobs().await;
    let job = &env.markers.jobs()[0];
    assert_eq!(
        (job.producer_id, job.producer_epoch),
        (p.producer_id, i16::MAX)
    );
    let d = env.state(ID);
    assert_eq!(
        (d.state, d.producer_id, d.producer_epoch),
        (TxnState::CompleteCommit, FIRST_PID + 1, 0)
    );
    // The retry with the old producer id is recognised.
    let retry = env
        .c
        .end_txn(ID, p.producer_id, e, TxnResult::Commit, true)
        .await
        .unwrap();
    assert_eq!(retry, next);
    // And the new producer id works.
    env.c
        .add_partitions(ID, next.producer_id, 0, &[tp(1)], false, true)
        .await
        .unwrap();
}

#[tokio::test]
async fn verify_only_checks_membership() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    env.add(ID, p, &[0]).await.unwrap();
    let v = |pid, e, parts: Vec<TopicPartition>| {
        let c = &env.c;
        async move { c.add_partitions(ID, pid, e, &parts, true, false).await }
    };
    assert_eq!(
        v(p.producer_id, 0, vec![tp(0), tp(1)]).await.unwrap(),
        vec![(tp(0), 0), (tp(1), 120)]
    );
    // Nothing was added.
    assert_eq!(env.state(ID).topics, vec![("t".to_string(), vec![0])]);
    assert_eq!(code(v(p.producer_id, 1, vec![tp(0)]).await), 90);
    assert_eq!(code(v(5, 0, vec![tp(0)]).await), 49);
    let unknown = env
        .c
        .add_partitions("nobody", 1, 0, &[tp(0)], true, false)
        .await;
    assert_eq!(code(unknown), 49);
}

#[tokio::test]
async fn request_errors() {
    let env = Env::new();
    assert_eq!(code(env.init("").await), 42);
    assert_eq!(code(env.c.init_producer_id(ID, 0, None, false).await), 50);
    assert_eq!(
        code(env.c.init_producer_id(ID, 900_001, None, false).await),
        50
    );
    assert_eq!(
        code(env.c.add_partitions("", 1, 0, &[tp(0)], false, false).await),
        42
    );
    assert_eq!(code(env.c.add_offsets("", 1, 0, "g").await), 42);
    assert_eq!(
        code(
            env.c
                .add_partitions("nobody", 1, 0, &[tp(0)], false, false)
                .await
        ),
        49
    );
    let p = env.init(ID).await.unwrap();
    assert_eq!(code(env.c.add_offsets(ID, 9, 0, "g").await), 49);
    assert_eq!(code(env.c.add_offsets(ID, p.producer_id, 1, "g").await), 90);
    assert_eq!(code(env.c.describe("")), 42);
    // The producer-id source fails: its error is the answer.
    env.pids
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(code(env.init("new-id").await), 14);
    assert_eq!(code(env.c.init_idempotent_producer().await), 14);
    env.pids
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(env.c.init_idempotent_producer().await.unwrap().epoch, 0);
}

#[tokio::test]
async fn runtime_errors_and_failed_writes() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    // A failed append changes nothing and maps like the runtime's.
    env.log
        .fail_next_append(WriteError::NotEnoughReplicas("isr".into()));
    assert_eq!(code(env.add(ID, p, &[0]).await), 15);
    assert_eq!(env.state(ID).state, TxnState::Empty);
    env.log
        .fail_next_append(WriteError::NotLeader("moved".into()));
    assert_eq!(code(env.init(ID).await), 16);
    assert_eq!(env.state(ID).producer_epoch, 0);
    // Not the coordinator, then loading.
    env.c.sync_ownership(Some(N), &Default::default());
    assert_eq!(code(env.init(ID).await), 16);
    assert_eq!(env.c.check_coordinator(ID).unwrap_err().code(), 16);
    let p_of = partition_for(ID, N);
    env.log.fail_reads(p_of, true);
    env.c.sync_ownership(Some(N), &all(2));
    assert_eq!(code(env.init(ID).await), 14);
    assert_eq!(code(env.c.list(&ListFilter::default())), 14);
    env.log.fail_reads(p_of, false);
    env.c.sync_ownership(Some(N), &all(2));
    assert_eq!(env.c.coordinator_partition(ID), Some(p_of));
    assert_eq!(env.state(ID).producer_epoch, 0);
}
