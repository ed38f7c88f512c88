//! Characterisation tests, in process: behaviour that was only covered by the slow real-process
//! tests of `crates/weir`, pinned down before the broker's internals are restructured.
//!
//! * a topic is usable the moment CreateTopics (or an auto-creating Metadata) answers;
//! * committed group offsets survive a restart, clean or not;
//! * in a three-node cluster the group coordinator moves with the leadership of its
//!   `__consumer_offsets` partition and the new coordinator serves the committed offsets.
//!
//! These tests found a race, fixed with the broker split: the metadata applier's follow loop
//! could apply an image it captured before a topic was created *after* `create_topic` had
//! applied the newer image; the stale image lacked the topic, so its local logs were deleted
//! and recreated empty, losing acknowledged writes (seen as NOT_COORDINATOR / missing committed
//! offsets after a restart, ~5 of 25 runs with both cores busy). The applier now always applies
//! the latest image under its lock (`MetadataApplier::apply_latest`). A failure here naming
//! `__consumer_offsets` would be that bug back.
//!
//! Only the stable surface is used: `common` (server and wire client), `BrokerConfig` (built
//! from Kafka config names), `Broker::open` and `server::run_with_listeners`. Brokers that must
//! be stopped without a clean shutdown, or that form a cluster, run in a [`Node`]: their own
//! Tokio runtime on their own thread, so dropping that runtime ends every task of that broker
//! (its Raft member included), as a process exit would.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::sync::oneshot;
use weir_broker::{Broker, BrokerConfig};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const MEMBER_ID_REQUIRED: i16 = 79;

const OFFSETS_TOPIC: &str = "__consumer_offsets";

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// One request/response with a time limit, so a broker that stops answering fails the test
/// instead of hanging it.
async fn call<R: Encodable, S: Decodable>(c: &mut Client, key: ApiKey, version: i16, req: &R) -> S {
    tokio::time::timeout(Duration::from_secs(30), c.call(key, version, req))
        .await
        .unwrap_or_else(|_| panic!("{key:?} v{version} answered within 30 s"))
}

/// Polls a condition: `check` is called until the deadline passes; `wait` panics with the last
/// observed state once it has.
struct Deadline {
    what: String,
    until: Instant,
}

impl Deadline {
    fn new(what: impl Into<String>, limit: Duration) -> Deadline {
        Deadline {
            what: what.into(),
            until: Instant::now() + limit,
        }
    }

