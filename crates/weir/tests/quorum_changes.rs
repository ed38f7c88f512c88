//! The dynamic metadata quorum (KIP-853) against real `weir` processes: a fourth controller joins
//! as an observer and is made a voter, an original voter (the Raft leader) is removed and stopped,
//! all while a real admin client creates topics — every creation succeeds — and the changed voter
//! set survives a restart of the remaining nodes. Removals that would lose the quorum, of the last
//! voter or of a non-voter, and a duplicate addition are refused with Kafka's errors.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;
use weir_test_support::raw::RawClient;
use weir_test_support::{
    free_port, restart_all, start_cluster, wait_until, BrokerOptions, BrokerProcess,
};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// What a node answers to DescribeQuorum: (leader, voters, observers, voter endpoints).
#[derive(Debug, Clone, PartialEq)]
struct Quorum {
    leader: i32,
    voters: BTreeSet<i32>,
    observers: BTreeSet<i32>,
    endpoints: Vec<(i32, String)>,
}

fn quorum(node: &BrokerProcess) -> Option<Quorum> {
    let mut c = RawClient::try_connect_timeout(&node.bootstrap(), Duration::from_secs(2)).ok()?;
    let mut t = TopicData::default();
    t.topic_name = TopicName(StrBytes::from_static_str("__cluster_metadata"));
    t.partitions = vec![PartitionData::default()];
    let r: DescribeQuorumResponse = c
        .try_call(
            ApiKey::DescribeQuorum,
            2,
            &DescribeQuorumRequest::default().with_topics(vec![t]),
        )
        .ok()?;
    let p = r.topics.first()?.partitions.first()?;
    if r.error_code != 0 || p.error_code != 0 {
        return None;
    }
    Some(Quorum {
        leader: p.leader_id.0,
        voters: p.current_voters.iter().map(|v| v.replica_id.0).collect(),
        observers: p.observers.iter().map(|v| v.replica_id.0).collect(),
        endpoints: r
            .nodes
            .iter()
            .map(|n| {
                let l = &n.listeners[0];
                (n.node_id.0, format!("{}:{}", l.host.as_str(), l.port))
            })
            .collect(),
    })
}

/// Wait until `node` reports voters `want` with a leader among them.
fn await_voters(node: &BrokerProcess, want: &[i32]) -> Quorum {
    let want: BTreeSet<i32> = want.iter().copied().collect();
    let mut last = None;
    let ok = wait_until(Duration::from_secs(30), || {
        last = quorum(node);
        last.as_ref()
            .is_some_and(|q| q.voters == want && want.contains(&q.leader))
    });
    assert!(ok, "voters never became {want:?}: last answer {last:?}");
    last.unwrap()
}

