//! Group coordination in a cluster with real processes on 127.0.0.1: one dedicated controller
//! and three brokers. A group's coordinator is the leader of its `__consumer_offsets` partition
//! (Kafka's hash of the group id): every broker names the same coordinator, the others refuse
//! group requests with NOT_COORDINATOR, two librdkafka consumers bootstrapped to different
//! brokers form one group, and after the coordinator is SIGKILLed the new leader of the offsets
//! partition takes over with the committed offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::Offset;
use weir_broker::groups::records::partition_for;
use weir_test_support::clients::{flush, producer, send};
use weir_test_support::cluster::{
    cluster_options, create_replicated_topic, partitions, start_controller_and_three_brokers,
    PartitionView,
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

const OFFSETS: &str = "__consumer_offsets";
const OFFSETS_PARTITIONS: i32 = 6;
const NOT_COORDINATOR: i16 = 16;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// Node 1 is the controller; nodes 2–4 are brokers (index = id - 1).
fn cluster() -> Vec<BrokerProcess> {
    cluster_with(&[])
}

/// [`cluster`] with extra configs for every node.
fn cluster_with(extra: &[(&str, &str)]) -> Vec<BrokerProcess> {
    let mut opts = cluster_options()
        .config(
            "offsets.topic.num.partitions",
            &OFFSETS_PARTITIONS.to_string(),
        )
        .config("group.initial.rebalance.delay.ms", "0");
    for (k, v) in extra {
        opts = opts.config(k, v);
    }
    start_controller_and_three_brokers(weir(), opts)
}

/// Brokers first, then the controller (it must outlive their controlled shutdowns).
fn stop_all(nodes: &mut [BrokerProcess]) {
    for n in nodes.iter_mut().rev() {
        n.stop();
    }
}

fn connect(node: &BrokerProcess) -> Option<RawClient> {
    let mut c = RawClient::try_connect(&node.bootstrap()).ok()?;
    c.set_timeout(Duration::from_secs(10));
    Some(c)
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// (error code, coordinator id, port) from FindCoordinator v3 (one key).
fn find_v3(node: &BrokerProcess, group: &str) -> Option<(i16, i32, i32)> {
    let mut c = connect(node)?;
    let mut req = FindCoordinatorRequest::default();
    req.key = s(group);
    req.key_type = 0;
    let r: FindCoordinatorResponse = c.try_call(ApiKey::FindCoordinator, 3, &req).ok()?;
    Some((r.error_code, r.node_id.0, r.port))
}

/// Per key (error code, coordinator id, port) from FindCoordinator v4 (a batch of keys).
fn find_v4(node: &BrokerProcess, groups: &[&str]) -> Option<BTreeMap<String, (i16, i32, i32)>> {
    let mut c = connect(node)?;
    let mut req = FindCoordinatorRequest::default();
    req.key_type = 0;
    req.coordinator_keys = groups.iter().map(|g| s(g)).collect();
    let r: FindCoordinatorResponse = c.try_call(ApiKey::FindCoordinator, 4, &req).ok()?;
    Some(
        r.coordinators
            .into_iter()
            .map(|k| (k.key.to_string(), (k.error_code, k.node_id.0, k.port)))
            .collect(),
    )
}

/// The `__consumer_offsets` partitions as `node` sees them (empty when it does not answer).
fn offsets_view(node: &BrokerProcess) -> Vec<PartitionView> {
    partitions(&node.bootstrap(), OFFSETS)
}

fn offsets_topic_ready(nodes: &[BrokerProcess]) -> bool {
    nodes[1..].iter().all(|n| {
        let v = offsets_view(n);
        v.len() == OFFSETS_PARTITIONS as usize && v.iter().all(|p| p.leader > 0 && p.isr.len() == 3)
    })
}

fn heartbeat(node: &BrokerProcess, group: &str) -> Option<i16> {
    let mut c = connect(node)?;
    let mut r = HeartbeatRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s("nobody");
    r.generation_id = 1;
    let resp: HeartbeatResponse = c.try_call(ApiKey::Heartbeat, 4, &r).ok()?;
    Some(resp.error_code)
}

/// OffsetFetch v8: (group error, committed offset of partitions 0..n of `topic`).
fn offset_fetch_v8(
    node: &BrokerProcess,
    group: &str,
    topic: &str,
    n: i32,
) -> Option<(i16, Vec<i64>)> {
    let mut c = connect(node)?;
    let mut t = OffsetFetchRequestTopics::default();
    t.name = TopicName(s(topic));
    t.partition_indexes = (0..n).collect();
    let mut g = OffsetFetchRequestGroup::default();
    g.group_id = GroupId(s(group));
    g.member_epoch = -1;
    g.topics = Some(vec![t]);
    let mut req = OffsetFetchRequest::default();
    req.groups = vec![g];
    let resp: OffsetFetchResponse = c.try_call(ApiKey::OffsetFetch, 8, &req).ok()?;
    let g = resp.groups.first()?;
    let mut offsets = vec![-1; n as usize];
    for p in g.topics.iter().flat_map(|t| t.partitions.iter()) {
        if let Some(o) = offsets.get_mut(p.partition_index as usize) {
            *o = p.committed_offset;
        }
    }
    Some((g.error_code, offsets))
}

/// OffsetFetch v1..v7 (one group): (top-level error, per-partition errors).
fn offset_fetch_legacy(node: &BrokerProcess, version: i16, group: &str) -> (i16, Vec<i16>) {
    let mut c = connect(node).expect("connect");
    let mut t = OffsetFetchRequestTopic::default();
    t.name = TopicName(s("anything"));
    t.partition_indexes = vec![0, 1];
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(s(group));
    req.topics = Some(vec![t]);
    let resp: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, version, &req);
    let parts = resp
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect();
    (resp.error_code, parts)
}

/// The coordinator the brokers at indexes `asked` name for `group` (v3 and v4 alike), once they
/// all agree.
fn agreed_coordinator(nodes: &[BrokerProcess], asked: &[usize], group: &str) -> Option<i32> {
    let mut ids = BTreeSet::new();
    for n in asked.iter().map(|&i| &nodes[i]) {
        let (e3, id3, _) = find_v3(n, group)?;
        let (e4, id4, _) = *find_v4(n, &[group])?.get(group)?;
        if e3 != 0 || e4 != 0 || id3 != id4 {
            return None;
        }
        ids.insert(id3);
    }
    (ids.len() == 1).then(|| ids.into_iter().next()).flatten()
}

/// Every broker names the same coordinator for a group, in FindCoordinator v3 and in a v4 batch,
/// with that broker's port, and it is the leader of `__consumer_offsets-<partition_for(group)>`.
/// The other brokers refuse Heartbeat, OffsetFetch (v1 per partition, v5 top level, v8 per
/// group), OffsetCommit, JoinGroup and DescribeGroups with NOT_COORDINATOR and create no group.
#[test]
fn every_broker_names_the_leader_of_the_offsets_partition_and_the_others_refuse() {
    let _serial = serial();
    let t0 = Instant::now();
    let mut nodes = cluster();
    let groups = [
        "orders", "billing", "audit", "search", "mail", "alpha", "beta", "gamma",
    ];
    // The first FindCoordinator creates __consumer_offsets (RF 3 on three brokers).
    assert!(
        wait_until(Duration::from_secs(20), || find_v3(&nodes[1], "orders")
            .is_some_and(|(e, _, _)| e == 0)),
        "FindCoordinator answers: {:?}",
        find_v3(&nodes[1], "orders")
    );
    assert!(
        wait_until(Duration::from_secs(20), || offsets_topic_ready(&nodes)),
        "__consumer_offsets has 6 partitions with leaders and full ISRs everywhere: {:?}",
        offsets_view(&nodes[1])
    );
    let view = offsets_view(&nodes[1]);
    let port_of = |id: i32| -> i32 {
        nodes[(id - 1) as usize]
            .bootstrap()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(-1)
    };
    let mut expected: BTreeMap<&str, i32> = BTreeMap::new();
    for g in groups {
        let p = partition_for(g, OFFSETS_PARTITIONS);
        expected.insert(g, view[p as usize].leader);
    }
    let distinct: BTreeSet<i32> = expected.values().copied().collect();
    assert!(
        distinct.len() >= 2,
        "the chosen groups spread over brokers: {expected:?}"
    );
    for n in &nodes[1..] {
        for g in groups {
            assert_eq!(
                find_v3(n, g),
                Some((0, expected[g], port_of(expected[g]))),
                "FindCoordinator v3 for {g} from {}",
                n.bootstrap()
            );
        }
        let batch = find_v4(n, &groups).expect("FindCoordinator v4");
        let want: BTreeMap<String, (i16, i32, i32)> = groups
            .iter()
            .map(|g| (g.to_string(), (0, expected[g], port_of(expected[g]))))
            .collect();
        assert_eq!(
            batch,
            want,
            "FindCoordinator v4 batch from {}",
            n.bootstrap()
        );
    }
    println!("coordinators: {expected:?} (offsets partition leaders {view:?})");

    // Requests for `orders` at a broker that does not coordinate it.
    let group = "orders";
    let coord = expected[group];
    let ci = (coord - 1) as usize;
    let other = (1..4).find(|&i| i != ci).expect("another broker");
    let o = &nodes[other];
    assert_eq!(heartbeat(o, group), Some(NOT_COORDINATOR), "Heartbeat");
    assert_eq!(
        offset_fetch_v8(o, group, "t", 2).map(|(e, _)| e),
        Some(NOT_COORDINATOR),
        "OffsetFetch v8 group error"
    );
    assert_eq!(
        offset_fetch_legacy(o, 5, group),
        (NOT_COORDINATOR, vec![]),
        "OffsetFetch v5: top-level error"
    );
    assert_eq!(
        offset_fetch_legacy(o, 1, group),
        (0, vec![NOT_COORDINATOR, NOT_COORDINATOR]),
        "OffsetFetch v1: every asked partition carries the error"
    );
    let mut c = connect(o).expect("connect");
    let mut commit = OffsetCommitRequest::default();
    commit.group_id = GroupId(s(group));
    commit.generation_id_or_member_epoch = -1;
    let mut t = OffsetCommitRequestTopic::default();
    t.name = TopicName(s("t"));
    t.partitions = (0..2)
        .map(|i| {
            let mut p = OffsetCommitRequestPartition::default();
            p.partition_index = i;
            p.committed_offset = 5;
            p
        })
        .collect();
    commit.topics = vec![t];
    let resp: OffsetCommitResponse = c.call(ApiKey::OffsetCommit, 8, &commit);
    let codes: Vec<i16> = resp.topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        codes,
        vec![NOT_COORDINATOR; 2],
        "OffsetCommit per partition"
    );
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(s(group));
    join.session_timeout_ms = 10_000;
    join.rebalance_timeout_ms = 10_000;
    join.member_id = s("m-1");
    join.protocol_type = s("consumer");
    let resp: JoinGroupResponse = c.call(ApiKey::JoinGroup, 5, &join);
    assert_eq!(
        (
            resp.error_code,
            resp.generation_id,
            resp.member_id.to_string()
        ),
        (NOT_COORDINATOR, -1, "m-1".to_string()),
        "JoinGroup echoes the member id"
    );
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![GroupId(s(group))];
    let resp: DescribeGroupsResponse = c.call(ApiKey::DescribeGroups, 5, &describe);
    assert_eq!(resp.groups[0].error_code, NOT_COORDINATOR, "DescribeGroups");
    let listed: ListGroupsResponse = c.call(ApiKey::ListGroups, 4, &ListGroupsRequest::default());
    assert!(
        listed.groups.is_empty(),
        "refusals created no group: {:?}",
        listed.groups
    );

    // The coordinator itself answers as coordinator.
    let cn = &nodes[ci];
    assert_eq!(
        heartbeat(cn, group),
        Some(25),
        "UNKNOWN_MEMBER_ID from the coordinator"
    );
    assert_eq!(
        offset_fetch_v8(cn, group, "t", 2),
        Some((0, vec![-1, -1])),
        "the coordinator answers OffsetFetch"
    );
    stop_all(&mut nodes);
    println!("took {:?}", t0.elapsed());
}

