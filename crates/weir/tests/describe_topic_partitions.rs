//! DescribeTopicPartitions (key 75) against a real `weir`: sorted topics, partition paging with
//! a cursor, unknown topics and invalid cursors.

use std::path::Path;

use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::RawClient;
use weir_test_support::{BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn name(n: &str) -> TopicName {
    TopicName(StrBytes::from_string(n.to_string()))
}

/// (topic, error, partition indexes) per topic, and the next cursor.
type Page = (Vec<(String, i16, Vec<i32>)>, Option<(String, i32)>);

fn describe(c: &mut RawClient, topics: &[&str], limit: i32, cursor: Option<(&str, i32)>) -> Page {
    let mut req = DescribeTopicPartitionsRequest::default();
    req.topics = topics
        .iter()
        .map(|t| TopicRequest::default().with_name(name(t)))
        .collect();
    req.response_partition_limit = limit;
    req.cursor = cursor.map(|(t, p)| {
        Cursor::default()
            .with_topic_name(name(t))
            .with_partition_index(p)
    });
    let r: DescribeTopicPartitionsResponse = c.call(ApiKey::DescribeTopicPartitions, 0, &req);
    let topics = r
        .topics
        .iter()
        .filter(|t| !t.name.as_ref().is_some_and(|n| n.0.starts_with("__")))
        .map(|t| {
            let parts = t.partitions.iter().map(|p| p.partition_index).collect();
            (
                t.name.clone().map(|n| n.0.to_string()).unwrap_or_default(),
                t.error_code,
                parts,
            )
        })
        .collect();
    let next = r
        .next_cursor
        .map(|c| (c.topic_name.0.to_string(), c.partition_index));
    (topics, next)
}

fn entry(t: &str, parts: &[i32]) -> (String, i16, Vec<i32>) {
    (t.to_string(), 0, parts.to_vec())
}

#[test]
fn topics_are_paged_by_partition_with_a_cursor() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "c", 1, &[]);
    create_topic(&b.bootstrap(), "a", 3, &[]);
    create_topic(&b.bootstrap(), "b", 2, &[]);
    let mut c = RawClient::connect(&b.bootstrap());

    // All topics, sorted by name; 4 partitions per answer.
    let first = describe(&mut c, &[], 4, None);
    assert_eq!(first.0, vec![entry("a", &[0, 1, 2]), entry("b", &[0])]);
    assert_eq!(first.1, Some(("b".into(), 1)));
    let second = describe(&mut c, &[], 4, Some(("b", 1)));
    assert_eq!(second.0, vec![entry("b", &[1]), entry("c", &[0])]);
    assert_eq!(second.1, None);

    // A limit that ends exactly at a topic's end points the cursor at the next topic.
    let exact = describe(&mut c, &["a", "c"], 3, None);
    assert_eq!(exact.0, vec![entry("a", &[0, 1, 2])]);
    assert_eq!(exact.1, Some(("c".into(), 0)));

    // A named topic that does not exist, and an illegal name.
    let missing = describe(&mut c, &["nope", "a", "bad name"], 2000, None);
    assert_eq!(
        missing.0,
        vec![
            ("a".into(), 0, vec![0, 1, 2]),
            ("bad name".into(), 17, vec![]),
            ("nope".into(), 3, vec![]),
        ]
    );

    // Without an authorizer every topic operation is reported, as Kafka: 3576.
    let mut req = DescribeTopicPartitionsRequest::default();
    req.topics = vec![TopicRequest::default().with_name(name("a"))];
    req.response_partition_limit = 10;
    let r: DescribeTopicPartitionsResponse = c.call(ApiKey::DescribeTopicPartitions, 0, &req);
    assert_eq!(r.topics[0].topic_authorized_operations, 3576);
    // Kafka reports them for a topic it does not have too (not for an illegal name).
    req.topics = vec![
        TopicRequest::default().with_name(name("nope")),
        TopicRequest::default().with_name(name("bad name")),
    ];
    let r: DescribeTopicPartitionsResponse = c.call(ApiKey::DescribeTopicPartitions, 0, &req);
    let ops: Vec<(i16, i32)> = r
        .topics
        .iter()
        .map(|t| (t.error_code, t.topic_authorized_operations))
        .collect();
    assert_eq!(ops, vec![(17, i32::MIN), (3, 3576)]);

    // A cursor whose topic is not asked for, or with a negative partition: INVALID_REQUEST.
    let invalid = describe(&mut c, &["a"], 10, Some(("b", 0)));
    assert_eq!(invalid.0, vec![("a".into(), 42, vec![])]);
    let negative = describe(&mut c, &["a"], 10, Some(("a", -1)));
    assert_eq!(negative.0, vec![("a".into(), 42, vec![])]);
}
