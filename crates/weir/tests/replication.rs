//! Replication with real processes on 127.0.0.1: one dedicated controller (so the metadata
//! quorum survives every broker fault) and three brokers; topics with replication factor 3 and
//! min.insync.replicas=2; an idempotent acks=all librdkafka producer runs while brokers are
//! killed, frozen (SIGSTOP: cut off from everyone) and restarted. Afterwards every acknowledged
//! record is consumed exactly once, in order, and the replicas' logs are byte-identical.

use std::path::Path;
use std::time::{Duration, Instant};

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::cluster::{
    brokers_bootstrap, brokers_registered, check_acked_vs_consumed, cluster_options,
    create_replicated_topic, full_isr, log_bytes, start_controller_and_three_brokers, view,
    Workload,
};
use weir_test_support::raw::RawClient;
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// Node 1 is the controller; nodes 2–4 are brokers (index = id - 1).
fn cluster() -> Vec<BrokerProcess> {
    start_controller_and_three_brokers(
        weir(),
        cluster_options()
            .config("replica.fetch.backoff.ms", "200")
            .config("auto.leader.rebalance.enable", "false"),
    )
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Stop every broker cleanly and compare each partition's segment bytes across the replicas.
fn assert_replicas_identical(nodes: &mut [BrokerProcess], topic: &str, parts: i32) {
    // Brokers first (the controller must outlive their controlled shutdowns).
    for n in nodes.iter_mut().rev() {
        n.stop();
    }
    for p in 0..parts {
        let copies: Vec<Vec<u8>> = nodes[1..]
            .iter()
            .map(|n| log_bytes(&n.log_dir(), topic, p))
            .collect();
        assert!(!copies[0].is_empty(), "partition {p} has data");
        for (i, c) in copies.iter().enumerate().skip(1) {
            assert!(
                c == &copies[0],
                "partition {p}: broker {} has {} bytes, broker 2 has {} (or different bytes)",
                i + 2,
                c.len(),
                copies[0].len()
            );
        }
    }
}

/// How the leader of partition 0 is taken away in [`leader_loss`].
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// SIGKILL, later restarted.
    Kill,
    /// SIGSTOP (cut off from clients and every other node), later SIGCONT.
    Freeze,
}

/// Produce continuously (idempotent, acks=all, RF=3, min.insync.replicas=2), take the leader of
/// partition 0 away, wait for the first acknowledged produce after that, bring it back, and
/// check: every acknowledged record consumed exactly once in order, the returning broker back in
/// every ISR, and all replicas byte-identical.
fn leader_loss(loss: Loss) {
    let _serial = serial();
    let mut nodes = cluster();
    let bs = brokers_bootstrap(&nodes);
    assert_eq!(
        create_replicated_topic(
            &nodes[1].bootstrap(),
            "orders",
            3,
            3,
            &[("min.insync.replicas", "2")]
        ),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "orders", 3
    )));
    let work = Workload::start(&bs, "orders", 3, Duration::from_millis(2));
    assert!(
        wait_until(Duration::from_secs(30), || work.acked_count() >= 1000),
        "the workload gets going"
    );
    let leader = view(&nodes, "orders", &[])[0].leader;
    let victim = (leader - 1) as usize;
    match loss {
        Loss::Kill => nodes[victim].kill9(),
        Loss::Freeze => nodes[victim].pause(),
    }
    let lost_at = Instant::now();
    let acked_before = work.acked_count();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let v = view(&nodes, "orders", &[victim]);
            !v.is_empty() && v[0].leader != leader && v[0].leader > 0
        }),
        "partition 0 got a new leader: {:?}\ncontroller log:\n{}",
        view(&nodes, "orders", &[victim]),
        tail(&nodes[0].output(), 40)
    );
    let elected = lost_at.elapsed();
    let first = work.first_ack_after(lost_at, Duration::from_secs(30));
    println!(
        "{loss:?}: leader {leader} of orders-0 lost with {acked_before} acks; new leader after \
         {elected:?}; first acknowledged produce {:?} after the loss",
        first.map(|f| f - lost_at)
    );
    assert!(first.is_some(), "produce resumed after the failover");
    assert!(wait_until(Duration::from_secs(30), || work.acked_count()
        >= acked_before + 1500));

    // The broker returns, truncates any divergent tail, catches up and rejoins the ISR.
    match loss {
        Loss::Kill => nodes[victim].restart(),
        Loss::Freeze => nodes[victim].resume(),
    }
    assert!(
        wait_until(Duration::from_secs(40), || full_isr(&nodes, "orders", 3)),
        "broker {leader} rejoined every ISR: {:?}\n{}",
        view(&nodes, "orders", &[]),
        tail(&nodes[victim].output(), 40)
    );
    let (acked, errors) = work.finish();
    assert!(errors.is_empty(), "delivery errors: {errors:?}");
    let (problems, consumed) = check_acked_vs_consumed(
        &bs,
        "orders",
        3,
        &acked,
        acked.len(),
        Duration::from_secs(60),
    );
    println!(
        "{} acknowledged, {consumed} consumed, {} problems",
        acked.len(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "{:#?}",
        &problems[..problems.len().min(20)]
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "orders", 3
    )));
    assert_replicas_identical(&mut nodes, "orders", 3);
}