/// A group consumer whose messages (value = sequence number) the test thread polls.
struct Member {
    c: BaseConsumer,
    got: Vec<(i32, u64)>,
}

impl Member {
    fn start(bootstrap: &str, group: &str, topic: &str) -> Member {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("fetch.wait.max.ms", "100")
            .set("reconnect.backoff.max.ms", "500")
            .create()
            .expect("create group consumer");
        c.subscribe(&[topic]).expect("subscribe");
        Member { c, got: Vec::new() }
    }

    /// Serve the consumer's queue once (rebalance events and at most one message).
    fn pump(&mut self) {
        match self.c.poll(Duration::from_millis(20)) {
            Some(Ok(m)) => {
                let v = std::str::from_utf8(m.payload().unwrap_or_default())
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .expect("sequence-number value");
                self.got.push((m.partition(), v));
            }
            Some(Err(e)) => println!("consumer error (retried by librdkafka): {e}"),
            None => {}
        }
    }

    fn assignment(&self) -> BTreeSet<i32> {
        self.c
            .assignment()
            .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    /// True when the position of every assigned partition is `end`.
    fn caught_up(&self, end: i64) -> bool {
        self.c.position().is_ok_and(|tpl| {
            tpl.count() > 0
                && tpl
                    .elements()
                    .iter()
                    .all(|e| e.offset() == Offset::Offset(end))
        })
    }

    fn seqs(&self) -> BTreeSet<u64> {
        self.got.iter().map(|&(_, v)| v).collect()
    }
}

/// Produce `value = seq` to partition `seq % parts` for every seq in `range` (acks=all).
fn produce(bootstrap: &str, topic: &str, parts: u64, range: std::ops::Range<u64>) {
    let (p, acks) = producer(bootstrap, &[]);
    for seq in range {
        send(
            &p,
            topic,
            Some((seq % parts) as i32),
            None,
            seq.to_string().as_bytes(),
        );
    }
    assert_eq!(
        flush(&p, Duration::from_secs(30)),
        0,
        "every message acknowledged"
    );
    let errors = acks.errors.lock().unwrap_or_else(|e| e.into_inner());
    assert!(errors.is_empty(), "{errors:?}");
}

/// Two consumers bootstrapped to different brokers form one group and split a 4-partition RF 3
/// topic; they consume 40 messages and commit. The coordinator is SIGKILLed: once the controller
/// fences it the offsets partition gets a new leader, which answers OffsetFetch with the
/// committed offsets, and a new consumer of the group starts exactly at them (none of the first
/// 40 messages again, every one of the next 20).
#[test]
fn a_group_spans_brokers_and_resumes_from_committed_offsets_after_the_coordinator_dies() {
    let _serial = serial();
    let t0 = Instant::now();
    let mut nodes = cluster();
    let all = nodes[1..]
        .iter()
        .map(|n| n.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    let topic = "events";
    let group = "resumers";
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), topic, 4, 3, &[]),
        0
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            let v = partitions(&nodes[1].bootstrap(), topic);
            v.len() == 4 && v.iter().all(|p| p.leader > 0 && p.isr.len() == 3)
        }),
        "{topic} fully replicated: {:?}",
        partitions(&nodes[1].bootstrap(), topic)
    );
    produce(&all, topic, 4, 0..40);
    // Create __consumer_offsets and wait for full ISRs, so the kill below loses nothing.
    assert!(wait_until(Duration::from_secs(20), || agreed_coordinator(
        &nodes,
        &[1, 2, 3],
        group
    )
    .is_some()));
    assert!(
        wait_until(Duration::from_secs(20), || offsets_topic_ready(&nodes)),
        "{:?}",
        offsets_view(&nodes[1])
    );
    let coord = agreed_coordinator(&nodes, &[1, 2, 3], group).expect("coordinator");
    let ci = (coord - 1) as usize;
    let offsets_partition = partition_for(group, OFFSETS_PARTITIONS);
    assert_eq!(
        offsets_view(&nodes[1])[offsets_partition as usize].leader,
        coord
    );

    // Two members, each bootstrapped to a different broker, share the topic as one group.
    let mut a = Member::start(&nodes[1].bootstrap(), group, topic);
    let mut b = Member::start(&nodes[2].bootstrap(), group, topic);
    let split = wait_until(Duration::from_secs(30), || {
        a.pump();
        b.pump();
        let (sa, sb) = (a.assignment(), b.assignment());
        sa.len() == 2 && sb.len() == 2 && sa.is_disjoint(&sb) && a.caught_up(10) && b.caught_up(10)
    });
    let (sa, sb) = (a.assignment(), b.assignment());
    assert!(
        split,
        "one group, partitions split: {sa:?} / {sb:?}, positions {:?} / {:?}",
        a.c.position(),
        b.c.position()
    );
    let consumed: BTreeSet<u64> = a.seqs().union(&b.seqs()).copied().collect();
    assert_eq!(
        consumed,
        (0..40).collect(),
        "the members consumed everything"
    );
    a.c.commit_consumer_state(CommitMode::Sync)
        .expect("member a commits");
    b.c.commit_consumer_state(CommitMode::Sync)
        .expect("member b commits");
    assert_eq!(
        offset_fetch_v8(&nodes[ci], group, topic, 4),
        Some((0, vec![10; 4])),
        "committed offsets at the coordinator"
    );
    println!(
        "group {group}: coordinator {coord} (__consumer_offsets-{offsets_partition}); member a \
         (via broker 2) {sa:?}, member b (via broker 3) {sb:?}; committed after {:?}",
        t0.elapsed()
    );
    drop(a); // close: LeaveGroup
    drop(b);
    produce(&all, topic, 4, 40..60);

    // SIGKILL the coordinator; the survivors take over once the controller fences it.
    nodes[ci].kill9();
    let killed = Instant::now();
    let survivors: Vec<usize> = (1..4).filter(|&i| i != ci).collect();
    let mut new_coord = -1;
    let answered = wait_until(Duration::from_secs(30), || {
        let s = &nodes[survivors[0]];
        let Some((0, id, _)) = find_v3(s, group) else {
            return false;
        };
        if id == coord || id <= 0 {
            return false;
        }
        new_coord = id;
        offset_fetch_v8(&nodes[(id - 1) as usize], group, topic, 4)
            .is_some_and(|r| r == (0, vec![10; 4]))
    });
    let took = killed.elapsed();
    assert!(
        answered,
        "a new coordinator answers with the committed offsets: find {:?}, offsets partition {:?}\n\
         survivor log:\n{}",
        find_v3(&nodes[survivors[0]], group),
        offsets_view(&nodes[survivors[0]]).get(offsets_partition as usize),
        tail(&nodes[survivors[0]].output(), 30)
    );
    println!(
        "coordinator {coord} killed: broker {new_coord} answered OffsetFetch with the committed \
         offsets after {took:?}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || agreed_coordinator(
            &nodes, &survivors, group
        ) == Some(new_coord)),
        "every survivor names the new coordinator"
    );
    for &i in &survivors {
        let v = offsets_view(&nodes[i]);
        assert_eq!(
            v[offsets_partition as usize].leader, new_coord,
            "the new coordinator leads __consumer_offsets-{offsets_partition}"
        );
    }
    assert_ne!(
        heartbeat(&nodes[(new_coord - 1) as usize], group),
        Some(NOT_COORDINATOR)
    );

    // A new member resumes exactly at the committed offsets.
    let resume_at = Instant::now();
    let mut c = Member::start(&nodes[survivors[0]].bootstrap(), group, topic);
    let resumed = wait_until(Duration::from_secs(30), || {
        c.pump();
        (40..60).all(|s| c.seqs().contains(&s))
    });
    assert!(resumed, "the new member gets 40..60: got {:?}", c.seqs());
    println!(
        "new member consumed 40..60 {:?} after it started",
        resume_at.elapsed()
    );
    let before: Vec<u64> = c.got.iter().map(|&(_, v)| v).filter(|&v| v < 40).collect();
    assert!(
        before.is_empty(),
        "re-delivered before the committed offsets: {before:?}"
    );
    assert_eq!(c.got.len(), 20, "each of 40..60 once: {:?}", c.got);
    drop(c);
    stop_all(&mut nodes);
    println!("took {:?}", t0.elapsed());
}

