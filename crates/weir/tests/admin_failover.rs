//! Admin requests across a controller change (issue #18): with three combined nodes started as
//! the README shows, every CreateTopics / DeleteTopics / CreatePartitions /
//! IncrementalAlterConfigs answer arrives within the request's timeout and is a success or a
//! retriable error (NOT_CONTROLLER, REQUEST_TIMED_OUT), and a success is never forgotten: the
//! change is on every live node and still there after the killed node returns.

use std::path::Path;
use std::time::{Duration, Instant};

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use weir_test_support::cluster::{brokers_registered, partitions};
use weir_test_support::raw::RawClient;
use weir_test_support::{start_cluster, wait_until, BrokerOptions, BrokerProcess};

/// The tests of this file run one at a time (each starts three broker processes).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// The timeout every admin request carries, and the slack its answer may take beyond it.
const TIMEOUT_MS: i32 = 5_000;
const SLACK: Duration = Duration::from_millis(1_500);

/// Retriable answers: NOT_CONTROLLER, REQUEST_TIMED_OUT.
const RETRIABLE: [i16; 2] = [41, 7];

fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// One request to `node`, answered within the timeout plus slack (else the test fails).
fn call<Q: Encodable, R: Decodable>(node: &BrokerProcess, key: ApiKey, v: i16, req: &Q) -> R {
    let t0 = Instant::now();
    let mut c = RawClient::connect(&node.bootstrap());
    c.set_timeout(Duration::from_millis(TIMEOUT_MS as u64) + SLACK);
    let r = c.try_call(key, v, req);
    let took = t0.elapsed();
    match r {
        Ok(r) => r,
        Err(e) => panic!(
            "{key:?} to {} got no answer within {took:?}: {e}",
            node.bootstrap()
        ),
    }
}

fn create_topic(node: &BrokerProcess, name: &str, partitions: i32, rf: i16) -> i16 {
    let mut t = CreatableTopic::default();
    t.name = topic(name);
    t.num_partitions = partitions;
    t.replication_factor = rf;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = TIMEOUT_MS;
    let resp: CreateTopicsResponse = call(node, ApiKey::CreateTopics, 5, &req);
    resp.topics[0].error_code
}

fn delete_topic(node: &BrokerProcess, name: &str) -> i16 {
    let mut req = DeleteTopicsRequest::default();
    req.topic_names = vec![topic(name)];
    req.timeout_ms = TIMEOUT_MS;
    let resp: DeleteTopicsResponse = call(node, ApiKey::DeleteTopics, 4, &req);
    resp.responses[0].error_code
}

fn grow(node: &BrokerProcess, name: &str, count: i32) -> i16 {
    let mut t = CreatePartitionsTopic::default();
    t.name = topic(name);
    t.count = count;
    let mut req = CreatePartitionsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = TIMEOUT_MS;
    let resp: CreatePartitionsResponse = call(node, ApiKey::CreatePartitions, 1, &req);
    resp.results[0].error_code
}

fn set_config(node: &BrokerProcess, name: &str, key: &str, value: &str) -> i16 {
    let mut c = AlterableConfig::default();
    c.name = StrBytes::from_string(key.to_string());
    c.config_operation = 0;
    c.value = Some(StrBytes::from_string(value.to_string()));
    let mut r = AlterConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = StrBytes::from_string(name.to_string());
    r.configs = vec![c];
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![r];
    let resp: IncrementalAlterConfigsResponse =
        call(node, ApiKey::IncrementalAlterConfigs, 1, &req);
    resp.responses[0].error_code
}

/// The config value of `name`'s `key` as `node` describes it.
fn config_value(node: &BrokerProcess, name: &str, key: &str) -> Option<String> {
    let mut c = RawClient::try_connect(&node.bootstrap()).ok()?;
    c.set_timeout(Duration::from_secs(5));
    let mut r = describe_configs_request::DescribeConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = StrBytes::from_string(name.to_string());
    r.configuration_keys = Some(vec![StrBytes::from_string(key.to_string())]);
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![r];
    let resp: DescribeConfigsResponse = c.try_call(ApiKey::DescribeConfigs, 4, &req).ok()?;
    let res = resp.results.first()?;
    (res.error_code == 0)
        .then(|| {
            res.configs
                .iter()
                .find(|e| e.name.as_str() == key)?
                .value
                .as_ref()
                .map(|v| v.to_string())
        })
        .flatten()
}

