//! Transactions against a real `weir` process with librdkafka (the `rdkafka` crate): commit and
//! abort across topics and partitions seen through read_committed and read_uncommitted
//! consumers, fencing by a second producer with the same transactional.id, a transaction left
//! open by a vanished producer aborted by the broker's timeout, consumer offsets committed in a
//! transaction, and the `weir transactions` / `weir produce --transactional-id` / `weir consume
//! --isolation-level` commands.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use weir_test_support::clients::{
    assigned_consumer, consume_n, create_topic, flush, producer, send, AckLog, Msg,
};
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

/// How long a transactional call may take.
const TXN: Duration = Duration::from_secs(30);

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// A single broker whose transaction coordinator looks for timed-out transactions every 500 ms
/// (Kafka's `transaction.abort.timed.out.transaction.cleanup.interval.ms`, default 10 s).
fn broker() -> BrokerProcess {
    BrokerProcess::start(
        weir(),
        BrokerOptions::default()
            .config("transaction.state.log.replication.factor", "1")
            .config("transaction.state.log.min.isr", "1")
            .config(
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                "500",
            )
            .config("group.initial.rebalance.delay.ms", "0"),
    )
}

/// A transactional producer (`transactional.id` = `id`) with transactions initialised.
fn txn_producer(bootstrap: &str, id: &str, extra: &[(&str, &str)]) -> BaseProducer<AckLog> {
    let mut cfg = vec![("transactional.id", id), ("linger.ms", "1")];
    cfg.extend_from_slice(extra);
    let (p, _) = producer(bootstrap, &cfg);
    p.init_transactions(TXN)
        .unwrap_or_else(|e| panic!("init_transactions({id}): {e}"));
    p
}

