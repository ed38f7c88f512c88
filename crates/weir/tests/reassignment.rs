//! Partition reassignment (KIP-455) with real processes on 127.0.0.1: one dedicated controller
//! and three brokers. Replicas move to another broker while an idempotent acks=all producer
//! runs; every acknowledged record is consumed exactly once, the new replica's log is
//! byte-identical to the others', and the removed replica's directory is deleted. Invalid
//! requests get Kafka's error codes; a cancelled reassignment restores the original replicas.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::cluster::{
    brokers_bootstrap, check_acked_vs_consumed, cluster_options, create_replicated_topic, full_isr,
    list_partition_dir, log_bytes, start_controller_and_three_brokers, view, PartitionView,
    Workload,
};
use weir_test_support::raw::RawClient;
use weir_test_support::{wait_until, BrokerProcess};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// Node 1 is the controller; nodes 2–4 are brokers (index = id - 1).
fn cluster() -> Vec<BrokerProcess> {
    start_controller_and_three_brokers(weir(), cluster_options())
}

/// AlterPartitionReassignments v1 for one topic: `(partition, target)` pairs, `None` cancels.
/// Returns the top-level error code and each partition's error code.
fn alter(
    node: &BrokerProcess,
    topic: &str,
    parts: &[(i32, Option<&[i32]>)],
    allow_rf_change: bool,
) -> (i16, Vec<i16>) {
    let mut c = RawClient::connect(&node.bootstrap());
    let mut t = ReassignableTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    for (p, target) in parts {
        let mut rp = ReassignablePartition::default();
        rp.partition_index = *p;
        rp.replicas = target.map(|r| r.iter().copied().map(BrokerId).collect());
        t.partitions.push(rp);
    }
    let mut req = AlterPartitionReassignmentsRequest::default();
    req.timeout_ms = 30_000;
    req.allow_replication_factor_change = allow_rf_change;
    req.topics = vec![t];
    let resp: AlterPartitionReassignmentsResponse =
        c.call(ApiKey::AlterPartitionReassignments, 1, &req);
    let codes = resp
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect();
    (resp.error_code, codes)
}

/// One ongoing reassignment: (topic, partition, replicas, adding, removing).
type Ongoing = (String, i32, Vec<i32>, Vec<i32>, Vec<i32>);

/// ListPartitionReassignments v0 (all partitions, or `topic`'s `partitions`).
fn list(node: &BrokerProcess, only: Option<(&str, &[i32])>) -> Vec<Ongoing> {
    let mut c = RawClient::connect(&node.bootstrap());
    let mut req = ListPartitionReassignmentsRequest::default();
    req.timeout_ms = 30_000;
    req.topics = only.map(|(topic, parts)| {
        let mut t = ListPartitionReassignmentsTopics::default();
        t.name = TopicName(StrBytes::from_string(topic.to_string()));
        t.partition_indexes = parts.to_vec();
        vec![t]
    });
    let resp: ListPartitionReassignmentsResponse =
        c.call(ApiKey::ListPartitionReassignments, 0, &req);
    assert_eq!(resp.error_code, 0);
    let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<i32>>();
    resp.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    ids(&p.replicas),
                    ids(&p.adding_replicas),
                    ids(&p.removing_replicas),
                )
            })
        })
        .collect()
}

fn set(v: &[i32]) -> BTreeSet<i32> {
    v.iter().copied().collect()
}

/// The reassignment of every partition to `targets[p]` is complete in the metadata: replicas ==
/// target, full ISR within the target, a leader in the target, nothing listed.
fn complete(nodes: &[BrokerProcess], topic: &str, targets: &[Vec<i32>]) -> bool {
    let v = view(nodes, topic, &[]);
    v.len() == targets.len()
        && v.iter()
            .zip(targets)
            .all(|(p, t)| p.replicas == *t && set(&p.isr) == set(t) && t.contains(&p.leader))
        && list(&nodes[1], None).is_empty()
}