/// The active controller as `node` knows it (DescribeCluster, controllers endpoint type).
fn active_controller(node: &BrokerProcess) -> i32 {
    let Ok(mut c) = RawClient::try_connect(&node.bootstrap()) else {
        return -1;
    };
    let mut req = DescribeClusterRequest::default();
    req.endpoint_type = 2;
    c.try_call::<_, DescribeClusterResponse>(ApiKey::DescribeCluster, 1, &req)
        .map(|r| r.controller_id.0)
        .unwrap_or(-1)
}

/// Send `op` to `targets` in turn until it succeeds (0, or `done` for a success a retry
/// reports, e.g. TOPIC_ALREADY_EXISTS), for at most `budget`; every answer must be a success
/// or retriable. Returns the answers (node index, code, time taken).
fn until_success(
    nodes: &[BrokerProcess],
    targets: &[usize],
    budget: Duration,
    done: &[i16],
    op: impl Fn(&BrokerProcess) -> i16,
) -> Vec<(usize, i16, Duration)> {
    let start = Instant::now();
    let mut answers = Vec::new();
    for i in targets.iter().cycle() {
        let t0 = Instant::now();
        let code = op(&nodes[*i]);
        let took = t0.elapsed();
        answers.push((*i + 1, code, took));
        assert!(
            took <= Duration::from_millis(TIMEOUT_MS as u64) + SLACK,
            "answered within the timeout: {answers:?}"
        );
        if code == 0 || done.contains(&code) {
            return answers;
        }
        assert!(
            RETRIABLE.contains(&code),
            "success or retriable: {answers:?}"
        );
        assert!(
            start.elapsed() < budget,
            "no success within {budget:?}: {answers:?}"
        );
    }
    unreachable!()
}

/// The topic names `node` lists (Metadata for all topics, which auto-creates nothing).
fn topic_names(node: &BrokerProcess) -> Option<Vec<String>> {
    let mut c = RawClient::try_connect(&node.bootstrap()).ok()?;
    c.set_timeout(Duration::from_secs(5));
    let mut req = MetadataRequest::default();
    req.topics = None;
    let md: MetadataResponse = c.try_call(ApiKey::Metadata, 12, &req).ok()?;
    Some(
        md.topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
            .collect(),
    )
}

fn gone(nodes: &[BrokerProcess], live: &[usize], name: &str) -> bool {
    live.iter()
        .all(|i| topic_names(&nodes[*i]).is_some_and(|names| !names.iter().any(|n| n == name)))
}

fn exists_with(nodes: &[BrokerProcess], live: &[usize], name: &str, count: usize) -> bool {
    // Listed first: a Metadata request naming a missing topic would auto-create it.
    live.iter().all(|i| {
        topic_names(&nodes[*i]).is_some_and(|names| names.iter().any(|n| n == name))
            && partitions(&nodes[*i].bootstrap(), name).len() == count
    })
}

#[test]
fn create_topics_after_a_controller_kill_is_answered_in_time_and_never_forgotten() {
    let _serial = serial();
    let mut nodes = start_cluster(weir(), 3, BrokerOptions::default());
    assert!(wait_until(Duration::from_secs(30), || {
        nodes
            .iter()
            .all(|n| active_controller(n) > 0 && brokers_registered(n) == 3)
    }));
    // Node 1 dies; a topic is created through nodes 2 and 3.
    nodes[0].kill9();
    let first = until_success(&nodes, &[1, 2], Duration::from_secs(20), &[36], |n| {
        create_topic(n, "before", 1, 2)
    });
    println!("create with node 1 down: {first:?}");
    // Node 1 returns and catches up (the reported run waited 3 s); then node 2 dies.
    nodes[0].restart();
    assert!(wait_until(Duration::from_secs(20), || exists_with(
        &nodes,
        &[0],
        "before",
        1
    )));
    std::thread::sleep(Duration::from_secs(3));
    // Node 2 dies, as in the report (leader or not: printed).
    let leader = active_controller(&nodes[0]);
    let victim = 1;
    let live: Vec<usize> = (0..3).filter(|i| *i != victim).collect();
    nodes[victim].kill9();
    let t0 = Instant::now();
    let answers = until_success(&nodes, &live, Duration::from_secs(12), &[36], |n| {
        create_topic(n, "after", 2, 2)
    });
    println!(
        "create after node {}'s kill (leader was {leader}): {answers:?} in {:?}",
        victim + 1,
        t0.elapsed()
    );
    // Once answered with success, the topic is on every live node, and stays after the killed
    // node's return.
    assert!(
        wait_until(Duration::from_secs(10), || exists_with(
            &nodes, &live, "after", 2
        )),
        "the created topic is on the live nodes"
    );
    nodes[victim].restart();
    assert!(
        wait_until(Duration::from_secs(20), || exists_with(
            &nodes,
            &[0, 1, 2],
            "after",
            2
        )),
        "the created topic is on every node after the killed node's return"
    );
}

