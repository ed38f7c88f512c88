//! The Raft metadata quorum with three real `weir` processes on 127.0.0.1 (combined
//! broker+controller nodes): topics created on any node reach every node, SIGKILL of the Raft
//! leader elects a new one and metadata writes continue within 2 s, the killed node catches up
//! after a restart, nothing committed is lost or reordered, and a restart of every voter brings
//! the identical metadata back.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::raw::RawClient;
use weir_test_support::{start_cluster, wait_until, BrokerOptions, BrokerProcess};

/// The tests of this file run one at a time: each starts 3–5 broker processes, and the failover
/// timings they print should not measure CPU contention between them.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// (topic → (id, [(leader, epoch, replicas, isr)])) and the controller id, as `node` reports.
type Topics = BTreeMap<String, (String, Vec<(i32, i32, Vec<i32>, Vec<i32>)>)>;

fn describe(node: &BrokerProcess) -> (Topics, i32, usize) {
    let mut c = RawClient::connect(&node.bootstrap());
    let mut req = MetadataRequest::default();
    req.topics = None;
    let md: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    let topics = md
        .topics
        .iter()
        .map(|t| {
            let parts = t
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.leader_id.0,
                        p.leader_epoch,
                        p.replica_nodes.iter().map(|r| r.0).collect(),
                        p.isr_nodes.iter().map(|r| r.0).collect(),
                    )
                })
                .collect();
            (
                t.name.as_ref().unwrap().to_string(),
                (t.topic_id.to_string(), parts),
            )
        })
        .collect();
    (topics, md.controller_id.0, md.brokers.len())
}

/// The active controller (Raft leader) as `node` knows it: DescribeCluster v1 with endpoint
/// type 2 (controllers).
/// DescribeCluster v2's brokers as (id, is_fenced).
fn described_brokers(node: &BrokerProcess, include_fenced: bool) -> Vec<(i32, bool)> {
    let mut c = RawClient::connect(&node.bootstrap());
    let mut req = DescribeClusterRequest::default();
    req.endpoint_type = 1;
    req.include_fenced_brokers = include_fenced;
    let r: DescribeClusterResponse = c.call(ApiKey::DescribeCluster, 2, &req);
    r.brokers
        .iter()
        .map(|b| (b.broker_id.0, b.is_fenced))
        .collect()
}

fn active_controller(node: &BrokerProcess) -> i32 {
    let mut c = RawClient::connect(&node.bootstrap());
    let mut req = DescribeClusterRequest::default();
    req.endpoint_type = 2;
    let resp: DescribeClusterResponse = c.call(ApiKey::DescribeCluster, 1, &req);
    resp.controller_id.0
}

/// CreateTopics through `node`; returns the error code.
fn create(node: &BrokerProcess, name: &str, partitions: i32, rf: i16) -> i16 {
    let mut c = RawClient::connect(&node.bootstrap());
    let mut t = CreatableTopic::default();
    t.name = TopicName(StrBytes::from_string(name.to_string()));
    t.num_partitions = partitions;
    t.replication_factor = rf;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 30_000;
    let resp: CreateTopicsResponse = c.call(ApiKey::CreateTopics, 5, &req);
    resp.topics[0].error_code
}

/// topic → (id, replicas of each partition): what a restart must preserve exactly.
fn assignments(t: &Topics) -> BTreeMap<String, (String, Vec<Vec<i32>>)> {
    t.iter()
        .map(|(n, (id, parts))| {
            (
                n.clone(),
                (id.clone(), parts.iter().map(|p| p.2.clone()).collect()),
            )
        })
        .collect()
}

fn names(t: &Topics) -> Vec<String> {
    t.keys().filter(|n| !n.starts_with("__")).cloned().collect()
}