    /// Panic if the deadline passed, else pause briefly before the next attempt.
    async fn wait(&self, last: &dyn std::fmt::Debug) {
        assert!(
            Instant::now() < self.until,
            "timed out waiting for {}; last observed: {last:?}",
            self.what
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// A broker in its own runtime.
// ---------------------------------------------------------------------------------------------

enum Halt {
    /// Resolve the shutdown future of `run_with_listeners`: controlled shutdown, drain, flush,
    /// checkpoints and the clean-shutdown marker.
    Clean,
    /// Drop the runtime with every task in it: no controlled shutdown, no log shutdown, no
    /// clean-shutdown marker (file handles are closed and written data stays in the page cache,
    /// as when a process is killed).
    Crash,
}

/// A broker started with `Broker::open` + `run_with_listeners` inside its own multi-threaded
/// Tokio runtime on a dedicated thread.
struct Node {
    id: i32,
    addr: SocketAddr,
    halt: Option<oneshot::Sender<Halt>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Node {
    /// Start a broker on the already-bound client `listener` with the Kafka-named configs
    /// `props` (`listeners` must name the listener's port); returns once `Broker::open` succeeded.
    async fn start(listener: std::net::TcpListener, props: Vec<(String, String)>) -> Node {
        let addr = listener.local_addr().unwrap();
        let cfg = BrokerConfig::from_sources(None, &[], &props).expect("valid broker config");
        let id = cfg.node_id;
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
        let (halt_tx, halt_rx) = oneshot::channel::<Halt>();
        let thread =
            std::thread::Builder::new()
                .name(format!("node-{id}"))
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .thread_name(format!("node-{id}-rt"))
                        .enable_all()
                        .build()
                        .expect("runtime");
                    let out = rt.block_on(async move {
                    let broker = match Broker::open(cfg).await {
                        Ok(b) => b,
                        Err(e) => {
                            let msg = format!("node {id}: Broker::open failed: {e}");
                            let _ = ready_tx.send(Err(msg.clone()));
                            return Err(msg);
                        }
                    };
                    listener.set_nonblocking(true).expect("non-blocking listener");
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let (clean_tx, clean_rx) = oneshot::channel::<()>();
                    let mut server = tokio::spawn(weir_broker::server::run_with_listeners(
                        broker,
                        vec![listener],
                        async move {
                            // Only an explicit clean stop shuts down; a crash drops this future.
                            if clean_rx.await.is_err() {
                                std::future::pending::<()>().await;
                            }
                        },
                    ));
                    let _ = ready_tx.send(Ok(()));
                    tokio::select! {
                        halt = halt_rx => match halt {
                            Ok(Halt::Clean) => {
                                let _ = clean_tx.send(());
                                match server.await {
                                    Ok(Ok(())) => Ok(()),
                                    Ok(Err(e)) => Err(format!("node {id}: shutdown failed: {e}")),
                                    Err(e) => Err(format!("node {id}: server task failed: {e}")),
                                }
                            }
                            // Crash (or the test dropped the node): the runtime is dropped below
                            // with the server task still running.
                            Ok(Halt::Crash) | Err(_) => {
                                std::mem::forget(clean_tx);
                                Ok(())
                            }
                        },
                        r = &mut server => Err(format!("node {id}: server ended by itself: {r:?}")),
                    }
                });
                    rt.shutdown_timeout(Duration::from_secs(5));
                    out
                })
                .expect("node thread");
        match ready_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => panic!("node {id} thread ended before the broker opened"),
        }
        Node {
            id,
            addr,
            halt: Some(halt_tx),
            thread: Some(thread),
        }
    }

    async fn halt(&mut self, how: Halt) -> Result<(), String> {
        let _ = self.halt.take().expect("node not yet halted").send(how);
        let thread = self.thread.take().expect("node thread");
        tokio::time::timeout(
            Duration::from_secs(40),
            tokio::task::spawn_blocking(move || thread.join()),
        )
        .await
        .map_err(|_| format!("node {} did not stop within 40 s", self.id))?
        .map_err(|e| format!("joining node {}: {e}", self.id))?
        .map_err(|_| format!("node {} thread panicked", self.id))?
    }

    /// Clean shutdown; panics if it fails.
    async fn stop(mut self) {
        self.halt(Halt::Clean).await.expect("clean shutdown");
    }

    /// Stop without any shutdown work.
    async fn crash(mut self) {
        self.halt(Halt::Crash).await.expect("crash stop");
    }

    async fn client(&self) -> Client {
        tokio::time::timeout(Duration::from_secs(10), Client::connect(self.addr))
            .await
            .expect("connect within 10 s")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A failed test: stop the broker's runtime without waiting for it.
        if let Some(h) = self.halt.take() {
            let _ = h.send(Halt::Crash);
        }
    }
}

fn loopback_listener() -> std::net::TcpListener {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

fn props(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A single node (its own one-voter metadata quorum) on `listener` storing in `dir`.
async fn single_node(dir: &Path, listener: std::net::TcpListener) -> Node {
    let port = listener.local_addr().unwrap().port();
    let p = props(&[
        ("node.id", "1".into()),
        ("listeners", format!("PLAINTEXT://127.0.0.1:{port}")),
        ("log.dirs", dir.display().to_string()),
        ("offsets.topic.num.partitions", "4".into()),
        ("group.initial.rebalance.delay.ms", "0".into()),
    ]);
    Node::start(listener, p).await
}

// ---------------------------------------------------------------------------------------------
// Request helpers.
// ---------------------------------------------------------------------------------------------

async fn create_topic(
    c: &mut Client,
    name: &str,
    partitions: i32,
    rf: i16,
) -> CreateTopicsResponse {
    let mut t = CreatableTopic::default();
    t.name = topic_name(name);
    t.num_partitions = partitions;
    t.replication_factor = rf;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 30_000;
    call(c, ApiKey::CreateTopics, 7, &req).await
}

/// One Produce request with one single-record batch per partition `0..n`, value
/// `"{topic}-{partition}-{tag}"`; returns (partition, error code, base offset) per partition.
async fn produce_each(
    c: &mut Client,
    topic: &str,
    n: i32,
    acks: i16,
    tag: &str,
) -> Vec<(i32, i16, i64)> {
    let mut req = produce_req(topic, 0, acks, batch(&[&format!("{topic}-0-{tag}")]));
    req.topic_data[0].partition_data = (0..n)
        .map(|p| {
            let mut d = PartitionProduceData::default();
            d.index = p;
            d.records = Some(batch(&[&format!("{topic}-{p}-{tag}")]));
            d
        })
        .collect();
    let resp: ProduceResponse = call(c, ApiKey::Produce, 9, &req).await;
    let mut out: Vec<(i32, i16, i64)> = resp
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .map(|p| (p.index, p.error_code, p.base_offset))
        .collect();
    out.sort();
    out
}

/// Fetch partition `p` of `topic` from offset 0: (error code, high watermark, records).
async fn fetch_partition(c: &mut Client, topic: &str, p: i32) -> (i16, i64, Vec<(i64, String)>) {
    let mut req = fetch_req(topic, 0, 0, (0, -1));
    req.topics[0].partitions[0].partition = p;
    let resp: FetchResponse = call(c, ApiKey::Fetch, 12, &req).await;
    assert_eq!(resp.error_code, 0);
    let part = &resp.responses[0].partitions[0];
    assert_eq!(part.partition_index, p);
    let records = part.records.as_ref().map(values).unwrap_or_default();
    (part.error_code, part.high_watermark, records)
}

/// Metadata for one topic, without auto-creation.
async fn describe(c: &mut Client, topic: &str) -> MetadataResponse {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(topic_name(topic));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = false;
    call(c, ApiKey::Metadata, 12, &req).await
}

/// (partition, leader, leader epoch, isr) of a topic, sorted by partition; empty when unknown.
fn partition_view(md: &MetadataResponse) -> Vec<(i32, i32, i32, Vec<i32>)> {
    let mut out: Vec<_> = md
        .topics
        .iter()
        .filter(|t| t.error_code == 0)
        .flat_map(|t| t.partitions.iter())
        .map(|p| {
            let mut isr: Vec<i32> = p.isr_nodes.iter().map(|r| r.0).collect();
            isr.sort();
            (p.partition_index, p.leader_id.0, p.leader_epoch, isr)
        })
        .collect();
    out.sort();
    out
}

/// FindCoordinator v3 for a group: (error code, node id, host, port).
async fn find_coordinator(c: &mut Client, group: &str) -> (i16, i32, String, i32) {
    let mut req = FindCoordinatorRequest::default();
    req.key = s(group);
    req.key_type = 0;
    let r: FindCoordinatorResponse = call(c, ApiKey::FindCoordinator, 3, &req).await;
    (r.error_code, r.node_id.0, r.host.to_string(), r.port)
}

/// A committed offset as OffsetFetch reports it: (offset, leader epoch, metadata).
type Committed = (i64, i32, Option<String>);
/// Committed offsets of one group by (topic, partition).
type Offsets = BTreeMap<(String, i32), Committed>;
/// Per group: its error code and committed offsets.
type GroupOffsets = BTreeMap<String, (i16, Offsets)>;

/// OffsetCommit v8 of `(partition, offset, leader epoch, metadata)` for `topic`; returns the
/// error code per partition, in request order.
async fn commit(
    c: &mut Client,
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    offsets: &[(i32, i64, i32, &str)],
) -> Vec<i16> {
    let mut t = OffsetCommitRequestTopic::default();
    t.name = topic_name(topic);
    t.partitions = offsets
        .iter()
        .map(|&(p, o, epoch, meta)| {
            let mut x = OffsetCommitRequestPartition::default();
            x.partition_index = p;
            x.committed_offset = o;
            x.committed_leader_epoch = epoch;
            x.committed_metadata = Some(s(meta));
            x
        })
        .collect();
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(s(group));
    req.generation_id_or_member_epoch = generation;
    req.member_id = s(member);
    req.topics = vec![t];
    let resp: OffsetCommitResponse = call(c, ApiKey::OffsetCommit, 8, &req).await;
    assert_eq!(resp.topics.len(), 1);
    resp.topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect()
}

/// OffsetFetch v8 of every committed partition (topics = null) of each group: per group its
/// error code and `(topic, partition) -> (offset, leader epoch, metadata)` (partition errors
/// must be 0).
async fn offset_fetch(c: &mut Client, groups: &[&str]) -> GroupOffsets {
    let mut req = OffsetFetchRequest::default();
    req.groups = groups
        .iter()
        .map(|g| {
            let mut x = OffsetFetchRequestGroup::default();
            x.group_id = GroupId(s(g));
            x.member_epoch = -1;
            x.topics = None;
            x
        })
        .collect();
    let resp: OffsetFetchResponse = call(c, ApiKey::OffsetFetch, 8, &req).await;
    resp.groups
        .iter()
        .map(|g| {
            let offsets = g
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(move |p| {
                        assert_eq!(p.error_code, 0, "partition error in {t:?}");
                        (
                            (t.name.to_string(), p.partition_index),
                            (
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.metadata.as_ref().map(|m| m.to_string()),
                            ),
                        )
                    })
                })
                .collect();
            (g.group_id.to_string(), (g.error_code, offsets))
        })
        .collect()
}

/// OffsetFetch v8 of explicitly named partitions of one group: (group error, per asked partition
/// (offset, leader epoch, metadata)).
async fn offset_fetch_partitions(
    c: &mut Client,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> (i16, Vec<Committed>) {
    let mut t = OffsetFetchRequestTopics::default();
    t.name = topic_name(topic);
    t.partition_indexes = partitions.to_vec();
    let mut g = OffsetFetchRequestGroup::default();
    g.group_id = GroupId(s(group));
    g.member_epoch = -1;
    g.topics = Some(vec![t]);
    let mut req = OffsetFetchRequest::default();
    req.groups = vec![g];
    let resp: OffsetFetchResponse = call(c, ApiKey::OffsetFetch, 8, &req).await;
    let g = &resp.groups[0];
    let rows = g
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| {
            assert_eq!(p.error_code, 0, "partition error");
            (
                p.committed_offset,
                p.committed_leader_epoch,
                p.metadata.as_ref().map(|m| m.to_string()),
            )
        })
        .collect();
    (g.error_code, rows)
}

fn expected(topic: &str, rows: &[(i32, i64, i32, &str)]) -> Offsets {
    rows.iter()
        .map(|&(p, o, e, m)| ((topic.to_string(), p), (o, e, Some(m.to_string()))))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. A topic is usable as soon as its creation is acknowledged.
// ---------------------------------------------------------------------------------------------

/// CreateTopics (3 partitions) answers 0; right away one Produce with acks=-1 and then one with
/// acks=1 to all three partitions on the same connection, then the same on a connection opened
/// after the answer, all succeed (error 0, no UNKNOWN_TOPIC_OR_PARTITION / NOT_LEADER window)
/// with base offsets 0, 1, 2, 3; Metadata shows three partitions led by node 1; a Fetch of each
/// partition returns exactly its four records with high watermark 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topics_then_produce_at_once_on_every_partition() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let topic = "fresh";
    let mut c = Client::connect(server.addr).await;

    let created = create_topic(&mut c, topic, 3, 1).await;
    assert_eq!(created.topics.len(), 1);
    let t = &created.topics[0];
    assert_eq!(
        (t.error_code, t.num_partitions, t.replication_factor),
        (0, 3, 1),
        "{:?}",
        t.error_message
    );
    assert!(!t.topic_id.is_nil());

    // Same connection, immediately after the CreateTopics response.
    let ok = |offset: i64| (0..3).map(|p| (p, 0, offset)).collect::<Vec<_>>();
    assert_eq!(produce_each(&mut c, topic, 3, -1, "a").await, ok(0));
    assert_eq!(produce_each(&mut c, topic, 3, 1, "b").await, ok(1));
    // A new connection.
    let mut c2 = Client::connect(server.addr).await;
    assert_eq!(produce_each(&mut c2, topic, 3, -1, "c").await, ok(2));
    assert_eq!(produce_each(&mut c2, topic, 3, 1, "d").await, ok(3));

    let md = describe(&mut c2, topic).await;
    let view: Vec<(i32, i32)> = partition_view(&md)
        .into_iter()
        .map(|(p, leader, _, _)| (p, leader))
        .collect();
    assert_eq!(view, vec![(0, 1), (1, 1), (2, 1)]);
    assert_eq!(md.topics[0].topic_id, t.topic_id);

    for p in 0..3 {
        let want: Vec<(i64, String)> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, tag)| (i as i64, format!("{topic}-{p}-{tag}")))
            .collect();
        assert_eq!(fetch_partition(&mut c, topic, p).await, (0, 4, want));
    }
    drop((c, c2));
    server.stop().await;
    println!("took {:?}", t0.elapsed());
}

