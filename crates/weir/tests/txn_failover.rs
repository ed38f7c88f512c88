//! Transactions through crashes, with real processes: a single node killed (SIGKILL) with an
//! open transaction recovers its transaction index and producer state from disk and the
//! coordinator aborts the orphaned transaction after `transaction.timeout.ms` (the last stable
//! offset moves on); on a 3-node cluster the transaction coordinator's node and, separately, a
//! data partition's leader are killed in the middle of open transactions, which then complete,
//! and READ_COMMITTED consumers read exactly the committed records.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::Offset;
use weir_test_support::clients::{assigned_consumer, consume_n, create_topic, flush};
use weir_test_support::cluster::{brokers_registered, create_replicated_topic, full_isr, view};
use weir_test_support::txn::{latest_offset, transactional_producer, txn_coordinator};
use weir_test_support::{start_cluster, wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

type TxnProducer = rdkafka::producer::BaseProducer<weir_test_support::clients::AckLog>;

fn send_all(p: &TxnProducer, topic: &str, partitions: i32, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        let part = i as i32 % partitions;
        let mut rec = BaseRecord::<(), [u8]>::to(topic)
            .payload(v.as_bytes())
            .partition(part);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((e, r)) => {
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "send: {e}"
                    );
                    p.poll(Duration::from_millis(10));
                    rec = r;
                }
            }
        }
    }
}

/// Every node's bootstrap address.
fn all_bootstrap(nodes: &[BrokerProcess]) -> String {
    nodes
        .iter()
        .map(|n| n.bootstrap())
        .collect::<Vec<_>>()
        .join(",")
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Every value READ_COMMITTED consumers can read in `topic` (`expected` of them), checked to be
/// exactly `expected` (no aborted or missing record, nothing twice).
fn assert_read_committed(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: &BTreeSet<String>,
) {
    let c = assigned_consumer(
        bootstrap,
        topic,
        partitions,
        Offset::Beginning,
        &[("isolation.level", "read_committed")],
    );
    let got = consume_n(&c, expected.len(), Duration::from_secs(60));
    let extra = consume_n(&c, 1, Duration::from_secs(1));
    let seen: Vec<String> = got
        .iter()
        .chain(&extra)
        .map(|m| String::from_utf8_lossy(&m.value).into_owned())
        .collect();
    let set: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(set.len(), seen.len(), "a record was read twice");
    assert_eq!(
        &set, expected,
        "READ_COMMITTED must see exactly the committed records"
    );
}

/// The last stable offset of every partition reaches its high watermark (no transaction left
/// open) within `timeout`.
fn lso_catches_up(
    nodes: &[BrokerProcess],
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> bool {
    wait_until(timeout, || {
        (0..partitions).all(|p| {
            // Only the leader answers ListOffsets without an error.
            nodes.iter().any(|n| {
                let hw = latest_offset(&n.bootstrap(), topic, p, false);
                hw.is_some() && hw == latest_offset(&n.bootstrap(), topic, p, true)
            })
        })
    })
}

#[test]
fn kill9_with_an_open_transaction_recovers_the_index_and_aborts_it_after_the_timeout() {
    let mut b = BrokerProcess::start(
        weir(),
        BrokerOptions::default().config(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "500",
        ),
    );
    let bs = b.bootstrap();
    create_topic(&bs, "r", 1, &[]);
    let (p, _) = transactional_producer(&bs, "crash", &[("transaction.timeout.ms", "6000")]);
    // Aborted, committed, then left open (flushed: its records are in the log).
    p.begin_transaction().unwrap();
    send_all(&p, "r", 1, &values("aborted", 5));
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    p.abort_transaction(Duration::from_secs(30)).unwrap();
    p.begin_transaction().unwrap();
    send_all(&p, "r", 1, &values("committed", 5));
    p.commit_transaction(Duration::from_secs(30)).unwrap();
    p.begin_transaction().unwrap();
    send_all(&p, "r", 1, &values("open", 5));
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    // 5 aborted + marker + 5 committed + marker + 5 open.
    assert!(wait_until(Duration::from_secs(10), || latest_offset(
        &bs, "r", 0, false
    ) == Some(17)));
    assert_eq!(latest_offset(&bs, "r", 0, true), Some(12));

    b.kill9();
    drop(p);
    b.restart();
    let bs = b.bootstrap();
    // The transaction index was recovered: one aborted transaction, offsets 0..=5 (marker).
    let dir = b.log_dir().join("r-0");
    let index: Vec<u8> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "txnindex"))
        .flat_map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    assert_eq!(
        index.len(),
        34,
        "one 34-byte entry (Kafka's AbortedTxn) in {dir:?}"
    );
    let i64_at = |o: usize| i64::from_be_bytes(index[o..o + 8].try_into().unwrap());
    assert_eq!(
        (i64_at(10), i64_at(18)),
        (0, 5),
        "first offset and marker offset"
    );
    // The producer state was recovered: the open transaction still holds the LSO ...
    assert_eq!(latest_offset(&bs, "r", 0, false), Some(17));
    assert_eq!(latest_offset(&bs, "r", 0, true), Some(12));
    // ... until the coordinator aborts it after transaction.timeout.ms.
    assert!(
        lso_catches_up(std::slice::from_ref(&b), "r", 1, Duration::from_secs(60)),
        "the orphaned transaction was never aborted"
    );
    assert_eq!(latest_offset(&bs, "r", 0, false), Some(18));
    let expected: BTreeSet<String> = values("committed", 5).into_iter().collect();
    assert_read_committed(&bs, "r", 1, &expected);
    // A clean stop leaves a producer snapshot at the log end.
    b.stop();
    let snapshots: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snapshot"))
        .collect();
    assert!(
        snapshots
            .iter()
            .any(|n| n == "00000000000000000018.snapshot"),
        "{snapshots:?}"
    );
}