#[test]
fn killing_the_leader_during_idempotent_acks_all_produce_loses_nothing() {
    leader_loss(Loss::Kill);
}

/// The frozen leader cannot acknowledge acks=all writes once the others moved on (they no longer
/// fetch from it); when it thaws it learns the new leader, truncates what only it had and
/// follows.
#[test]
fn a_frozen_leader_loses_nothing_acknowledged_and_rejoins_without_divergence() {
    leader_loss(Loss::Freeze);
}

/// acks=all Produce v9 of one small batch to `partition`; returns the partition error code.
fn produce_raw(node: &BrokerProcess, topic: &str, partition: i32, timeout_ms: i32) -> i16 {
    let mut c = RawClient::connect(&node.bootstrap());
    let batch = weir_log::batch::build_batch(0, 0, &[(Some(b"k".as_slice()), b"v".as_slice())]);
    let mut pd = PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(bytes::Bytes::from(batch));
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_string(topic.to_string()));
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = timeout_ms;
    req.topic_data = vec![td];
    let resp: ProduceResponse = c.call(ApiKey::Produce, 9, &req);
    resp.responses[0].partition_responses[0].error_code
}

fn log_end(node: &BrokerProcess, topic: &str, partition: i32) -> i64 {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    let mut c = RawClient::connect(&node.bootstrap());
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = -1;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![t];
    let resp: ListOffsetsResponse = c.call(ApiKey::ListOffsets, 7, &req);
    resp.topics[0].partitions[0].offset
}

#[test]
fn two_brokers_down_with_min_insync_2_refuses_acks_all_and_acknowledges_nothing() {
    let _serial = serial();
    let mut nodes = cluster();
    assert_eq!(
        create_replicated_topic(
            &nodes[1].bootstrap(),
            "safe",
            1,
            3,
            &[("min.insync.replicas", "2")]
        ),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "safe", 3
    )));
    let leader = view(&nodes, "safe", &[])[0].leader;
    let li = (leader - 1) as usize;
    assert_eq!(produce_raw(&nodes[li], "safe", 0, 10_000), 0, "healthy ISR");
    let end_before = log_end(&nodes[li], "safe", 0);
    assert_eq!(end_before, 1);
    // Kill both followers; the controller fences them and the ISR shrinks to the leader.
    let followers: Vec<usize> = (1..4).filter(|&i| i != li).collect();
    for &f in &followers {
        nodes[f].kill9();
    }
    assert!(
        wait_until(Duration::from_secs(20), || view(&nodes, "safe", &followers)
            .first()
            .is_some_and(|p| p.isr == vec![leader])),
        "ISR shrank to the leader: {:?}",
        view(&nodes, "safe", &followers)
    );
    assert_eq!(
        produce_raw(&nodes[li], "safe", 0, 5_000),
        19,
        "NOT_ENOUGH_REPLICAS"
    );
    assert_eq!(
        log_end(&nodes[li], "safe", 0),
        end_before,
        "nothing was appended"
    );
    // The followers catch up when they return and acks=all works again.
    for &f in &followers {
        nodes[f].restart();
    }
    assert!(
        wait_until(Duration::from_secs(40), || full_isr(&nodes, "safe", 3)),
        "followers rejoined: {:?}",
        view(&nodes, "safe", &[])
    );
    assert_eq!(produce_raw(&nodes[li], "safe", 0, 10_000), 0);
    assert_eq!(log_end(&nodes[li], "safe", 0), 2);
}