#[test]
fn three_voters_elect_a_new_leader_after_sigkill_and_keep_every_committed_record() {
    let _serial = serial();
    let mut nodes = start_cluster(
        weir(),
        3,
        BrokerOptions::default().config("broker.session.timeout.ms", "3000"),
    );
    assert!(
        wait_until(Duration::from_secs(30), || {
            nodes.iter().all(|n| {
                let (_, controller, brokers) = describe(n);
                controller > 0 && brokers == 3
            })
        }),
        "three registered brokers and a controller:\n{}",
        nodes[0].output()
    );
    // Topics created through different nodes (followers forward to the leader).
    for i in 0..6 {
        let code = create(&nodes[i % 3], &format!("topic-{i}"), 3, 3);
        assert_eq!(code, 0, "create topic-{i} via node {}", i % 3 + 1);
    }
    assert!(wait_until(Duration::from_secs(10), || {
        let all: Vec<Topics> = nodes.iter().map(|n| describe(n).0).collect();
        names(&all[0]).len() == 6 && all.windows(2).all(|w| w[0] == w[1])
    }));
    let (before, leader, _) = describe(&nodes[0]);
    for (_, (_, parts)) in before.iter().filter(|(n, _)| !n.starts_with("__")) {
        for (l, _, replicas, isr) in parts {
            let mut r = replicas.clone();
            r.sort();
            assert_eq!(r, vec![1, 2, 3], "rf=3 over three brokers");
            assert_eq!(isr.len(), 3);
            assert!(replicas.contains(l));
        }
    }

    // SIGKILL the Raft leader; a write through a survivor succeeds once a new leader is elected.
    let li = (leader - 1) as usize;
    let survivor = (li + 1) % 3;
    nodes[li].kill9();
    let t0 = Instant::now();
    let code = create(&nodes[survivor], "after-failover", 1, 1);
    let took = t0.elapsed();
    println!("node {leader} (Raft leader) killed: a metadata write committed {took:?} later");
    assert_eq!(code, 0);
    assert!(
        took < Duration::from_secs(2),
        "metadata writes resumed after {took:?}"
    );
    let (_, new_leader, _) = describe(&nodes[survivor]);
    assert!(
        new_leader > 0 && new_leader != leader,
        "new controller {new_leader}"
    );

    // After broker.session.timeout.ms the dead broker is fenced: it leaves every ISR and the
    // partitions it led get a new leader from the ISR, with a bumped leader epoch.
    let t1 = Instant::now();
    assert!(
        wait_until(Duration::from_secs(15), || {
            let (now, _, _) = describe(&nodes[survivor]);
            before
                .iter()
                .filter(|(n, _)| !n.starts_with("__"))
                .all(|(n, (_, parts))| {
                    parts.iter().zip(&now[n].1).all(|(old, new)| {
                        !new.3.contains(&leader)
                            && new.0 != leader
                            && old.3.contains(&new.0)
                            && (old.0 != leader || new.1 == old.1 + 1)
                    })
                })
        }),
        "partitions led by the dead broker moved inside their ISR: {:?}",
        describe(&nodes[survivor]).0
    );
    println!(
        "dead broker fenced and its leaderships moved {:?} after the failover",
        t1.elapsed()
    );
    // DescribeCluster v2 (KIP-1073) lists the fenced broker only when asked to.
    assert_eq!(described_brokers(&nodes[survivor], false).len(), 2);
    let all = described_brokers(&nodes[survivor], true);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.contains(&(leader, true)), "{all:?}");

    // The killed node restarts and catches up; all three agree on every committed record.
    nodes[li].restart();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let all: Vec<Topics> = nodes.iter().map(|n| describe(n).0).collect();
            names(&all[li]).len() == 7
                && all.iter().all(|t| {
                    names(t) == names(&all[0])
                        && t.iter()
                            .all(|(n, (id, _))| all[0].get(n).map(|x| &x.0) == Some(id))
                })
        }),
        "the restarted node caught up"
    );
    let (after, _, _) = describe(&nodes[li]);
    for (name, (id, _)) in before.iter() {
        assert_eq!(
            after.get(name).map(|t| &t.0),
            Some(id),
            "{name} kept its id"
        );
    }

    // Restart every voter: the same topics, ids and assignments come back (leaders and ISRs
    // move with the restarts themselves: controlled shutdown hands leadership over).
    let snapshot = assignments(&describe(&nodes[0]).0);
    for n in nodes.iter_mut() {
        n.stop();
    }
    for n in nodes.iter_mut() {
        n.restart();
    }
    assert!(
        wait_until(Duration::from_secs(30), || {
            nodes
                .iter()
                .all(|n| assignments(&describe(n).0) == snapshot)
        }),
        "identical metadata after restarting every voter:\nbefore {snapshot:?}\nafter {:?}",
        assignments(&describe(&nodes[0]).0)
    );
    assert!(wait_until(Duration::from_secs(30), || describe(&nodes[2])
        .2
        == 3));
    // A node's metadata view may still list a peer whose new incarnation the controller has just
    // registered (fenced until its first heartbeat): until every broker is unfenced the controller
    // answers INVALID_REPLICATION_FACTOR (38), as Kafka does; nothing else is acceptable.
    let mut codes = Vec::new();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let code = create(&nodes[2], "after-restart", 1, 3);
            codes.push(code);
            code != 38
        }) && codes.last() == Some(&0),
        "rf=3 create after restarting every voter: codes {codes:?}"
    );
}