/// Commit (or, if the client reports the transaction abortable, abort) and say which happened.
fn finish(p: &TxnProducer) -> bool {
    match p.commit_transaction(Duration::from_secs(90)) {
        Ok(()) => {
            eprintln!("transaction committed");
            true
        }
        Err(rdkafka::error::KafkaError::Transaction(e)) if e.txn_requires_abort() => {
            eprintln!("transaction abortable ({e}): aborted");
            p.abort_transaction(Duration::from_secs(90)).expect("abort");
            false
        }
        Err(e) => panic!("commit failed: {e}"),
    }
}

#[test]
fn transactions_complete_when_the_coordinator_or_a_partition_leader_is_killed() {
    let mut nodes = start_cluster(
        weir(),
        3,
        BrokerOptions::default()
            .config("default.replication.factor", "3")
            .config("min.insync.replicas", "2"),
    );
    let bs = all_bootstrap(&nodes);
    assert!(wait_until(Duration::from_secs(30), || nodes
        .iter()
        .all(|n| brokers_registered(n) == 3)));
    assert_eq!(
        create_replicated_topic(&nodes[0].bootstrap(), "x", 3, 3, &[]),
        0
    );
    assert!(wait_until(Duration::from_secs(30), || full_isr(
        &nodes, "x", 3
    )));
    let (p, _) = transactional_producer(&bs, "failover", &[("transaction.timeout.ms", "60000")]);
    let mut committed = BTreeSet::new();

    // 1. Kill the transaction coordinator in the middle of an open transaction.
    p.begin_transaction().unwrap();
    let batch = values("t1", 60);
    send_all(&p, "x", 3, &batch);
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    let coordinator = nodes
        .iter()
        .find_map(|n| txn_coordinator(&n.bootstrap(), "failover"))
        .expect("a coordinator");
    nodes[(coordinator - 1) as usize].kill9();
    if finish(&p) {
        committed.extend(batch);
    }
    nodes[(coordinator - 1) as usize].restart();
    assert!(wait_until(Duration::from_secs(60), || full_isr(
        &nodes, "x", 3
    )));

    // 2. Kill the leader of partition 0 in the middle of another one.
    p.begin_transaction().unwrap();
    let batch = values("t2", 60);
    send_all(&p, "x", 3, &batch[..30]);
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    let leader = view(&nodes, "x", &[])[0].leader;
    assert!(leader > 0);
    nodes[(leader - 1) as usize].kill9();
    send_all(&p, "x", 3, &batch[30..]);
    if finish(&p) {
        committed.extend(batch);
    }
    // 3. One more transaction with the node still down, then everything settles.
    p.begin_transaction().unwrap();
    let batch = values("t3", 30);
    send_all(&p, "x", 3, &batch);
    assert!(
        finish(&p),
        "a transaction with every coordinator and leader up must commit"
    );
    committed.extend(batch);
    nodes[(leader - 1) as usize].restart();
    assert!(wait_until(Duration::from_secs(60), || full_isr(
        &nodes, "x", 3
    )));
    assert!(
        lso_catches_up(&nodes, "x", 3, Duration::from_secs(60)),
        "a transaction was left open"
    );
    assert!(committed.len() >= 30);
    assert_read_committed(&bs, "x", 3, &committed);
}