/// A follower whose fetch to a leader is long-polling there picks up a partition it starts to
/// follow from that leader at once, not when the long-poll ends: with
/// `replica.fetch.wait.max.ms` at 20 s, the first acks=all produce to a new RF=3 topic is
/// answered long before the parked fetches (covering only the older topic) would return.
#[test]
fn a_new_partition_is_fetched_without_waiting_for_the_long_poll_in_flight() {
    let _serial = serial();
    let nodes = start_controller_and_three_brokers(
        weir(),
        // Followers are not dropped from the ISR meanwhile (which would also let it through).
        BrokerOptions::default()
            .config("broker.session.timeout.ms", "3000")
            .config("broker.heartbeat.interval.ms", "500")
            .config("replica.lag.time.max.ms", "30000")
            .config("replica.fetch.wait.max.ms", "20000"),
    );
    // Three partitions: every broker leads one, so every broker has a fetcher to each other.
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), "old", 3, 3, &[]),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "old", 3
    )));
    for (i, p) in view(&nodes, "old", &[]).iter().enumerate() {
        let li = (p.leader - 1) as usize;
        assert_eq!(produce_raw(&nodes[li], "old", i as i32, 10_000), 0);
    }
    // Every follower fetch is now parked at its leader for up to 20 s.
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), "new", 1, 3, &[]),
        0
    );
    let mut leader = -1;
    assert!(wait_until(Duration::from_secs(10), || {
        leader = view(&nodes, "new", &[]).first().map_or(-1, |p| p.leader);
        leader > 0
    }));
    let started = Instant::now();
    assert_eq!(
        produce_raw(&nodes[(leader - 1) as usize], "new", 0, 30_000),
        0
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the first acks=all produce to the new topic took {took:?} (the followers' long-polls \
         end after 20 s)\n{}",
        nodes
            .iter()
            .map(|n| n.output())
            .collect::<Vec<_>>()
            .join("\n=====\n")
    );
}

/// KIP-392: brokers in racks r2–r4 with the rack-aware replica selector; the leader points a
/// consumer in rack r<follower> at that follower, the follower serves consumer fetches up to its
/// high watermark, and a librdkafka consumer with `client.rack` reads everything.
#[test]
fn a_consumer_reads_from_the_replica_in_its_rack() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    let _serial = serial();
    let nodes = weir_test_support::start_nodes_with(
        weir(),
        &["controller", "broker", "broker", "broker"],
        BrokerOptions::default().config(
            "replica.selector.class",
            "org.apache.kafka.common.replica.RackAwareReplicaSelector",
        ),
        |id, o| o.config("broker.rack", &format!("r{id}")),
    );
    assert!(wait_until(Duration::from_secs(30), || brokers_registered(
        &nodes[1]
    ) == 3));
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), "racked", 1, 3, &[]),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "racked", 3
    )));
    let leader = view(&nodes, "racked", &[])[0].leader;
    let li = (leader - 1) as usize;
    for _ in 0..5 {
        assert_eq!(produce_raw(&nodes[li], "racked", 0, 10_000), 0);
    }
    let follower = (2..=4).find(|&id| id != leader).unwrap_or(2);
    let fi = (follower - 1) as usize;
    let fetch = |node: &BrokerProcess, rack: &str| -> fetch_response::PartitionData {
        let mut c = RawClient::connect(&node.bootstrap());
        let mut p = FetchPartition::default();
        p.partition = 0;
        p.fetch_offset = 0;
        p.current_leader_epoch = -1;
        p.last_fetched_epoch = -1;
        p.partition_max_bytes = 1 << 20;
        let mut t = FetchTopic::default();
        t.topic = TopicName(StrBytes::from_static_str("racked"));
        t.partitions = vec![p];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = 0;
        req.max_bytes = 1 << 20;
        req.session_epoch = -1;
        req.rack_id = StrBytes::from_string(rack.to_string());
        req.topics = vec![t];
        let resp: FetchResponse = c.call(ApiKey::Fetch, 11, &req);
        resp.responses[0].partitions[0].clone()
    };
    // The leader redirects a consumer from the follower's rack, and serves one from its own.
    let redirected = fetch(&nodes[li], &format!("r{follower}"));
    assert_eq!(redirected.error_code, 0);
    assert_eq!(redirected.preferred_read_replica.0, follower);
    assert!(redirected.records.as_ref().is_none_or(|r| r.is_empty()));
    let local = fetch(&nodes[li], &format!("r{leader}"));
    assert_eq!(local.preferred_read_replica.0, -1);
    assert!(local.records.as_ref().is_some_and(|r| !r.is_empty()));
    // The follower serves the consumer once its high watermark has caught up.
    assert!(wait_until(Duration::from_secs(10), || {
        let d = fetch(&nodes[fi], &format!("r{follower}"));
        d.error_code == 0 && d.high_watermark == 5
    }));
    let d = fetch(&nodes[fi], &format!("r{follower}"));
    assert!(d.records.as_ref().is_some_and(|r| !r.is_empty()));
    // librdkafka follows the redirect and reads everything.
    let c = weir_test_support::clients::assigned_consumer(
        &brokers_bootstrap(&nodes),
        "racked",
        1,
        rdkafka::Offset::Beginning,
        &[("client.rack", &format!("r{follower}"))],
    );
    let got = weir_test_support::clients::consume_n(&c, 5, Duration::from_secs(30));
    assert_eq!(got.len(), 5);
    assert_eq!(
        got.iter().map(|m| m.offset).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
}