/// Metadata with allow_auto_topic_creation for an unknown topic creates it with num.partitions
/// (2 here) and answers error 0 with both partitions led by node 1; Produce (acks=-1, then
/// acks=1) to both partitions right after that answer succeeds at offsets 0 and 1, on the same
/// and on a new connection (offsets 2 and 3), and Fetch returns the records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_auto_create_then_produce_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), |cfg| cfg.num_partitions = 2).await;
    let topic = "auto";
    let mut c = Client::connect(server.addr).await;

    let md = metadata(&mut c, topic).await;
    assert_eq!(md.topics.len(), 1);
    assert_eq!(md.topics[0].error_code, 0, "auto-created");
    let view: Vec<(i32, i32)> = partition_view(&md)
        .into_iter()
        .map(|(p, leader, _, _)| (p, leader))
        .collect();
    assert_eq!(view, vec![(0, 1), (1, 1)]);

    let ok = |offset: i64| (0..2).map(|p| (p, 0, offset)).collect::<Vec<_>>();
    assert_eq!(produce_each(&mut c, topic, 2, -1, "a").await, ok(0));
    assert_eq!(produce_each(&mut c, topic, 2, 1, "b").await, ok(1));
    let mut c2 = Client::connect(server.addr).await;
    assert_eq!(produce_each(&mut c2, topic, 2, -1, "c").await, ok(2));
    assert_eq!(produce_each(&mut c2, topic, 2, 1, "d").await, ok(3));
    // A partition that does not exist is refused per partition.
    assert_eq!(
        produce_each(&mut c2, topic, 3, 1, "e").await,
        vec![(0, 0, 4), (1, 0, 4), (2, UNKNOWN_TOPIC_OR_PARTITION, -1)]
    );

    for p in 0..2 {
        let want: Vec<(i64, String)> = ["a", "b", "c", "d", "e"]
            .iter()
            .enumerate()
            .map(|(i, tag)| (i as i64, format!("{topic}-{p}-{tag}")))
            .collect();
        assert_eq!(fetch_partition(&mut c, topic, p).await, (0, 5, want));
    }
    drop((c, c2));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Committed offsets survive a restart.
