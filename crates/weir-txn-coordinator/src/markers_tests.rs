//! Tests of the marker phase (retries, deleted topics, stale coordinators, failover mid-commit)
//! and of the describe / list answers.

use crate::test_support::*;
use crate::*;

const ID: &str = "txn-m";

async fn prepared(env: &Env, result: TxnResult, parts: &[i32]) -> ProducerIdAndEpoch {
    let p = env.init(ID).await.unwrap();
    env.add(ID, p, parts).await.unwrap();
    env.c
        .end_txn(ID, p.producer_id, p.epoch, result, false)
        .await
        .unwrap();
    p
}

#[tokio::test]
async fn failover_mid_commit_completes_after_reload() {
    let env = Env::new();
    prepared(&env, TxnResult::Commit, &[0, 1, 2]).await;
    // Only some markers got out before the coordinator died.
    env.markers.answer(&tp(1), MarkerResult::Error(6));
    env.markers.answer(&tp(2), MarkerResult::Error(7));
    let first = env.c.pending_marker_jobs().remove(0);
    assert_eq!(
        env.c.complete_marker_job(first).await,
        MarkerProgress::Pending {
            remaining: 2,
            error: None
        }
    );
    assert_eq!(env.state(ID).topics, vec![("t".to_string(), vec![1, 2])]);
    // A new coordinator (new leader epoch) replays the log: the transaction is in
    // PrepareCommit with every partition, and is completed.
    let next = env.failover(1);
    assert_eq!(code(env.c.describe(ID)), 16);
    let jobs = next.c.pending_marker_jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].coordinator_epoch, jobs[0].result),
        (1, TxnResult::Commit)
    );
    assert_eq!(jobs[0].partitions, vec![tp(0), tp(1), tp(2)]);
    assert_eq!(next.c.run_marker_jobs().await, 1);
    assert_eq!(next.state(ID).state, TxnState::CompleteCommit);
    assert_eq!(
        next.last_record(ID).unwrap().state,
        TxnState::CompleteCommit
    );
    // The old coordinator's job is stale now.
    assert_eq!(
        env.c.complete_marker_job(jobs[0].clone()).await,
        MarkerProgress::Stale
    );
}

#[tokio::test]
async fn load_wakes_the_marker_sender() {
    let env = Env::new();
    prepared(&env, TxnResult::Abort, &[0]).await;
    let next = env.failover(3);
    let wakeup = next.c.marker_wakeup();
    // sync_ownership stored a permit when it loaded the partitions.
    tokio::time::timeout(std::time::Duration::from_secs(1), wakeup.notified())
        .await
        .expect("woken");
    assert_eq!(next.c.run_marker_jobs().await, 1);
    assert_eq!(next.state(ID).state, TxnState::CompleteAbort);
}

#[tokio::test]
async fn markers_are_retried_until_written() {
    let env = Env::new();
    prepared(&env, TxnResult::Commit, &[0, 1]).await;
    env.markers.answer(&tp(1), MarkerResult::Error(15));
    assert_eq!(env.c.run_marker_jobs().await, 0);
    assert_eq!(env.state(ID).state, TxnState::PrepareCommit);
    assert_eq!(env.c.run_marker_jobs().await, 1);
    let jobs = env.markers.jobs();
    assert_eq!(
        jobs[1].partitions,
        vec![tp(1)],
        "only the missing marker is resent"
    );
    assert_eq!(env.state(ID).state, TxnState::CompleteCommit);
}

#[tokio::test]
async fn deleted_topics_and_moved_producers_count_as_done() {
    let env = Env::new();
    prepared(&env, TxnResult::Abort, &[0, 1, 2]).await;
    env.markers.answer(&tp(0), MarkerResult::TopicDeleted);
    env.markers.answer(&tp(1), MarkerResult::Error(59));
    env.markers.answer(&tp(2), MarkerResult::Error(47));
    assert_eq!(env.c.run_marker_jobs().await, 1);
    assert_eq!(env.state(ID).state, TxnState::CompleteAbort);
}