fn listed_groups(node: &BrokerProcess) -> Option<BTreeSet<String>> {
    let mut c = connect(node)?;
    let r: ListGroupsResponse = c
        .try_call(ApiKey::ListGroups, 4, &ListGroupsRequest::default())
        .ok()?;
    Some(r.groups.iter().map(|g| g.group_id.to_string()).collect())
}

/// Poll `m` until its position is `end` on every assigned partition, then commit synchronously
/// (retried while the coordinator moves) until `coordinator` returns `end` for `parts`
/// partitions.
fn consume_and_commit(
    m: &mut Member,
    nodes: &[BrokerProcess],
    coordinator: usize,
    group: &str,
    topic: &str,
    parts: i32,
    end: i64,
) {
    assert!(
        wait_until(Duration::from_secs(30), || {
            m.pump();
            m.assignment().len() == parts as usize && m.caught_up(end)
        }),
        "consumed up to {end}: {:?} {:?}",
        m.assignment(),
        m.c.position()
    );
    let want = Some((0, vec![end; parts as usize]));
    assert!(
        wait_until(Duration::from_secs(30), || {
            m.pump();
            if let Err(e) = m.c.commit_consumer_state(CommitMode::Sync) {
                println!("commit retried: {e}");
                return false;
            }
            offset_fetch_v8(&nodes[coordinator], group, topic, parts) == want
        }),
        "committed {end} at broker {}: {:?}",
        coordinator + 1,
        offset_fetch_v8(&nodes[coordinator], group, topic, parts)
    );
}