// ---------------------------------------------------------------------------------------------

const ADMIN_GROUP: &str = "admin-commits";
const MEMBER_GROUP: &str = "member-commits";
const GROUP_TOPIC: &str = "orders";
const ADMIN_OFFSETS: [(i32, i64, i32, &str); 3] = [
    (0, 10, 3, "admin-0"),
    (1, 20, 3, "admin-1"),
    (2, 30, -1, ""),
];
const MEMBER_OFFSETS: [(i32, i64, i32, &str); 3] = [
    (0, 5, -1, "member"),
    (1, 6, -1, "member"),
    (2, 7, -1, "member"),
];

/// A classic group of one member: JoinGroup (MEMBER_ID_REQUIRED, then generation 1 with the
/// member as leader), SyncGroup with its assignment; returns (generation, member id).
async fn join_classic_group(c: &mut Client, group: &str) -> (i32, String) {
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(s(group));
    join.session_timeout_ms = 30_000;
    join.rebalance_timeout_ms = 10_000;
    join.protocol_type = s("consumer");
    let mut proto = JoinGroupRequestProtocol::default();
    proto.name = s("range");
    proto.metadata = Bytes::from_static(b"subscription");
    join.protocols = vec![proto];
    let first: JoinGroupResponse = call(c, ApiKey::JoinGroup, 9, &join).await;
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    assert!(!first.member_id.is_empty());
    join.member_id = first.member_id.clone();
    let joined: JoinGroupResponse = call(c, ApiKey::JoinGroup, 9, &join).await;
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, first.member_id);
    assert_eq!(joined.members.len(), 1);

    let mut sync = SyncGroupRequest::default();
    sync.group_id = GroupId(s(group));
    sync.generation_id = joined.generation_id;
    sync.member_id = joined.member_id.clone();
    sync.protocol_type = Some(s("consumer"));
    sync.protocol_name = Some(s("range"));
    let mut a = SyncGroupRequestAssignment::default();
    a.member_id = joined.member_id.clone();
    a.assignment = Bytes::from_static(b"all of orders");
    sync.assignments = vec![a];
    let synced: SyncGroupResponse = call(c, ApiKey::SyncGroup, 5, &sync).await;
    assert_eq!(synced.error_code, 0);
    assert_eq!(synced.assignment, Bytes::from_static(b"all of orders"));
    (joined.generation_id, joined.member_id.to_string())
}