#[tokio::test]
async fn a_fenced_coordinator_stops() {
    let env = Env::new();
    prepared(&env, TxnResult::Commit, &[0]).await;
    env.markers.answer(&tp(0), MarkerResult::Error(52));
    let job = env.c.pending_marker_jobs().remove(0);
    assert_eq!(env.c.complete_marker_job(job).await, MarkerProgress::Fenced);
    assert_eq!(env.state(ID).state, TxnState::PrepareCommit);
}

#[tokio::test]
async fn a_failed_completion_write_is_retried() {
    let env = Env::new();
    prepared(&env, TxnResult::Commit, &[0]).await;
    env.log.fail_next_append(WriteError::Timeout("isr".into()));
    let job = env.c.pending_marker_jobs().remove(0);
    match env.c.complete_marker_job(job).await {
        MarkerProgress::Pending {
            remaining: 0,
            error: Some(e),
        } => assert_eq!(e.code(), 15),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(env.state(ID).state, TxnState::PrepareCommit);
    assert_eq!(env.c.run_marker_jobs().await, 1);
    assert_eq!(env.state(ID).state, TxnState::CompleteCommit);
}

#[tokio::test]
async fn one_task_per_transaction() {
    let env = Env::new();
    prepared(&env, TxnResult::Commit, &[0]).await;
    let job = env.c.pending_marker_jobs().remove(0);
    let hold = env.log.hold_appends();
    let first = env.c.complete_marker_job(job.clone());
    let second = async {
        // Let the first reach the completion write (held), then try again.
        while env.log.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(
            env.c.pending_marker_jobs().is_empty(),
            "in flight jobs are not offered"
        );
        let r = env.c.complete_marker_job(job.clone()).await;
        hold.add_permits(1);
        r
    };
    let (a, b) = tokio::join!(first, second);
    assert_eq!(
        (a, b),
        (MarkerProgress::Completed, MarkerProgress::AlreadyRunning)
    );
}

#[tokio::test]
async fn describe_and_list() {
    let env = Env::new();
    let a = env.init("a").await.unwrap();
    env.add("a", a, &[1, 0]).await.unwrap();
    let b = env.init("b").await.unwrap();
    env.clock.advance(5_000);
    let d = env.state("a");
    assert_eq!(
        (
            d.state.name(),
            d.producer_id,
            d.producer_epoch,
            d.timeout_ms,
            d.start_ms
        ),
        ("Ongoing", a.producer_id, 0, 60_000, START)
    );
    assert_eq!(d.topics, vec![("t".to_string(), vec![0, 1])]);
    assert_eq!(code(env.c.describe("nobody")), 105);
    let list = |states: &[&str], pids: Vec<i64>, duration_ms| {
        env.c
            .list(&ListFilter {
                states: states.iter().map(|s| s.to_string()).collect(),
                producer_ids: pids,
                duration_ms,
            })
            .unwrap()
    };
    let ids = |l: TransactionList| -> Vec<String> {
        l.transactions
            .into_iter()
            .map(|t| t.transactional_id)
            .collect()
    };
    assert_eq!(ids(list(&[], vec![], -1)), vec!["a", "b"]);
    assert_eq!(ids(list(&["Ongoing"], vec![], -1)), vec!["a"]);
    assert_eq!(ids(list(&[], vec![b.producer_id], -1)), vec!["b"]);
    assert_eq!(ids(list(&["Ongoing"], vec![], 4_999)), vec!["a"]);
    assert!(ids(list(&["Ongoing"], vec![], 5_000)).is_empty());
    let l = list(&["Bogus", "Empty"], vec![], -1);
    assert_eq!(l.unknown_state_filters, vec!["Bogus".to_string()]);
    assert_eq!(ids(l), vec!["b"]);
}

#[tokio::test]
async fn state_survives_a_reload() {
    let env = Env::new();
    let p = env.init(ID).await.unwrap();
    env.add(ID, p, &[0, 3]).await.unwrap();
    env.c
        .add_offsets(ID, p.producer_id, p.epoch, "g")
        .await
        .unwrap();
    let before = env.state(ID);
    let next = env.failover(1);
    assert_eq!(next.state(ID), before);
    // The reloaded coordinator serves the same producer.
    next.c
        .end_txn(ID, p.producer_id, p.epoch, TxnResult::Commit, false)
        .await
        .unwrap();
    assert_eq!(next.c.run_marker_jobs().await, 1);
}