fn offset_for_epoch(
    node: &BrokerProcess,
    topic: &str,
    epoch: i32,
    current: i32,
) -> (i16, i32, i64) {
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    let mut c = RawClient::connect(&node.bootstrap());
    let mut p = OffsetForLeaderPartition::default();
    p.partition = 0;
    p.current_leader_epoch = current;
    p.leader_epoch = epoch;
    let mut t = OffsetForLeaderTopic::default();
    t.topic = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut req = OffsetForLeaderEpochRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![t];
    let resp: OffsetForLeaderEpochResponse = c.call(ApiKey::OffsetForLeaderEpoch, 4, &req);
    let e = &resp.topics[0].partitions[0];
    (e.error_code, e.leader_epoch, e.end_offset)
}

/// OffsetForLeaderEpoch answers where each leader epoch ends (only on the leader), and an
/// acks=all produce whose ISR members stop answering gets REQUEST_TIMED_OUT after its timeout.
#[test]
fn epochs_end_where_the_next_leader_began_and_a_stalled_isr_times_out() {
    let _serial = serial();
    let mut nodes = cluster();
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), "epochs", 1, 3, &[]),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "epochs", 3
    )));
    let first = view(&nodes, "epochs", &[])[0].clone();
    let li = (first.leader - 1) as usize;
    for _ in 0..3 {
        assert_eq!(produce_raw(&nodes[li], "epochs", 0, 10_000), 0);
    }
    let e0 = first.leader_epoch;
    assert_eq!(offset_for_epoch(&nodes[li], "epochs", e0, -1), (0, e0, 3));
    assert_eq!(
        offset_for_epoch(&nodes[li], "epochs", e0 + 5, -1),
        (0, -1, -1)
    );
    let follower = (1..4).find(|&i| i != li).unwrap_or(1);
    assert_eq!(offset_for_epoch(&nodes[follower], "epochs", e0, -1).0, 6);
    assert_eq!(
        offset_for_epoch(&nodes[li], "epochs", e0, e0 + 1).0,
        75,
        "UNKNOWN_LEADER_EPOCH"
    );

    // A new leader (the old one is stopped with a controlled shutdown) starts a new epoch at 3.
    nodes[li].stop();
    assert!(wait_until(Duration::from_secs(20), || {
        let v = view(&nodes, "epochs", &[li]);
        !v.is_empty() && v[0].leader > 0 && v[0].leader != first.leader
    }));
    let second = view(&nodes, "epochs", &[li])[0].clone();
    let ni = (second.leader - 1) as usize;
    assert!(wait_until(Duration::from_secs(10), || produce_raw(
        &nodes[ni], "epochs", 0, 10_000
    ) == 0));
    assert_eq!(
        offset_for_epoch(&nodes[ni], "epochs", e0, -1),
        (0, e0, 3),
        "the old epoch ends where the new leader began"
    );
    let (code, epoch, end) = offset_for_epoch(&nodes[ni], "epochs", second.leader_epoch, -1);
    assert_eq!((code, epoch), (0, second.leader_epoch));
    assert!(end >= 4);
    assert_eq!(
        offset_for_epoch(&nodes[ni], "epochs", e0, e0).0,
        74,
        "FENCED_LEADER_EPOCH for a stale current epoch"
    );

    // Freeze the remaining follower: the ISR still lists it, so acks=all cannot complete.
    nodes[li].restart();
    assert!(wait_until(Duration::from_secs(30), || full_isr(
        &nodes, "epochs", 3
    )));
    let v = view(&nodes, "epochs", &[])[0].clone();
    let leader_i = (v.leader - 1) as usize;
    let others: Vec<usize> = (1..4).filter(|&i| i != leader_i).collect();
    for &o in &others {
        nodes[o].pause();
    }
    let t0 = Instant::now();
    assert_eq!(
        produce_raw(&nodes[leader_i], "epochs", 0, 800),
        7,
        "REQUEST_TIMED_OUT"
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(3),
        "{took:?}"
    );
    for &o in &others {
        nodes[o].resume();
    }
}

/// librdkafka's admin client sends CreateTopics to the Metadata answer's controller; with a
/// dedicated controller (no client listener) that must be a broker, as KRaft does.
#[test]
fn an_admin_client_creates_a_replicated_topic_with_a_dedicated_controller() {
    let _serial = serial();
    let nodes = cluster();
    let out = std::process::Command::new(weir())
        .args(["topics", "create", "via-admin", "--partitions", "2"])
        .args(["--replication-factor", "3", "-b", &nodes[2].bootstrap()])
        .output()
        .expect("run weir topics create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes,
        "via-admin",
        3
    )));
}