#[test]
fn replicas_move_to_another_broker_under_load_without_losing_anything() {
    let _serial = serial();
    let mut nodes = cluster();
    let bs = brokers_bootstrap(&nodes);
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), "moves", 2, 2, &[]),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "moves", 2
    )));
    let before = view(&nodes, "moves", &[]);
    let work = Workload::start(&bs, "moves", 2, Duration::from_millis(2));
    assert!(
        wait_until(Duration::from_secs(30), || work.acked_count() >= 2000),
        "the workload gets going"
    );
    // Partition 0 keeps its leader, drops its follower and gains the third broker; partition 1
    // moves away from its leader to the two other brokers.
    let third = |p: &PartitionView| (2..=4).find(|b| !p.replicas.contains(b)).unwrap_or(-1);
    let p0 = &before[0];
    let follower0 = *p0.replicas.iter().find(|&&r| r != p0.leader).unwrap();
    let target0 = vec![p0.leader, third(p0)];
    let p1 = &before[1];
    let target1: Vec<i32> = (2..=4).filter(|&b| b != p1.leader).collect();
    let targets = [target0.clone(), target1.clone()];
    println!(
        "before: {before:?}; targets {targets:?}; removing {follower0} from 0, leader {} from 1",
        p1.leader
    );
    let started = Instant::now();
    assert_eq!(
        alter(
            &nodes[1],
            "moves",
            &[(0, Some(&target0)), (1, Some(&target1))],
            false
        ),
        (0, vec![0, 0])
    );
    // In progress (union of old and new replicas) or already complete: both are fine.
    for (topic, p, replicas, adding, removing) in list(&nodes[2], Some(("moves", &[0, 1, 7]))) {
        assert_eq!(topic, "moves");
        let target = &targets[p as usize];
        assert_eq!(&replicas[..target.len()], &target[..], "target first");
        assert!(adding.iter().all(|r| target.contains(r)), "{adding:?}");
        assert!(removing.iter().all(|r| !target.contains(r)), "{removing:?}");
    }
    assert!(
        wait_until(Duration::from_secs(60), || complete(
            &nodes, "moves", &targets
        )),
        "reassignments complete: {:?}, listed {:?}\ncontroller:\n{}",
        view(&nodes, "moves", &[]),
        list(&nodes[1], None),
        nodes[0].output()
    );
    let took = started.elapsed();
    let after = view(&nodes, "moves", &[]);
    assert_ne!(
        after[1].leader, p1.leader,
        "leadership moved off the leaving broker"
    );
    // The removed replicas delete their copies.
    let gone = |broker: i32, p: i32| {
        !nodes[(broker - 1) as usize]
            .log_dir()
            .join(format!("moves-{p}"))
            .exists()
    };
    assert!(
        wait_until(Duration::from_secs(20), || gone(follower0, 0)
            && gone(p1.leader, 1)),
        "removed replicas deleted: broker {follower0}: [{}], broker {}: [{}]",
        list_partition_dir(&nodes[(follower0 - 1) as usize].log_dir(), "moves", 0),
        p1.leader,
        list_partition_dir(&nodes[(p1.leader - 1) as usize].log_dir(), "moves", 1),
    );
    // Writes continue on the new replica sets.
    let acked_then = work.acked_count();
    assert!(
        wait_until(Duration::from_secs(30), || work.acked_count()
            >= acked_then + 500),
        "producing continues after the move"
    );
    let (acked, errors) = work.finish();
    assert!(errors.is_empty(), "delivery errors: {errors:?}");
    let (problems, consumed) = check_acked_vs_consumed(
        &bs,
        "moves",
        2,
        &acked,
        acked.len(),
        Duration::from_secs(60),
    );
    println!(
        "reassignment took {took:?}; after: {after:?}; {} acknowledged, {consumed} consumed, {} \
         problems",
        acked.len(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "{:#?}",
        &problems[..problems.len().min(20)]
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "moves", 2
    )));
    // Brokers first (the controller must outlive their controlled shutdowns).
    for n in nodes.iter_mut().rev() {
        n.stop();
    }
    for (p, target) in targets.iter().enumerate() {
        let copies: Vec<Vec<u8>> = target
            .iter()
            .map(|b| log_bytes(&nodes[(*b - 1) as usize].log_dir(), "moves", p as i32))
            .collect();
        assert!(!copies[0].is_empty(), "partition {p} has data");
        assert!(
            copies[1] == copies[0],
            "partition {p}: broker {} has {} bytes, broker {} has {} (or different bytes)",
            target[1],
            copies[1].len(),
            target[0],
            copies[0].len()
        );
    }
}