/// A consumer of every partition of `topic` from the beginning, at `isolation`.
fn reader(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> BaseConsumer {
    assigned_consumer(
        bootstrap,
        topic,
        partitions,
        Offset::Beginning,
        &[("isolation.level", isolation)],
    )
}

/// Exactly `n` messages of the consumer (fails if fewer arrive within 60 s or more follow).
fn read_exactly(c: &BaseConsumer, n: usize) -> Vec<Msg> {
    let got = consume_n(c, n, Duration::from_secs(60));
    assert_eq!(got.len(), n, "expected {n} messages, read {got:?}");
    let extra = consume_n(c, 1, Duration::from_secs(1));
    assert!(extra.is_empty(), "unexpected messages after {n}: {extra:?}");
    got
}

/// Values per partition, in offset order.
fn values_by_partition(msgs: &[Msg]) -> BTreeMap<i32, Vec<String>> {
    let mut m: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for x in msgs {
        m.entry(x.partition)
            .or_default()
            .push(String::from_utf8_lossy(&x.value).into_owned());
    }
    m
}

/// Send `{tag}-{topic}-{partition}-{i}` for i < per_partition to every partition of `topics`.
fn send_batch(p: &BaseProducer<AckLog>, topics: &[&str], partitions: i32, per: usize, tag: &str) {
    for t in topics {
        for part in 0..partitions {
            for i in 0..per {
                let v = format!("{tag}-{t}-{part}-{i}");
                send(p, t, Some(part), None, v.as_bytes());
            }
        }
    }
}

fn expected(topic: &str, partitions: i32, per: usize, tags: &[&str]) -> BTreeMap<i32, Vec<String>> {
    (0..partitions)
        .map(|part| {
            let vals = tags
                .iter()
                .flat_map(|tag| (0..per).map(move |i| format!("{tag}-{topic}-{part}-{i}")))
                .collect();
            (part, vals)
        })
        .collect()
}

#[test]
fn committed_and_aborted_transactions_across_topics_and_partitions() {
    let b = broker();
    let bs = b.bootstrap();
    let topics = ["txn-a", "txn-b"];
    for t in topics {
        create_topic(&bs, t, 3, &[]);
    }
    const PER: usize = 20;
    let p = txn_producer(&bs, "two-topics", &[]);
    p.begin_transaction().unwrap();
    send_batch(&p, &topics, 3, PER, "c1");
    p.commit_transaction(TXN)
        .expect("commit the first transaction");
    p.begin_transaction().unwrap();
    send_batch(&p, &topics, 3, PER, "ab");
    assert_eq!(flush(&p, TXN), 0, "the aborted records reached the log");
    p.abort_transaction(TXN)
        .expect("abort the second transaction");
    p.begin_transaction().unwrap();
    send_batch(&p, &topics, 3, PER, "c2");
    p.commit_transaction(TXN)
        .expect("commit the third transaction");

    for t in topics {
        let committed = read_exactly(&reader(&bs, t, 3, "read_committed"), 3 * PER * 2);
        assert_eq!(
            values_by_partition(&committed),
            expected(t, 3, PER, &["c1", "c2"]),
            "read_committed on {t}: the committed records in order, none of the aborted"
        );
        let all = read_exactly(&reader(&bs, t, 3, "read_uncommitted"), 3 * PER * 3);
        assert_eq!(
            values_by_partition(&all),
            expected(t, 3, PER, &["c1", "ab", "c2"]),
            "read_uncommitted on {t}: every record"
        );
    }
}

/// True for the errors librdkafka reports for a producer fenced by a newer one.
fn is_fenced(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

#[test]
fn a_second_producer_with_the_same_transactional_id_fences_the_first() {
    let b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "fenced", 1, &[]);
    let old = txn_producer(&bs, "shared-id", &[]);
    old.begin_transaction().unwrap();
    send(&old, "fenced", Some(0), None, b"old-before");
    assert_eq!(flush(&old, TXN), 0);

    // InitProducerId for the same id bumps the epoch and aborts the open transaction.
    let new = txn_producer(&bs, "shared-id", &[]);

    // The old producer's next operation fails fatally.
    let rec = BaseRecord::<(), [u8]>::to("fenced")
        .partition(0)
        .payload(b"old-after".as_slice());
    let sent = old.send(rec).map_err(|(e, _)| e);
    let committed = old.commit_transaction(TXN);
    assert!(
        sent.is_err() || committed.is_err(),
        "the fenced producer committed"
    );
    let fatal = old.client().fatal_error();
    let err_code = committed
        .err()
        .or(sent.err())
        .and_then(|e: KafkaError| e.rdkafka_error_code());
    assert!(
        fatal.as_ref().is_some_and(|(c, _)| is_fenced(*c)) || err_code.is_some_and(is_fenced),
        "expected a fatal fencing error, got fatal={fatal:?} error={err_code:?}"
    );

    new.begin_transaction().unwrap();
    send(&new, "fenced", Some(0), None, b"new");
    new.commit_transaction(TXN)
        .expect("the new producer commits");

    let got = read_exactly(&reader(&bs, "fenced", 1, "read_committed"), 1);
    assert_eq!(
        got[0].value, b"new",
        "only the new producer's record is committed"
    );
}

#[test]
fn a_transaction_left_open_is_aborted_after_its_timeout() {
    let b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "abandoned", 1, &[]);
    {
        // librdkafka wants message.timeout.ms <= transaction.timeout.ms.
        let p = txn_producer(
            &bs,
            "vanishing",
            &[
                ("transaction.timeout.ms", "3000"),
                ("message.timeout.ms", "3000"),
            ],
        );
        p.begin_transaction().unwrap();
        send(&p, "abandoned", Some(0), None, b"never-committed");
        assert_eq!(flush(&p, TXN), 0);
        // Dropped without commit or abort.
    }
    let opened = Instant::now();
    let p2 = txn_producer(&bs, "survivor", &[]);
    p2.begin_transaction().unwrap();
    send(&p2, "abandoned", Some(0), None, b"committed-later");
    p2.commit_transaction(TXN).unwrap();

    // The committed record sits behind the open transaction (above the last stable offset) until
    // the coordinator aborts it: 3 s timeout + a 500 ms cleanup interval + the markers.
    let c = reader(&bs, "abandoned", 1, "read_committed");
    let got = consume_n(&c, 1, Duration::from_secs(60));
    assert_eq!(
        got.iter().map(|m| m.value.as_slice()).collect::<Vec<_>>(),
        vec![b"committed-later".as_slice()],
        "read_committed moves past the timed-out transaction"
    );
    assert!(
        opened.elapsed() >= Duration::from_secs(2),
        "the open transaction cannot have been aborted before its timeout ({:?})",
        opened.elapsed()
    );
    assert!(consume_n(&c, 1, Duration::from_secs(1)).is_empty());
    let all = read_exactly(&reader(&bs, "abandoned", 1, "read_uncommitted"), 2);
    assert_eq!(all[0].value, b"never-committed");
    assert_eq!(all[1].value, b"committed-later");
}

/// The committed offset of `group` on `topic`-0 (-1 when none), read without requiring stable
/// offsets (read_uncommitted), so a pending transactional commit is simply not there yet.
fn committed_offset(bootstrap: &str, group: &str, topic: &str) -> i64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("isolation.level", "read_uncommitted")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    match got.find_partition(topic, 0).unwrap().offset() {
        Offset::Offset(o) => o,
        _ => -1,
    }
}