/// OffsetFetch of both groups, retried (bounded) while the coordinator loads.
async fn fetch_both_groups_when_loaded(c: &mut Client) -> GroupOffsets {
    let deadline = Deadline::new("the restarted coordinator to load", Duration::from_secs(20));
    loop {
        let got = offset_fetch(c, &[ADMIN_GROUP, MEMBER_GROUP]).await;
        if !got
            .values()
            .any(|(e, _)| *e == COORDINATOR_LOAD_IN_PROGRESS)
        {
            return got;
        }
        deadline.wait(&got).await;
    }
}

/// Commits with generation -1 / empty member id (an admin commit) and from a classic group
/// member (JoinGroup/SyncGroup, generation 1) are acknowledged with 0 per partition and
/// readable at once; after the broker is stopped (`clean`: the clean shutdown of
/// `run_with_listeners`; else the broker's runtime is dropped with no shutdown work, like a
/// killed process) and a new broker opens the same log dir, FindCoordinator names node 1 on
/// the new port and OffsetFetch v8 (all committed partitions of both groups in one request)
/// returns exactly the committed offsets, leader epochs and metadata strings.
async fn committed_offsets_survive_restart(clean: bool) {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let node = single_node(dir.path(), loopback_listener()).await;
    let mut c = node.client().await;
    assert_eq!(
        create_topic(&mut c, GROUP_TOPIC, 3, 1).await.topics[0].error_code,
        0
    );

    let (e, id, host, port) = find_coordinator(&mut c, ADMIN_GROUP).await;
    assert_eq!(
        (e, id, host.as_str(), port),
        (0, 1, "127.0.0.1", i32::from(node.addr.port()))
    );
    assert_eq!(
        commit(&mut c, ADMIN_GROUP, -1, "", GROUP_TOPIC, &ADMIN_OFFSETS).await,
        vec![0; 3]
    );
    assert_eq!(find_coordinator(&mut c, MEMBER_GROUP).await.0, 0);
    let (generation, member) = join_classic_group(&mut c, MEMBER_GROUP).await;
    assert_eq!(
        commit(
            &mut c,
            MEMBER_GROUP,
            generation,
            &member,
            GROUP_TOPIC,
            &MEMBER_OFFSETS
        )
        .await,
        vec![0; 3]
    );
    // An admin commit to a group with a live member is refused and changes nothing.
    assert_eq!(
        commit(&mut c, MEMBER_GROUP, -1, "", GROUP_TOPIC, &ADMIN_OFFSETS).await,
        vec![25; 3],
        "UNKNOWN_MEMBER_ID"
    );

    let want: GroupOffsets = [
        (
            ADMIN_GROUP.to_string(),
            (0, expected(GROUP_TOPIC, &ADMIN_OFFSETS)),
        ),
        (
            MEMBER_GROUP.to_string(),
            (0, expected(GROUP_TOPIC, &MEMBER_OFFSETS)),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        offset_fetch(&mut c, &[ADMIN_GROUP, MEMBER_GROUP]).await,
        want
    );
    drop(c);

    let stopping = Instant::now();
    if clean {
        node.stop().await;
    } else {
        node.crash().await;
    }
    println!("stopped (clean: {clean}) in {:?}", stopping.elapsed());
    // Kafka's clean-shutdown marker: written by the clean shutdown only (the broker removes it
    // when it opens the log dir), so the two variants really differ.
    assert_eq!(
        dir.path().join(".kafka_cleanshutdown").exists(),
        clean,
        "clean-shutdown marker present exactly after a clean stop"
    );

    let node = single_node(dir.path(), loopback_listener()).await;
    let mut c = node.client().await;
    let (e, id, _, port) = find_coordinator(&mut c, ADMIN_GROUP).await;
    assert_eq!((e, id, port), (0, 1, i32::from(node.addr.port())));
    assert_eq!(fetch_both_groups_when_loaded(&mut c).await, want);
    // Explicitly named partitions, one of them never committed.
    assert_eq!(
        offset_fetch_partitions(&mut c, ADMIN_GROUP, GROUP_TOPIC, &[2, 0, 1]).await,
        (
            0,
            vec![
                (30, -1, Some(String::new())),
                (10, 3, Some("admin-0".into())),
                (20, 3, Some("admin-1".into())),
            ]
        )
    );
    drop(c);
    node.stop().await;
    println!("took {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_clean_restart() {
    committed_offsets_survive_restart(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_restart_without_clean_shutdown() {
    committed_offsets_survive_restart(false).await;
}

// ---------------------------------------------------------------------------------------------
// 3. The coordinator moves with the leadership of its __consumer_offsets partition.
// ---------------------------------------------------------------------------------------------

const CLUSTER_OFFSETS_PARTITIONS: usize = 3;

/// Three combined broker+controller nodes (ids 1..3) in this process, each with its own log dir
/// and runtime; returns once every node's Metadata lists all three brokers.
async fn three_node_cluster(dirs: &[tempfile::TempDir]) -> Vec<Node> {
    // Controller ports: bind all three at once (distinct), then release them for the brokers.
    let probes: Vec<std::net::TcpListener> = (0..3).map(|_| loopback_listener()).collect();
    let ctrl: Vec<u16> = probes
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    drop(probes);
    let voters = (0..3)
        .map(|i| format!("{}@127.0.0.1:{}", i + 1, ctrl[i]))
        .collect::<Vec<_>>()
        .join(",");
    let mut starts = Vec::new();
    for i in 0..3 {
        let listener = loopback_listener();
        let port = listener.local_addr().unwrap().port();
        let p = props(&[
            ("node.id", (i + 1).to_string()),
            ("process.roles", "broker,controller".into()),
            ("controller.quorum.voters", voters.clone()),
            (
                "listeners",
                format!(
                    "PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{}",
                    ctrl[i]
                ),
            ),
            (
                "advertised.listeners",
                format!("PLAINTEXT://127.0.0.1:{port}"),
            ),
            ("log.dirs", dirs[i].path().display().to_string()),
            (
                "offsets.topic.num.partitions",
                CLUSTER_OFFSETS_PARTITIONS.to_string(),
            ),
            ("offsets.topic.replication.factor", "3".into()),
            ("group.initial.rebalance.delay.ms", "0".into()),
            ("broker.session.timeout.ms", "3000".into()),
            ("broker.heartbeat.interval.ms", "500".into()),
            ("replica.lag.time.max.ms", "4000".into()),
        ]);
        // Spawned so the three start concurrently (each waits only for its own Broker::open).
        starts.push(tokio::spawn(Node::start(listener, p)));
    }
    let mut nodes = Vec::new();
    for s in starts {
        nodes.push(s.await.expect("node start-up"));
    }
    let deadline = Deadline::new("every node to list three brokers", Duration::from_secs(30));
    loop {
        let mut counts = Vec::new();
        for n in &nodes {
            let mut c = n.client().await;
            let mut req = MetadataRequest::default();
            req.topics = Some(Vec::new());
            let md: MetadataResponse = call(&mut c, ApiKey::Metadata, 12, &req).await;
            counts.push(md.brokers.len());
        }
        if counts.iter().all(|&n| n == 3) {
            return nodes;
        }
        deadline.wait(&counts).await;
    }
}

/// A group's offsets are committed (generation -1, empty member id) at its coordinator, the
/// leader of its `__consumer_offsets` partition (RF 3, full ISR). The coordinator node stops
/// cleanly (its controlled shutdown hands leadership over). FindCoordinator at a survivor then
/// names another node (error 0, that node's port), which answers OffsetFetch — after at most
/// COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR while it takes over — with exactly the
/// committed offsets and metadata; the survivors' Metadata shows that node leading the group's
/// offsets partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_reloads_committed_offsets_after_leadership_moves() {
    let t0 = Instant::now();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = three_node_cluster(&dirs).await;
    let started = t0.elapsed();
    let group = "movers";
    let topic = "events";
    let offsets: [(i32, i64, i32, &str); 3] = [
        (0, 11, -1, "from-0"),
        (1, 22, -1, "from-1"),
        (2, 33, -1, "from-2"),
    ];

    let mut c1 = nodes[0].client().await;
    let created = create_topic(&mut c1, topic, 3, 3).await;
    assert_eq!(
        created.topics[0].error_code, 0,
        "{:?}",
        created.topics[0].error_message
    );

    // The first FindCoordinator creates __consumer_offsets; wait until every node names the same
    // coordinator and sees full ISRs for the offsets topic and the data topic.
    let deadline = Deadline::new(
        "one coordinator named by all, full ISRs everywhere",
        Duration::from_secs(30),
    );
    let coord = loop {
        let mut seen = Vec::new();
        for n in &nodes {
            let mut c = n.client().await;
            let f = find_coordinator(&mut c, group).await;
            let offsets_view = partition_view(&describe(&mut c, OFFSETS_TOPIC).await);
            let topic_view = partition_view(&describe(&mut c, topic).await);
            seen.push((n.id, f, offsets_view, topic_view));
        }
        let coords: Vec<i32> = seen.iter().map(|(_, f, _, _)| f.1).collect();
        let full = |v: &Vec<(i32, i32, i32, Vec<i32>)>, n: usize| {
            v.len() == n
                && v.iter()
                    .all(|(_, l, _, isr)| *l > 0 && *isr == vec![1, 2, 3])
        };
        if seen.iter().all(|(_, f, o, t)| {
            f.0 == 0 && f.1 == coords[0] && full(o, CLUSTER_OFFSETS_PARTITIONS) && full(t, 3)
        }) {
            break coords[0];
        }
        deadline.wait(&seen).await;
    };
    let ci = nodes
        .iter()
        .position(|n| n.id == coord)
        .expect("coordinator is a node");
    println!("cluster up in {started:?}; coordinator of {group}: node {coord}");

    let mut cc = nodes[ci].client().await;
    let deadline = Deadline::new("the commit at the coordinator", Duration::from_secs(20));
    loop {
        let codes = commit(&mut cc, group, -1, "", topic, &offsets).await;
        if codes.iter().all(|&e| e == COORDINATOR_LOAD_IN_PROGRESS) {
            deadline.wait(&codes).await;
            continue;
        }
        assert_eq!(codes, vec![0; 3]);
        break;
    }
    let want = expected(topic, &offsets);
    assert_eq!(
        offset_fetch(&mut cc, &[group]).await,
        [(group.to_string(), (0, want.clone()))]
            .into_iter()
            .collect()
    );
    drop((c1, cc));

    // Stop the coordinator cleanly: controlled shutdown moves its leaderships away.
    let stopping = Instant::now();
    let old = nodes.remove(ci);
    old.stop().await;
    let stop_took = stopping.elapsed();

    let moved = Instant::now();
    let mut survivor = nodes[0].client().await;
    let deadline = Deadline::new(
        "a survivor to name a new coordinator",
        Duration::from_secs(20),
    );
    let (new_coord, new_port) = loop {
        let f = find_coordinator(&mut survivor, group).await;
        if f.0 == 0 && f.1 != coord {
            break (f.1, f.3);
        }
        assert!(
            f.0 == 0 || f.0 == COORDINATOR_NOT_AVAILABLE,
            "FindCoordinator error {f:?}"
        );
        deadline.wait(&f).await;
    };
    let ni = nodes
        .iter()
        .position(|n| n.id == new_coord)
        .unwrap_or_else(|| panic!("new coordinator {new_coord} is a survivor"));
    assert_eq!(new_port, i32::from(nodes[ni].addr.port()));

    let mut nc = nodes[ni].client().await;
    let got = loop {
        let got = offset_fetch(&mut nc, &[group]).await;
        let code = got[group].0;
        if code == COORDINATOR_LOAD_IN_PROGRESS || code == NOT_COORDINATOR {
            deadline.wait(&got).await;
            continue;
        }
        break got;
    };
    assert_eq!(
        got,
        [(group.to_string(), (0, want))].into_iter().collect(),
        "the new coordinator serves the committed offsets"
    );
    let took = moved.elapsed();

    // Both survivors agree on the new leader of the group's offsets partition.
    for n in &nodes {
        let mut c = n.client().await;
        assert_eq!(find_coordinator(&mut c, group).await.1, new_coord);
        let view = partition_view(&describe(&mut c, OFFSETS_TOPIC).await);
        assert!(
            view.iter().any(|(_, l, _, _)| *l == new_coord),
            "node {} sees node {new_coord} leading an offsets partition: {view:?}",
            n.id
        );
        assert!(
            view.iter().all(|(_, l, _, _)| *l != coord),
            "node {} sees no partition led by the stopped node: {view:?}",
            n.id
        );
    }
    drop((survivor, nc));
    println!(
        "node {coord} stopped in {stop_took:?}; node {new_coord} served the offsets {took:?} \
         later; total {:?}",
        t0.elapsed()
    );
    // Teardown: the test is over, no clean shutdown needed.
    for n in nodes {
        n.crash().await;
    }
}