/// `weir quorum ARGS -b bootstrap`: (success, stdout + stderr).
fn cli(bootstrap: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(weir())
        .arg("quorum")
        .args(args)
        .args(["-b", bootstrap])
        .output()
        .expect("run weir quorum");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A real admin client (librdkafka) creating topics one after another until stopped; each
/// creation is retried until it succeeds (TOPIC_ALREADY_EXISTS after a retry counts: the
/// earlier attempt committed). Returns the created names and the errors seen on the way.
struct Creator {
    stop: Arc<AtomicBool>,
    created: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Creator {
    fn start(bootstrap: &str) -> Creator {
        // librdkafka sends CreateTopics to the controller its cached metadata names (a broker,
        // as in KRaft): refreshing the metadata often lets it notice a stopped one quickly.
        let client = {
            let bootstrap = bootstrap.to_string();
            move || -> AdminClient<DefaultClientContext> {
                ClientConfig::new()
                    .set("bootstrap.servers", &bootstrap)
                    .set("topic.metadata.refresh.interval.ms", "1000")
                    .create()
                    .expect("admin client")
            }
        };
        let mut admin = client();
        let stop = Arc::new(AtomicBool::new(false));
        let created = Arc::new(Mutex::new(Vec::new()));
        let (s, c) = (stop.clone(), created.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
            let mut errors = Vec::new();
            for i in 0.. {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("during-quorum-change-{i}");
                let t = NewTopic::new(&name, 1, TopicReplication::Fixed(1));
                let started = Instant::now();
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let outcome = rt
                        .block_on(admin.create_topics([&t], &opts))
                        .map_err(|e| e.to_string())
                        .and_then(|mut r| r.pop().ok_or_else(|| "no result".to_string()))
                        .and_then(|r| match r {
                            Ok(_) => Ok(()),
                            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) if attempt > 1 => Ok(()),
                            Err((_, e)) => Err(e.to_string()),
                        });
                    match outcome {
                        Ok(()) => break,
                        Err(e) => {
                            errors.push(format!("{name} attempt {attempt}: {e}"));
                            // As an operator's tool would: retry with a fresh client.
                            admin = client();
                            assert!(
                                started.elapsed() < Duration::from_secs(60),
                                "{name} was not created within 60 s: {errors:?}"
                            );
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
                c.lock().unwrap().push(name);
            }
            errors
        });
        Creator {
            stop,
            created,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.created.lock().unwrap().len()
    }

    /// Wait until `more` topics beyond the count now have been created.
    fn await_progress(&self, more: usize, what: &str) {
        let target = self.count() + more;
        assert!(
            wait_until(Duration::from_secs(60), || self.count() >= target),
            "topic creation stalled {what}: {} created",
            self.count()
        );
    }

    fn finish(mut self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let errors = self
            .thread
            .take()
            .unwrap()
            .join()
            .expect("the topic creator failed");
        (self.created.lock().unwrap().clone(), errors)
    }
}

/// Topic names `node`'s metadata lists.
fn topics(node: &BrokerProcess) -> BTreeSet<String> {
    let mut c = RawClient::connect(&node.bootstrap());
    let mut req = MetadataRequest::default();
    req.topics = None;
    let r: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    r.topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect()
}

#[test]
fn a_controller_joins_and_the_leader_leaves_while_topics_are_created() {
    let mut nodes = start_cluster(weir(), 3, BrokerOptions::default());
    let first = await_voters(&nodes[0], &[1, 2, 3]);
    let voters_config: String = first
        .endpoints
        .iter()
        .map(|(id, addr)| format!("{id}@{addr}"))
        .collect::<Vec<_>>()
        .join(",");
    let bootstrap = nodes
        .iter()
        .map(|n| n.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    let creator = Creator::start(&bootstrap);
    creator.await_progress(5, "before any change");

    // A fourth, dedicated controller: not in controller.quorum.voters, so it starts as an
    // observer following the log.
    let cp = free_port();
    let mut opts = BrokerOptions::default()
        .config("node.id", "4")
        .config("process.roles", "controller")
        .config("controller.quorum.voters", &voters_config);
    opts.controller_port = Some(cp);
    let mut fourth = BrokerProcess::start(weir(), opts);
    assert!(
        wait_until(Duration::from_secs(30), || quorum(&nodes[0])
            .is_some_and(|q| q.observers.contains(&4))),
        "node 4 never observed: {:?}",
        quorum(&nodes[0])
    );
    let endpoint = format!("CONTROLLER://127.0.0.1:{cp}");
    let (ok, out) = cli(
        &bootstrap,
        &["add-voter", "--controller-id", "4", "--endpoint", &endpoint],
    );
    assert!(ok, "add-voter failed: {out}");
    let grown = await_voters(&nodes[1], &[1, 2, 3, 4]);
    assert!(
        grown.endpoints.contains(&(4, format!("127.0.0.1:{cp}"))),
        "DescribeQuorum lists the new voter's endpoint: {grown:?}"
    );
    creator.await_progress(5, "after adding voter 4");

    // Remove the Raft leader itself, then stop it.
    let victim = quorum(&nodes[0]).expect("quorum").leader;
    assert!((1..=3).contains(&victim), "leader {victim}");
    let (ok, out) = cli(
        &bootstrap,
        &["remove-voter", "--controller-id", &victim.to_string()],
    );
    assert!(ok, "remove-voter {victim} failed: {out}");
    let vi = usize::try_from(victim - 1).unwrap();
    let mut removed = nodes.remove(vi);
    removed.stop();
    let mut left: Vec<i32> = (1..=4).filter(|i| *i != victim).collect();
    left.sort();
    let shrunk = await_voters(&nodes[0], &left);
    assert_ne!(shrunk.leader, victim);
    creator.await_progress(5, "after removing the leader");

    let (created, errors) = creator.finish();
    assert!(created.len() >= 15, "only {} topics created", created.len());
    let listed = topics(&nodes[0]);
    for t in &created {
        assert!(listed.contains(t), "{t} was acknowledged but is not listed");
    }
    eprintln!(
        "{} topics created across the changes; transient errors: {errors:?}",
        created.len()
    );

    // The CLI shows the changed quorum.
    let remaining = nodes
        .iter()
        .map(|n| n.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    let (ok, out) = cli(&remaining, &["describe", "--json"]);
    assert!(ok, "describe failed: {out}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).expect("describe --json");
    let mut shown: Vec<i64> = json["voters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        left.iter().map(|i| i64::from(*i)).collect::<Vec<_>>()
    );
    let (ok, out) = cli(&remaining, &["describe"]);
    assert!(ok && out.contains("leader"), "describe: {out}");
    // DescribeCluster's controller endpoints (KIP-919) follow the log's voter set too.
    let mut c = RawClient::connect(&nodes[0].bootstrap());
    let mut req = DescribeClusterRequest::default();
    req.endpoint_type = 2;
    let r: DescribeClusterResponse = c.call(ApiKey::DescribeCluster, 1, &req);
    let mut controllers: Vec<i32> = r.brokers.iter().map(|b| b.broker_id.0).collect();
    controllers.sort();
    assert_eq!(controllers, left, "DescribeCluster controllers");

    // Restart every remaining node: the voter set comes from the log, not from
    // controller.quorum.voters (which still names the removed node and not node 4).
    for n in nodes.iter_mut() {
        n.stop();
    }
    fourth.stop();
    nodes.push(fourth);
    restart_all(&mut nodes);
    await_voters(&nodes[0], &left);
    await_voters(&nodes[1], &left);
    let creator = Creator::start(&remaining);
    creator.await_progress(3, "after the restart");
    creator.finish();
}

/// A RemoveRaftVoter or AddRaftVoter sent with the raw codec: (error code, message).
fn change(node: &BrokerProcess, add: Option<u16>, id: i32) -> (i16, String) {
    let mut c = RawClient::connect(&node.bootstrap());
    c.set_timeout(Duration::from_secs(40));
    let (code, msg) = match add {
        Some(port) => {
            let mut l = add_raft_voter_request::Listener::default();
            l.name = StrBytes::from_static_str("CONTROLLER");
            l.host = StrBytes::from_static_str("127.0.0.1");
            l.port = port;
            let mut req = AddRaftVoterRequest::default();
            req.voter_id = id;
            req.timeout_ms = 10_000;
            req.listeners = vec![l];
            let r: AddRaftVoterResponse = c.call(ApiKey::AddRaftVoter, 0, &req);
            (r.error_code, r.error_message)
        }
        None => {
            let mut req = RemoveRaftVoterRequest::default();
            req.voter_id = id;
            let r: RemoveRaftVoterResponse = c.call(ApiKey::RemoveRaftVoter, 0, &req);
            (r.error_code, r.error_message)
        }
    };
    (code, msg.map(|m| m.to_string()).unwrap_or_default())
}

#[test]
fn removals_that_would_lose_the_quorum_are_refused() {
    let mut nodes = start_cluster(weir(), 3, BrokerOptions::default());
    let q = await_voters(&nodes[0], &[1, 2, 3]);
    let leader = q.leader;
    let followers: Vec<i32> = (1..=3).filter(|i| *i != leader).collect();
    let (down, other) = (followers[0], followers[1]);
    let at = |id: i32| usize::try_from(id - 1).unwrap();

    // Adding a voter twice, removing a node that does not vote: Kafka's errors.
    let (code, msg) = change(&nodes[at(leader)], Some(9), other);
    assert_eq!(code, 126, "DUPLICATE_VOTER: {msg}");
    let (code, msg) = change(&nodes[at(leader)], None, 9);
    assert_eq!(code, 127, "VOTER_NOT_FOUND: {msg}");

    // One voter down: removing the other live follower would leave {leader, down} with one
    // live member — refused, and nothing changes.
    nodes[at(down)].stop();
    let (code, msg) = change(&nodes[at(leader)], None, other);
    assert_eq!(code, 42, "INVALID_REQUEST: {msg}");
    assert!(msg.contains("quorum"), "{msg}");
    assert_eq!(quorum(&nodes[at(other)]).unwrap().voters, q.voters);

    // Removing the dead voter is fine, and so is going down to a sole voter; the last one
    // cannot be removed.
    let (code, msg) = change(&nodes[at(other)], None, down);
    assert_eq!(code, 0, "{msg}");
    await_voters(&nodes[at(leader)], &[leader, other]);
    let (code, msg) = change(&nodes[at(other)], None, other);
    assert_eq!(code, 0, "{msg}");
    await_voters(&nodes[at(leader)], &[leader]);
    let (code, msg) = change(&nodes[at(leader)], None, leader);
    assert_eq!(code, 127, "VOTER_NOT_FOUND for the last voter: {msg}");
    // The sole voter still commits.
    let mut c = RawClient::connect(&nodes[at(leader)].bootstrap());
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str("after-shrinking"));
    t.num_partitions = 1;
    t.replication_factor = 1;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 10_000;
    let r: CreateTopicsResponse = c.call(ApiKey::CreateTopics, 7, &req);
    assert_eq!(r.topics[0].error_code, 0, "{:?}", r.topics[0].error_message);
}
