//! Consumer groups against a real `weir` process with librdkafka (rdkafka crate): three members
//! share a 6-partition topic, a member that leaves or dies hands its partitions over, every
//! message is consumed at least once, committed offsets advance and survive a broker restart,
//! and `group.protocol=consumer` (KIP-848) members work.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use weir_test_support::clients::{create_topic, flush, producer, send};
use weir_test_support::group_member::GroupMember;
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn broker() -> BrokerProcess {
    BrokerProcess::start(
        weir(),
        BrokerOptions::default().config("group.initial.rebalance.delay.ms", "0"),
    )
}

fn produce(bootstrap: &str, topic: &str, from: usize, n: usize) {
    let (p, acks) = producer(bootstrap, &[]);
    for i in from..from + n {
        send(
            &p,
            topic,
            None,
            Some(format!("k{i}").as_bytes()),
            format!("v{i}").as_bytes(),
        );
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    assert!(acks.errors.lock().unwrap().is_empty());
}

/// Committed offsets of `group` for partitions 0..n of `topic` (-1 when none).
fn committed(bootstrap: &str, group: &str, topic: &str, n: i32) -> Vec<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..n {
        tpl.add_partition(topic, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    (0..n)
        .map(|p| match got.find_partition(topic, p).unwrap().offset() {
            Offset::Offset(o) => o,
            _ => -1,
        })
        .collect()
}

/// True when the members' assignments are pairwise disjoint and cover 0..n exactly.
fn partitioned(members: &[&GroupMember], n: i32) -> bool {
    let sets: Vec<BTreeSet<i32>> = members.iter().map(|m| m.assignment()).collect();
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
    total == n as usize && union == (0..n).collect()
}

fn all_consumed(members: &[&GroupMember]) -> HashSet<(i32, i64)> {
    members
        .iter()
        .flat_map(|m| m.lock().consumed.clone())
        .collect()
}

fn three_members_share_and_hand_over(extra: &[(&str, &str)], group: &str) {
    let b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "orders", 6, &[]);
    produce(&bs, "orders", 0, 600);
    let mut m1 = GroupMember::start(&bs, group, "orders", extra);
    let m2 = GroupMember::start(&bs, group, "orders", extra);
    let m3 = GroupMember::start(&bs, group, "orders", extra);
    assert!(
        wait_until(Duration::from_secs(30), || {
            partitioned(&[&m1, &m2, &m3], 6)
                && [&m1, &m2, &m3].iter().all(|m| !m.assignment().is_empty())
        }),
        "each of 6 partitions owned by exactly one of 3 members: {:?} {:?} {:?}",
        m1.assignment(),
        m2.assignment(),
        m3.assignment()
    );
    assert!(wait_until(Duration::from_secs(30), || all_consumed(&[
        &m1, &m2, &m3
    ])
    .len()
        == 600));

    // One member leaves: the other two take over its partitions.
    let t0 = Instant::now();
    m1.stop();
    assert!(
        wait_until(Duration::from_secs(30), || partitioned(&[&m2, &m3], 6)),
        "after a member left: {:?} {:?}",
        m2.assignment(),
        m3.assignment()
    );
    println!(
        "[{group}] partitions reassigned {:?} after a member left",
        t0.elapsed()
    );
    produce(&bs, "orders", 600, 300);
    assert!(
        wait_until(Duration::from_secs(30), || {
            all_consumed(&[&m1, &m2, &m3]).len() == 900
        }),
        "every produced message is consumed at least once"
    );
    // Auto commit moves the committed offsets to the end of every partition.
    assert!(
        wait_until(Duration::from_secs(30), || {
            committed(&bs, group, "orders", 6).iter().sum::<i64>() == 900
        }),
        "committed offsets advance to the log end: {:?}",
        committed(&bs, group, "orders", 6)
    );
    for m in [&m1, &m2, &m3] {
        assert!(
            m.lock().errors.iter().all(|e| !e.contains("Fatal")),
            "{:?}",
            m.lock().errors
        );
    }
}

#[test]
fn classic_group_three_members_share_six_partitions_and_hand_over() {
    three_members_share_and_hand_over(&[("session.timeout.ms", "6000")], "classic-g");
}

#[test]
fn consumer_protocol_group_three_members_share_six_partitions_and_hand_over() {
    three_members_share_and_hand_over(&[("group.protocol", "consumer")], "kip848-g");
}

/// A member that dies without leaving (SIGKILL of a `weir consume --group` process) loses its
/// partitions once its session times out (6 s here).
#[test]
fn a_killed_member_loses_its_partitions_after_the_session_timeout() {
    let b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "jobs", 6, &[]);
    produce(&bs, "jobs", 0, 60);
    let m1 = GroupMember::start(
        &bs,
        "crashy",
        "jobs",
        &[
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
        ],
    );
    let mut child = Command::new(weir())
        .args([
            "consume", "jobs", "-b", &bs, "--group", "crashy", "--follow",
        ])
        .args([
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "heartbeat.interval.ms=500",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let describe = |bs: &str| -> usize {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bs)
            .create()
            .unwrap();
        c.fetch_group_list(Some("crashy"), Duration::from_secs(5))
            .map(|l| l.groups().first().map(|g| g.members().len()).unwrap_or(0))
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(30), || describe(&bs) == 2
            && m1.assignment().len() == 3),
        "two members share the partitions: {:?}",
        m1.assignment()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let t0 = Instant::now();
    assert!(
        wait_until(Duration::from_secs(30), || m1.assignment().len() == 6),
        "the survivor owns everything after the session timeout"
    );
    let took = t0.elapsed();
    println!("partitions of the killed member moved after {took:?} (session.timeout.ms=6000)");
    // Session timeout plus one heartbeat round trip of the survivor and the rebalance.
    assert!(took < Duration::from_secs(6 + 2), "took {took:?}");
}

#[test]
fn committed_offsets_and_group_metadata_survive_a_broker_restart() {
    let mut b = broker();
    let bs = b.bootstrap();
    create_topic(&bs, "events", 2, &[]);
    produce(&bs, "events", 0, 100);
    let mut m = GroupMember::start(&bs, "durable", "events", &[("session.timeout.ms", "6000")]);
    assert!(wait_until(Duration::from_secs(30), || m
        .lock()
        .consumed
        .len()
        == 100));
    m.stop(); // commits synchronously and leaves
    let before = committed(&bs, "durable", "events", 2);
    assert_eq!(before.iter().sum::<i64>(), 100, "{before:?}");

    b.stop();
    b.restart();
    assert_eq!(
        committed(&bs, "durable", "events", 2),
        before,
        "offsets survive the restart"
    );
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .create()
        .unwrap();
    let groups = c
        .fetch_group_list(Some("durable"), Duration::from_secs(5))
        .unwrap();
    let g = &groups.groups()[0];
    assert_eq!(
        (g.name(), g.state(), g.protocol_type()),
        ("durable", "Empty", "consumer")
    );

    // A new member resumes at the committed offsets: it sees only the new messages.
    produce(&bs, "events", 100, 10);
    let m2 = GroupMember::start(&bs, "durable", "events", &[("session.timeout.ms", "6000")]);
    assert!(wait_until(Duration::from_secs(30), || m2
        .lock()
        .consumed
        .len()
        == 10));
    let consumed = m2.lock().consumed.clone();
    for (p, o) in consumed {
        assert!(
            o >= before[p as usize],
            "partition {p} offset {o} was already committed"
        );
    }
}