#[test]
fn offsets_sent_to_a_transaction_are_committed_only_with_it() {
    let b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "eos-in", 1, &[]);
    create_topic(&bs, "eos-out", 1, &[]);
    let (plain, _) = producer(&bs, &[]);
    for i in 0..10 {
        send(
            &plain,
            "eos-in",
            Some(0),
            None,
            format!("in-{i}").as_bytes(),
        );
    }
    assert_eq!(flush(&plain, TXN), 0);

    let group = "eos-group";
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    consumer.subscribe(&["eos-in"]).unwrap();
    let input = consume_n(&consumer, 10, Duration::from_secs(60));
    assert_eq!(input.len(), 10);

    let p = txn_producer(&bs, "eos-offsets", &[]);
    let offsets = |o: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("eos-in", 0, Offset::Offset(o))
            .unwrap();
        tpl
    };
    let meta = consumer.group_metadata().expect("group metadata");

    // Aborted: neither the output nor the offsets.
    p.begin_transaction().unwrap();
    send(&p, "eos-out", Some(0), None, b"out-aborted");
    p.send_offsets_to_transaction(&offsets(5), &meta, TXN)
        .expect("send offsets 5");
    assert_eq!(flush(&p, TXN), 0);
    p.abort_transaction(TXN).unwrap();
    assert_eq!(committed_offset(&bs, group, "eos-in"), -1);

    // Pending until the commit, then visible.
    p.begin_transaction().unwrap();
    for m in &input {
        send(&p, "eos-out", Some(0), None, &m.value);
    }
    p.send_offsets_to_transaction(&offsets(10), &meta, TXN)
        .expect("send offsets 10");
    assert_eq!(flush(&p, TXN), 0);
    assert_eq!(
        committed_offset(&bs, group, "eos-in"),
        -1,
        "transactional offsets are invisible before the commit"
    );
    p.commit_transaction(TXN).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || committed_offset(
            &bs, group, "eos-in"
        ) == 10),
        "the committed transaction's offsets become the group's committed offsets"
    );
    let out = read_exactly(&reader(&bs, "eos-out", 1, "read_committed"), 10);
    let vals: Vec<Vec<u8>> = out.into_iter().map(|m| m.value).collect();
    let want: Vec<Vec<u8>> = input.into_iter().map(|m| m.value).collect();
    assert_eq!(vals, want);
}

fn run_weir(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(weir());
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run weir");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("wait for weir")
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "weir failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Whitespace-separated cells of the table line whose first cell is `first`.
fn row<'a>(table: &'a str, first: &str) -> Option<Vec<&'a str>> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|c| c.first() == Some(&first))
}

#[test]
fn cli_lists_and_describes_an_ongoing_transaction_and_round_trips_one() {
    let b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "cli-txn", 2, &[]);
    let p = txn_producer(&bs, "cli-open", &[]);
    p.begin_transaction().unwrap();
    send(&p, "cli-txn", Some(1), None, b"pending");
    assert_eq!(flush(&p, TXN), 0);

    let list = ok(run_weir(&["transactions", "-b", &bs, "list"], None));
    let header: Vec<&str> = list.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState"
        ]
    );
    let r = row(&list, "cli-open").unwrap_or_else(|| panic!("cli-open not listed:\n{list}"));
    assert_eq!(r[3], "Ongoing", "{list}");

    let described = ok(run_weir(
        &[
            "transactions",
            "-b",
            &bs,
            "describe",
            "--transactional-id",
            "cli-open",
        ],
        None,
    ));
    let r = described
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no row:\n{described}"))
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(r[1], "cli-open", "{described}");
    assert_eq!(r[4], "Ongoing", "{described}");
    assert_eq!(r[9], "cli-txn-1", "{described}");
    assert!(r[6].parse::<i64>().unwrap() > 0, "{described}");
    // The positional form answers the same.
    let positional = ok(run_weir(
        &["transactions", "-b", &bs, "describe", "cli-open"],
        None,
    ));
    assert!(positional.contains("Ongoing"), "{positional}");

    // Nothing is hanging: the coordinator owns the open transaction.
    let hanging = ok(run_weir(
        &[
            "transactions",
            "-b",
            &bs,
            "find-hanging",
            "--broker-id",
            "1",
            "--max-transaction-timeout",
            "0",
        ],
        None,
    ));
    assert_eq!(hanging.lines().count(), 1, "{hanging}");

    p.commit_transaction(TXN).unwrap();
    assert!(wait_until(Duration::from_secs(30), || {
        let d = ok(run_weir(
            &["transactions", "-b", &bs, "describe", "cli-open"],
            None,
        ));
        d.contains("CompleteCommit")
    }));

    // An unknown id fails with Kafka's error name.
    let unknown = run_weir(&["transactions", "-b", &bs, "describe", "no-such-id"], None);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("TRANSACTIONAL_ID_NOT_FOUND"),
        "{unknown:?}"
    );

    create_topic(&bs, "cli-rt", 1, &[]);
    let produced = run_weir(
        &[
            "produce",
            "cli-rt",
            "-b",
            &bs,
            "--transactional-id",
            "cli-producer",
        ],
        Some("one\ntwo\nthree\n"),
    );
    ok(produced);
    let consumed = ok(run_weir(
        &[
            "consume",
            "cli-rt",
            "-b",
            &bs,
            "--from-beginning",
            "--isolation-level",
            "read_committed",
        ],
        None,
    ));
    assert_eq!(consumed, "one\ntwo\nthree\n");
    let listed = ok(run_weir(&["transactions", "-b", &bs, "list"], None));
    let r = row(&listed, "cli-producer").unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(r[3], "CompleteCommit", "{listed}");
}
