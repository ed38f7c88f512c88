//! Issue #24: many partitions on one node with few file descriptors. The broker runs with
//! `RLIMIT_NOFILE` = 512 (soft and hard, so `weir serve` cannot raise it) and holds 2,000
//! partitions: segment files go through the bounded descriptor cache (`log.max.open.files`,
//! default half the limit) and index files hold no descriptor. Before, every partition held its
//! `.log`, `.index` and `.timeindex` open and the topic's creation failed with "Too many open
//! files".

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::{ClientConfig, Offset};
use weir_test_support::clients::{assigned_consumer, consume_n, flush, producer, send};
use weir_test_support::cluster::partitions;
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

const PARTITIONS: i32 = 2_000;
const FD_LIMIT: u64 = 512;

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn create_wide_topic(bootstrap: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let topic = NewTopic::new("wide", PARTITIONS, TopicReplication::Fixed(1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(180)))
        .request_timeout(Some(Duration::from_secs(190)));
    let res = rt
        .block_on(admin.create_topics([&topic], &opts))
        .expect("create_topics request");
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

fn all_led(b: &BrokerProcess) -> bool {
    let ps = partitions(&b.bootstrap(), "wide");
    ps.len() == PARTITIONS as usize && ps.iter().all(|p| p.leader >= 0)
}

fn open_fds(b: &BrokerProcess) -> usize {
    let pid = b.pid().expect("broker pid");
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Every partition's records, consumed from the beginning.
fn consume_all(b: &BrokerProcess) -> BTreeMap<i32, Vec<Vec<u8>>> {
    let c = assigned_consumer(&b.bootstrap(), "wide", PARTITIONS, Offset::Beginning, &[]);
    let msgs = consume_n(&c, PARTITIONS as usize, Duration::from_secs(120));
    let mut out: BTreeMap<i32, Vec<Vec<u8>>> = BTreeMap::new();
    for m in msgs {
        out.entry(m.partition).or_default().push(m.value);
    }
    out
}

#[test]
fn two_thousand_partitions_with_512_file_descriptors_survive_restarts() {
    let mut b = BrokerProcess::start(weir(), BrokerOptions::default().nofile_limit(FD_LIMIT));
    create_wide_topic(&b.bootstrap());
    assert!(
        wait_until(Duration::from_secs(60), || all_led(&b)),
        "not every partition got a leader:\n{}",
        b.output()
    );
    let (p, acks) = producer(&b.bootstrap(), &[("linger.ms", "20")]);
    for i in 0..PARTITIONS {
        send(&p, "wide", Some(i), None, format!("record-{i}").as_bytes());
    }
    assert_eq!(
        flush(&p, Duration::from_secs(120)),
        0,
        "records still queued"
    );
    assert_eq!(
        acks.acked.lock().unwrap().len(),
        PARTITIONS as usize,
        "errors: {:?}",
        acks.errors.lock().unwrap().first()
    );
    let fds = open_fds(&b);
    println!("broker descriptors after producing to {PARTITIONS} partitions: {fds}");
    assert!(fds < FD_LIMIT as usize);
    drop(p);

    // A clean stop, then a kill -9: both restarts read every record back.
    for crash in [false, true] {
        if crash {
            b.kill9();
        } else {
            b.stop();
        }
        b.restart();
        let got = consume_all(&b);
        assert_eq!(
            got.len(),
            PARTITIONS as usize,
            "partitions read back (crash: {crash})"
        );
        for i in 0..PARTITIONS {
            assert_eq!(
                got.get(&i).map(Vec::as_slice),
                Some(&[format!("record-{i}").into_bytes()][..]),
                "partition {i} (crash: {crash})"
            );
        }
        let out = b.output();
        assert!(
            !out.contains("Too many open files") && !out.contains("accept failed"),
            "{out}"
        );
    }
}