#[test]
fn delete_grow_and_alter_across_a_leader_kill_are_answered_in_time_and_kept() {
    let _serial = serial();
    let mut nodes = start_cluster(weir(), 3, BrokerOptions::default());
    assert!(wait_until(Duration::from_secs(30), || {
        nodes
            .iter()
            .all(|n| active_controller(n) > 0 && brokers_registered(n) == 3)
    }));
    for name in ["grown", "altered", "deleted"] {
        until_success(&nodes, &[0], Duration::from_secs(20), &[], |n| {
            create_topic(n, name, 1, 2)
        });
    }
    let leader = active_controller(&nodes[0]) as usize - 1;
    let live: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    assert!(wait_until(Duration::from_secs(20), || {
        live.iter()
            .all(|i| exists_with(&nodes, &[*i], "deleted", 1))
    }));
    nodes[leader].kill9();
    let budget = Duration::from_secs(15);
    let a = until_success(&nodes, &live, budget, &[37], |n| grow(n, "grown", 3));
    let b = until_success(&nodes, &live, budget, &[], |n| {
        set_config(n, "altered", "retention.ms", "4321")
    });
    let c = until_success(&nodes, &live, budget, &[3], |n| delete_topic(n, "deleted"));
    println!("after the leader's kill: grow {a:?}, alter {b:?}, delete {c:?}");
    let applied = |nodes: &[BrokerProcess], all: &[usize]| {
        exists_with(nodes, all, "grown", 3)
            && gone(nodes, all, "deleted")
            && all.iter().all(|i| {
                config_value(&nodes[*i], "altered", "retention.ms").as_deref() == Some("4321")
            })
    };
    let state = |nodes: &[BrokerProcess], i: usize| {
        (
            partitions(&nodes[i].bootstrap(), "grown").len(),
            topic_names(&nodes[i]),
            config_value(&nodes[i], "altered", "retention.ms"),
        )
    };
    assert!(
        wait_until(Duration::from_secs(10), || applied(&nodes, &live)),
        "applied on the live nodes: {:?}",
        live.iter().map(|i| state(&nodes, *i)).collect::<Vec<_>>()
    );
    nodes[leader].restart();
    assert!(
        wait_until(Duration::from_secs(20), || applied(&nodes, &[0, 1, 2])),
        "applied on every node after the old leader's return"
    );
}

#[test]
fn without_a_quorum_admin_requests_get_a_retriable_error_within_their_timeout() {
    let _serial = serial();
    let mut nodes = start_cluster(weir(), 3, BrokerOptions::default());
    assert!(wait_until(Duration::from_secs(30), || {
        nodes
            .iter()
            .all(|n| active_controller(n) > 0 && brokers_registered(n) == 3)
    }));
    until_success(&nodes, &[0], Duration::from_secs(20), &[], |n| {
        create_topic(n, "kept", 1, 1)
    });
    assert!(wait_until(Duration::from_secs(10), || exists_with(
        &nodes,
        &[2],
        "kept",
        1
    )));
    // Two of three voters die: node 3 alone can commit nothing.
    nodes[0].kill9();
    nodes[1].kill9();
    let t0 = Instant::now();
    let code = create_topic(&nodes[2], "lost", 1, 1);
    let took = t0.elapsed();
    println!("create without a quorum: {code} after {took:?}");
    assert!(RETRIABLE.contains(&code), "retriable, got {code}");
    assert!(
        took <= Duration::from_millis(TIMEOUT_MS as u64) + SLACK,
        "{took:?}"
    );
    let code = delete_topic(&nodes[2], "kept");
    assert!(RETRIABLE.contains(&code), "retriable, got {code}");
    // The quorum returns: the retried create succeeds (or finds its own earlier attempt), the
    // failed delete left the topic alone unless it was committed after all.
    nodes[0].restart();
    until_success(&nodes, &[2, 0], Duration::from_secs(20), &[36], |n| {
        create_topic(n, "lost", 1, 1)
    });
    assert!(wait_until(Duration::from_secs(10), || exists_with(
        &nodes,
        &[0, 2],
        "lost",
        1
    )));
}
