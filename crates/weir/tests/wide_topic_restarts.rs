//! Issue #24: creating many partitions at once and restarting with them. Partitions are opened,
//! created and given their leader epochs in batches on a few threads (`weir-log/src/open_many.rs`)
//! with every step made durable before it is relied upon as before: a topic created and written
//! to, then the broker killed with SIGKILL, comes back with its records and its epochs; a
//! `leader-epoch-checkpoint` whose content does not change is not rewritten (by a later metadata
//! change or a restart); and CreateTopics answers within its timeout while the partitions are
//! still being created, as Kafka answers once the topic is committed.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::{ClientConfig, Offset};
use weir_test_support::clients::{
    assigned_consumer, consume_n, create_topic, flush, producer, send,
};
use weir_test_support::cluster::partitions;
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

const PARTITIONS: i32 = 500;

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// CreateTopics with `operation_timeout`; returns how long the answer took.
fn create_wide(bootstrap: &str, name: &str, n: i32, operation_timeout: Duration) -> Duration {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let topic = NewTopic::new(name, n, TopicReplication::Fixed(1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let opts = AdminOptions::new()
        .operation_timeout(Some(operation_timeout))
        .request_timeout(Some(Duration::from_secs(300)));
    let t0 = Instant::now();
    let res = rt
        .block_on(admin.create_topics([&topic], &opts))
        .expect("create_topics request");
    let took = t0.elapsed();
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
    took
}

fn all_led(b: &BrokerProcess, topic: &str, n: i32) -> bool {
    let ps = partitions(&b.bootstrap(), topic);
    ps.len() == n as usize && ps.iter().all(|p| p.leader >= 0)
}

/// One record per partition (partition i gets `record-i`), every one acknowledged.
fn produce_one_each(b: &BrokerProcess, topic: &str, n: i32) {
    let (p, acks) = producer(&b.bootstrap(), &[("linger.ms", "20")]);
    for i in 0..n {
        send(&p, topic, Some(i), None, format!("record-{i}").as_bytes());
    }
    assert_eq!(
        flush(&p, Duration::from_secs(120)),
        0,
        "records still queued"
    );
    assert_eq!(
        acks.acked.lock().unwrap().len(),
        n as usize,
        "errors: {:?}",
        acks.errors.lock().unwrap().first()
    );
}

/// Every partition holds exactly its record.
fn assert_records_back(b: &BrokerProcess, topic: &str, n: i32, when: &str) {
    let c = assigned_consumer(&b.bootstrap(), topic, n, Offset::Beginning, &[]);
    let mut got: BTreeMap<i32, Vec<Vec<u8>>> = BTreeMap::new();
    for m in consume_n(&c, n as usize, Duration::from_secs(120)) {
        got.entry(m.partition).or_default().push(m.value);
    }
    for i in 0..n {
        assert_eq!(
            got.get(&i).map(Vec::as_slice),
            Some(&[format!("record-{i}").into_bytes()][..]),
            "partition {i} {when}"
        );
    }
}

/// Each partition's `leader-epoch-checkpoint`: its text and inode (a rewrite renames a new file
/// over it, so a new inode).
fn checkpoints(b: &BrokerProcess, topic: &str, n: i32) -> Vec<(String, u64)> {
    (0..n)
        .map(|i| {
            let f = b
                .log_dir()
                .join(format!("{topic}-{i}"))
                .join("leader-epoch-checkpoint");
            let text =
                std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (text, std::fs::metadata(&f).unwrap().ino())
        })
        .collect()
}

/// The `epoch start` entries of a checkpoint's text.
fn entries(text: &str) -> Vec<String> {
    text.lines().skip(2).map(str::to_string).collect()
}

#[test]
fn created_partitions_keep_records_and_epochs_and_unchanged_checkpoints_stay_untouched() {
    let mut b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_wide(&b.bootstrap(), "wide", PARTITIONS, Duration::from_secs(120));
    assert!(
        wait_until(Duration::from_secs(60), || all_led(&b, "wide", PARTITIONS)),
        "not every partition got a leader:\n{}",
        b.output()
    );
    produce_one_each(&b, "wide", PARTITIONS);
    let written = checkpoints(&b, "wide", PARTITIONS);
    let epochs = partitions(&b.bootstrap(), "wide");
    for (i, (text, _)) in written.iter().enumerate() {
        assert_eq!(
            entries(text),
            vec![format!("{} 0", epochs[i].leader_epoch)],
            "partition {i}: the leader epoch it was created with"
        );
    }

    // Another topic: every partition of this node is applied again, none changes its epoch.
    create_topic(&b.bootstrap(), "other", 1, &[]);
    assert_eq!(
        checkpoints(&b, "wide", PARTITIONS),
        written,
        "checkpoints rewritten by an unrelated metadata change"
    );

    // kill -9: the records and the epochs are back; a single-replica partition keeps its leader
    // and epoch across the restart, so its checkpoint is not written again.
    b.kill9();
    b.restart();
    assert_records_back(&b, "wide", PARTITIONS, "after kill -9");
    assert_eq!(
        checkpoints(&b, "wide", PARTITIONS),
        written,
        "checkpoints lost or rewritten across kill -9"
    );

    // A clean stop: on a single node the leaders and epochs stay (nothing is rewritten), unless
    // the stop outlasted the broker session and the controller fenced the node meanwhile; then
    // each checkpoint keeps its entry and gains the new epoch at the log end.
    b.stop();
    b.restart();
    assert!(
        wait_until(Duration::from_secs(60), || all_led(&b, "wide", PARTITIONS)),
        "not every partition got a leader after the restart:\n{}",
        b.output()
    );
    assert_records_back(&b, "wide", PARTITIONS, "after a clean stop");
    let now = partitions(&b.bootstrap(), "wide");
    for (i, after) in checkpoints(&b, "wide", PARTITIONS).iter().enumerate() {
        if now[i].leader_epoch == epochs[i].leader_epoch {
            assert_eq!(
                after, &written[i],
                "partition {i}: rewritten by a clean restart with its epoch unchanged"
            );
        } else {
            assert_eq!(
                entries(&after.0),
                vec![
                    entries(&written[i].0)[0].clone(),
                    format!("{} 1", now[i].leader_epoch)
                ],
                "partition {i} after a clean restart in a new epoch"
            );
        }
    }
}

#[test]
fn create_topics_answers_within_its_timeout_while_partitions_are_still_being_created() {
    const N: i32 = 3_000;
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    let took = create_wide(&b.bootstrap(), "wide", N, Duration::from_millis(1_000));
    assert!(
        took < Duration::from_secs(6),
        "CreateTopics answered after {took:?}, its timeout was 1 s"
    );
    assert!(
        b.output().contains("still being applied locally"),
        "the answer did not come while partitions were being created (took {took:?}):\n{}",
        b.output()
    );
    // The partitions become available as the broker creates them: every one takes a record.
    produce_one_each(&b, "wide", N);
}
