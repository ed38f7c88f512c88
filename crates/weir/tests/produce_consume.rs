//! Real `weir` process + librdkafka (rdkafka crate): produce/consume, partitioning, restart,
//! kill -9 durability and long-poll latency.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::Offset;
use weir_test_support::clients::{
    assigned_consumer, by_partition, consume_n, create_topic, flush, producer, send,
};
use weir_test_support::{java_partition, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

#[test]
fn keyed_messages_keep_partition_order_and_kafka_key_placement() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    println!("broker ready {:?} after spawn", b.last_start);
    assert!(
        b.last_start < Duration::from_secs(10),
        "start-up took {:?}",
        b.last_start
    );
    create_topic(&b.bootstrap(), "keyed", 3, &[]);
    const N: usize = 100_000;
    // murmur2_random = Kafka's Java default partitioner for keyed messages.
    let (p, acks) = producer(
        &b.bootstrap(),
        &[
            ("partitioner", "murmur2_random"),
            ("linger.ms", "20"),
            ("batch.num.messages", "2000"),
        ],
    );
    let t0 = Instant::now();
    for i in 0..N {
        let key = format!("key-{}", i % 997);
        send(
            &p,
            "keyed",
            None,
            Some(key.as_bytes()),
            format!("{i}").as_bytes(),
        );
        if i % 1000 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    assert_eq!(
        flush(&p, Duration::from_secs(120)),
        0,
        "unacknowledged messages remain"
    );
    println!("produced {N} with acks=all in {:?}", t0.elapsed());
    assert!(
        acks.errors.lock().unwrap().is_empty(),
        "{:?}",
        acks.errors.lock().unwrap().first()
    );
    assert_eq!(acks.acked.lock().unwrap().len(), N);

    let c = assigned_consumer(&b.bootstrap(), "keyed", 3, Offset::Beginning, &[]);
    let got = consume_n(&c, N, Duration::from_secs(120));
    assert_eq!(got.len(), N, "consumed {} of {N}", got.len());
    let mut seen = HashSet::new();
    for (partition, msgs) in by_partition(&got) {
        let mut last_seq_per_key = std::collections::HashMap::new();
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(
                m.offset, i as i64,
                "offsets are dense and ordered in partition {partition}"
            );
            let key = m.key.clone().unwrap();
            assert_eq!(
                java_partition(&key, 3),
                partition,
                "key {:?} landed on the wrong partition",
                String::from_utf8_lossy(&key)
            );
            let seq: usize = String::from_utf8(m.value.clone()).unwrap().parse().unwrap();
            if let Some(prev) = last_seq_per_key.insert(key, seq) {
                assert!(seq > prev, "per-key order broken in partition {partition}");
            }
            assert!(seen.insert(seq), "duplicate message {seq}");
        }
    }
    assert_eq!(seen.len(), N);
}