#[test]
fn invalid_metadata_requests_get_kafka_errors_and_change_nothing() {
    let _serial = serial();
    let nodes = start_cluster(weir(), 3, BrokerOptions::default());
    assert!(wait_until(Duration::from_secs(30), || describe(&nodes[0])
        .2
        == 3));
    assert_eq!(
        create(&nodes[0], "t", 2, 4),
        38,
        "INVALID_REPLICATION_FACTOR: 4 > 3 brokers"
    );
    assert_eq!(create(&nodes[1], "t", 0, 1), 37, "INVALID_PARTITIONS");
    assert_eq!(create(&nodes[2], "t", 2, 3), 0);
    assert_eq!(create(&nodes[0], "t", 2, 3), 36, "TOPIC_ALREADY_EXISTS");
    let (topics, _, _) = describe(&nodes[1]);
    assert_eq!(names(&topics), vec!["t".to_string()]);
    assert_eq!(topics["t"].1.len(), 2);
}

/// Dedicated controllers (KRaft's `process.roles=controller`) and broker-only nodes that follow the
/// metadata log as Raft learners: brokers register, topics created through a broker reach every
/// broker, and losing the Raft leader does not stop metadata writes.
#[test]
fn dedicated_controllers_and_broker_only_nodes() {
    let _serial = serial();
    let mut nodes = weir_test_support::start_nodes(
        weir(),
        &["controller", "controller", "controller", "broker", "broker"],
        BrokerOptions::default(),
    );
    assert!(
        wait_until(Duration::from_secs(30), || {
            let (_, controller, brokers) = describe(&nodes[3]);
            // Clients are shown a broker as controller (as in KRaft); the active controller is
            // found with DescribeCluster's controller endpoints (KIP-919).
            [4, 5].contains(&controller)
                && (1..=3).contains(&active_controller(&nodes[3]))
                && brokers == 2
                && describe(&nodes[4]).2 == 2
        }),
        "two registered brokers:\n{}",
        nodes[3].output()
    );
    assert_eq!(create(&nodes[4], "on-brokers", 4, 2), 0);
    let (topics, _, _) = describe(&nodes[3]);
    let leader = active_controller(&nodes[3]);
    for (l, _, replicas, _) in &topics["on-brokers"].1 {
        assert!([4, 5].contains(l) && replicas.iter().all(|r| [4, 5].contains(r)));
    }
    assert!(wait_until(Duration::from_secs(10), || describe(&nodes[4])
        .0
        == describe(&nodes[3]).0));
    nodes[(leader - 1) as usize].kill9();
    let t0 = Instant::now();
    assert_eq!(create(&nodes[3], "after-controller-loss", 1, 1), 0);
    println!(
        "controller {leader} killed: a write through a broker committed {:?} later",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_secs(2));
}