/// The coordinator moves away and back while a member stays in the group: SIGKILL the
/// coordinator, the member keeps consuming and commits at the new coordinator (which loaded the
/// group and its offsets); the old coordinator restarts, catches up and gets its preferred
/// leadership of the offsets partition back (auto leader rebalance), loads the commits made
/// meanwhile, and the interim coordinator drops the group and refuses with NOT_COORDINATOR.
/// The member sees every message exactly once throughout.
#[test]
fn the_coordinator_moves_away_and_back_under_a_live_member() {
    let _serial = serial();
    let t0 = Instant::now();
    let mut nodes = cluster_with(&[("leader.imbalance.check.interval.seconds", "1")]);
    let all = nodes[1..]
        .iter()
        .map(|n| n.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    let (topic, group) = ("moves", "movers");
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), topic, 2, 3, &[]),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || agreed_coordinator(
        &nodes,
        &[1, 2, 3],
        group
    )
    .is_some()));
    assert!(wait_until(Duration::from_secs(20), || offsets_topic_ready(
        &nodes
    )));
    let first = agreed_coordinator(&nodes, &[1, 2, 3], group).expect("coordinator");
    let fi = (first - 1) as usize;
    let op = partition_for(group, OFFSETS_PARTITIONS) as usize;
    assert_eq!(
        offsets_view(&nodes[1])[op].replicas.first(),
        Some(&first),
        "the first coordinator is the preferred leader"
    );
    produce(&all, topic, 2, 0..20);
    let mut m = Member::start(&all, group, topic);
    consume_and_commit(&mut m, &nodes, fi, group, topic, 2, 10);

    // Away: the coordinator dies; the member carries on with the new one.
    nodes[fi].kill9();
    let killed = Instant::now();
    let survivors: Vec<usize> = (1..4).filter(|&i| i != fi).collect();
    let mut second = -1;
    assert!(
        wait_until(Duration::from_secs(30), || {
            m.pump();
            match agreed_coordinator(&nodes, &survivors, group) {
                Some(id) if id != first => second = id,
                _ => return false,
            }
            offset_fetch_v8(&nodes[(second - 1) as usize], group, topic, 2)
                == Some((0, vec![10, 10]))
        }),
        "a survivor coordinates with the committed offsets"
    );
    let si = (second - 1) as usize;
    println!(
        "coordinator {first} killed: {second} answered after {:?}",
        killed.elapsed()
    );
    produce(&all, topic, 2, 20..40);
    consume_and_commit(&mut m, &nodes, si, group, topic, 2, 20);

    // Back: the old coordinator returns, catches up, and the controller hands its preferred
    // leadership back; it loads what was committed meanwhile.
    nodes[fi].restart();
    let restarted = Instant::now();
    assert!(
        wait_until(Duration::from_secs(40), || {
            m.pump();
            agreed_coordinator(&nodes, &[1, 2, 3], group) == Some(first)
                && offset_fetch_v8(&nodes[fi], group, topic, 2) == Some((0, vec![20, 20]))
        }),
        "broker {first} coordinates again with the offsets committed at {second}: find {:?}, \
         partition {:?}, fetch {:?}\n{}",
        find_v3(&nodes[fi], group),
        offsets_view(&nodes[fi]).get(op),
        offset_fetch_v8(&nodes[fi], group, topic, 2),
        tail(&nodes[fi].output(), 30)
    );
    println!(
        "broker {first} restarted: coordinator again after {:?}",
        restarted.elapsed()
    );
    assert_eq!(heartbeat(&nodes[si], group), Some(NOT_COORDINATOR));
    assert!(
        wait_until(Duration::from_secs(10), || listed_groups(&nodes[si])
            .is_some_and(|g| !g.contains(group))),
        "broker {second} dropped the group: {:?}",
        listed_groups(&nodes[si])
    );
    assert!(listed_groups(&nodes[fi]).is_some_and(|g| g.contains(group)));
    produce(&all, topic, 2, 40..60);
    consume_and_commit(&mut m, &nodes, fi, group, topic, 2, 30);
    let mut seqs: Vec<u64> = m.got.iter().map(|&(_, v)| v).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..60).collect::<Vec<u64>>(), "every message once");
    drop(m);
    stop_all(&mut nodes);
    println!("took {:?}", t0.elapsed());
}