#[test]
fn invalid_reassignments_get_kafka_errors_and_a_cancel_restores_the_replicas() {
    let _serial = serial();
    let mut nodes = cluster();
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), "t", 1, 2, &[]),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "t", 2
    )));
    let original = view(&nodes, "t", &[])[0].clone();
    let a = original.replicas[0];
    let spare = (2..=4)
        .find(|b| !original.replicas.contains(b))
        .unwrap_or(-1);
    let n = &nodes[(a - 1) as usize];
    const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    for bad in [&[a, 99][..], &[], &[a, a], &[1, a]] {
        assert_eq!(
            alter(n, "t", &[(0, Some(bad))], true),
            (0, vec![INVALID_REPLICA_ASSIGNMENT]),
            "target {bad:?} (broker 99 unknown; node 1 is a controller only)"
        );
    }
    assert_eq!(
        alter(n, "t", &[(0, None)], true),
        (0, vec![85]),
        "NO_REASSIGNMENT_IN_PROGRESS"
    );
    assert_eq!(alter(n, "t", &[(5, Some(&[a]))], true), (0, vec![3]));
    assert_eq!(alter(n, "nope", &[(0, Some(&[a]))], true), (0, vec![3]));
    assert_eq!(
        alter(n, "t", &[(0, Some(&[2, 3, 4]))], false),
        (0, vec![38]),
        "INVALID_REPLICATION_FACTOR without allow_replication_factor_change"
    );
    assert!(list(n, None).is_empty());
    assert!(list(n, Some(("nope", &[0]))).is_empty());
    assert_eq!(view(&nodes, "t", &[])[0], original, "nothing changed");

    // A reassignment onto a dead (fenced but registered) broker cannot finish: it is listed
    // until cancelled, and the cancel restores the original replicas.
    nodes[(spare - 1) as usize].kill9();
    let n = &nodes[(a - 1) as usize];
    let target = [a, spare];
    assert_eq!(alter(n, "t", &[(0, Some(&target))], false), (0, vec![0]));
    let listed = list(n, Some(("t", &[0])));
    assert_eq!(listed.len(), 1, "{listed:?}");
    let (_, _, replicas, adding, removing) = &listed[0];
    assert_eq!(replicas[..2], target[..]);
    assert_eq!((adding.clone(), removing.len()), (vec![spare], 1));
    // `weir topics reassignments` shows it, `weir topics reassign --cancel` cancels it.
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("topics")
            .args(["-b", &n.bootstrap()])
            .args(args)
            .output()
            .expect("run weir topics")
    };
    let out = cli(&["reassignments", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(j[0]["topic"], "t");
    assert_eq!(j[0]["adding_replicas"], serde_json::json!([spare]));
    let bad = cli(&[
        "reassign",
        "t",
        "--partition",
        "0",
        "--replicas",
        &format!("{a},99"),
    ]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("INVALID_REPLICA_ASSIGNMENT (39)"),
        "{err}"
    );
    let out = cli(&["reassign", "t", "--partition", "0", "--cancel"]);
    assert!(out.status.success(), "{out:?}");
    assert!(list(n, None).is_empty());
    assert!(
        String::from_utf8_lossy(&cli(&["reassignments"]).stdout)
            .lines()
            .count()
            == 1
    );
    let again = cli(&["reassign", "t", "--partition", "0", "--cancel"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("NO_REASSIGNMENT_IN_PROGRESS (85)"));
    let p = view(&nodes, "t", &[])[0].clone();
    assert_eq!(
        (p.replicas, set(&p.isr)),
        (original.replicas.clone(), set(&original.isr))
    );
    for n in nodes.iter_mut().rev() {
        n.stop();
    }
}