#[test]
fn data_and_topic_configs_survive_a_clean_restart() {
    let mut b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "durable", 2, &[("retention.ms", "3600000")]);
    let (p, acks) = producer(&b.bootstrap(), &[]);
    for i in 0..500 {
        send(&p, "durable", Some(i % 2), None, format!("m{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    drop(p);
    b.stop();
    assert!(
        b.log_dir().join(".kafka_cleanshutdown").exists(),
        "clean shutdown marker written"
    );
    b.restart();
    let c = assigned_consumer(&b.bootstrap(), "durable", 2, Offset::Beginning, &[]);
    let got = consume_n(&c, 500, Duration::from_secs(30));
    assert_eq!(got.len(), acks.acked.lock().unwrap().len());
    assert_eq!(
        topic_config(&b.bootstrap(), "durable", "retention.ms").as_deref(),
        Some("3600000"),
        "topic config persisted in the metadata log"
    );
}

/// A topic config value as DescribeConfigs reports it.
fn topic_config(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let res = rt
        .block_on(admin.describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new()))
        .unwrap();
    let cfg = res.into_iter().next().unwrap().unwrap();
    cfg.get(key).and_then(|e| e.value.clone())
}

/// A data dir from before the metadata log (topics in `weir-topics.json`) keeps its topics, ids
/// and data: they move onto the metadata log at start-up.
#[test]
fn a_pre_raft_topic_table_is_migrated_with_its_ids_and_data() {
    let mut b = BrokerProcess::start(weir(), BrokerOptions::default());
    b.stop();
    let id = "3f2b8c1e-5d4a-4b7e-9c1f-2a3b4c5d6e7f";
    std::fs::write(
        b.log_dir().join("weir-topics.json"),
        format!(
            r#"{{"version":1,"topics":[{{"name":"legacy","id":"{id}","partitions":2,"replication_factor":1,"configs":{{"retention.ms":"7200000"}}}}]}}"#
        ),
    )
    .unwrap();
    b.restart();
    assert!(b.log_dir().join("weir-topics.json.migrated").exists());
    assert!(!b.log_dir().join("weir-topics.json").exists());
    let (p, _acks) = producer(&b.bootstrap(), &[]);
    send(&p, "legacy", Some(1), None, b"still here");
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    let c = assigned_consumer(&b.bootstrap(), "legacy", 2, Offset::Beginning, &[]);
    assert_eq!(consume_n(&c, 1, Duration::from_secs(30)).len(), 1);
    assert_eq!(
        topic_config(&b.bootstrap(), "legacy", "retention.ms").as_deref(),
        Some("7200000")
    );
    let mut raw = weir_test_support::raw::RawClient::connect(&b.bootstrap());
    let mut req = kafka_protocol::messages::MetadataRequest::default();
    let mut t = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
    t.name = Some(kafka_protocol::messages::TopicName(
        kafka_protocol::protocol::StrBytes::from_static_str("legacy"),
    ));
    req.topics = Some(vec![t]);
    let md: kafka_protocol::messages::MetadataResponse =
        raw.call(kafka_protocol::messages::ApiKey::Metadata, 12, &req);
    assert_eq!(
        md.topics[0].topic_id.to_string(),
        id,
        "the topic id is kept"
    );
    assert_eq!(md.topics[0].partitions.len(), 2);
    // Restarting again keeps it (now from the metadata log alone).
    b.stop();
    b.restart();
    assert_eq!(
        topic_config(&b.bootstrap(), "legacy", "retention.ms").as_deref(),
        Some("7200000")
    );
}

#[test]
fn every_acknowledged_message_survives_kill_9() {
    let mut b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "crashy", 1, &[]);
    let (p, acks) = producer(&b.bootstrap(), &[("linger.ms", "0")]);
    for i in 0..2000 {
        send(&p, "crashy", Some(0), None, format!("c{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    // Kill right after the last acks=all produce returned.
    b.kill9();
    drop(p);
    b.restart();
    let acked = acks.acked.lock().unwrap().clone();
    assert_eq!(acked.len(), 2000);
    let c = assigned_consumer(&b.bootstrap(), "crashy", 1, Offset::Beginning, &[]);
    let got = consume_n(&c, acked.len(), Duration::from_secs(30));
    assert_eq!(got.len(), acked.len());
    for a in &acked {
        let g = &got[a.offset as usize];
        assert_eq!(
            (g.offset, &g.value),
            (a.offset, &a.value),
            "acknowledged message lost or changed"
        );
    }
    assert!(
        b.output().contains("no clean-shutdown marker"),
        "restart after kill -9 ran recovery"
    );
}

#[test]
fn long_poll_wakes_on_new_data() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "poll", 1, &[]);
    let c = assigned_consumer(
        &b.bootstrap(),
        "poll",
        1,
        Offset::Beginning,
        &[("fetch.wait.max.ms", "5000")],
    );
    // Let the consumer reach its long-poll fetch on the empty partition.
    assert!(consume_n(&c, 1, Duration::from_millis(1000)).is_empty());
    let bs = b.bootstrap();
    let handle = std::thread::spawn(move || {
        let (p, _acks) = producer(&bs, &[("linger.ms", "0")]);
        std::thread::sleep(Duration::from_millis(100));
        let sent = Instant::now();
        send(&p, "poll", Some(0), None, b"wake up");
        assert_eq!(flush(&p, Duration::from_secs(10)), 0);
        sent
    });
    let got = consume_n(&c, 1, Duration::from_secs(10));
    let received = Instant::now();
    let sent = handle.join().unwrap();
    assert_eq!(got.len(), 1);
    let latency = received.saturating_duration_since(sent);
    println!("long-poll delivery latency: {latency:?}");
    assert!(
        latency < Duration::from_millis(1000),
        "fetch was not woken by new data ({latency:?})"
    );
}
