//! The transactional APIs at the protocol level against a real `weir` process: Kafka's error
//! codes for bad input (timeouts above the maximum, unknown producer ids, stale epochs, unknown
//! partitions, EndTxn in the wrong state), and KIP-890 verification: a transactional write to a
//! partition that is not in an ongoing transaction — in particular one that arrives after its
//! transaction ended — is refused and never opens a transaction (the last stable offset never
//! gets stuck behind it).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::{producer_batch, try_produce, RawClient};
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn txn_batch(pid: i64, epoch: i16, first_seq: i32, n: i32) -> Bytes {
    producer_batch(pid, epoch, first_seq, n, true)
}

fn tid(s: &str) -> TransactionalId {
    TransactionalId(StrBytes::from_string(s.to_string()))
}

/// The error code of a transactional produce of `records` to `topic`-0.
fn produce(c: &mut RawClient, topic: &str, id: &str, records: Bytes) -> i16 {
    try_produce(c, topic, Some(id), records).expect("produce").0
}

/// ListOffsets LATEST of `topic`-0 at `isolation` (0: the high watermark, 1: the last stable
/// offset).
fn latest(c: &mut RawClient, topic: &str, isolation: i8) -> i64 {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = -1;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = (-1).into();
    req.isolation_level = isolation;
    req.topics = vec![t];
    let resp: ListOffsetsResponse = c.call(ApiKey::ListOffsets, 7, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

fn init(c: &mut RawClient, id: &str, timeout_ms: i32) -> InitProducerIdResponse {
    c.call(
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(tid(id)))
            .with_transaction_timeout_ms(timeout_ms)
            .with_producer_id((-1).into())
            .with_producer_epoch(-1),
    )
}

/// AddPartitionsToTxn v3 for `topic`-0: the partition's error code.
fn add(c: &mut RawClient, id: &str, pid: i64, epoch: i16, topic: &str) -> i16 {
    let mut t = AddPartitionsToTxnTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![0];
    let mut req = AddPartitionsToTxnRequest::default();
    req.v3_and_below_transactional_id = tid(id);
    req.v3_and_below_producer_id = pid.into();
    req.v3_and_below_producer_epoch = epoch;
    req.v3_and_below_topics = vec![t];
    let resp: AddPartitionsToTxnResponse = c.call(ApiKey::AddPartitionsToTxn, 3, &req);
    resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
}

fn end(c: &mut RawClient, id: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
    let resp: EndTxnResponse = c.call(
        ApiKey::EndTxn,
        3,
        &EndTxnRequest::default()
            .with_transactional_id(tid(id))
            .with_producer_id(pid.into())
            .with_producer_epoch(epoch)
            .with_committed(commit),
    );
    resp.error_code
}

#[test]
fn transactional_errors_and_kip_890_verification() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());

    // FindCoordinator for a transactional id names this broker (and creates the state topic).
    let fc: FindCoordinatorResponse = c.call(
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default()
            .with_key(StrBytes::from_static_str("a"))
            .with_key_type(1),
    );
    assert_eq!(fc.error_code, 0, "{:?}", fc.error_message);
    assert_eq!(fc.node_id.0, 1);

    // transaction.max.timeout.ms is 900000.
    assert_eq!(init(&mut c, "a", 900_001).error_code, 50);
    let first = init(&mut c, "a", 60_000);
    assert_eq!(first.error_code, 0);
    let (pid, epoch) = (first.producer_id.0, first.producer_epoch);

    // Committing without a transaction, adding with another producer id or an unknown topic.
    assert_eq!(end(&mut c, "a", pid, epoch, true), 48, "INVALID_TXN_STATE");
    assert_eq!(
        add(&mut c, "a", pid + 1, epoch, "t"),
        49,
        "INVALID_PRODUCER_ID_MAPPING"
    );
    assert_eq!(
        add(&mut c, "a", pid, epoch, "nope"),
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    assert_eq!(add(&mut c, "unknown-id", pid, epoch, "t"), 49);

    // A transactional write to a partition that is not in the transaction: refused, nothing
    // stored, no transaction opened.
    assert_eq!(produce(&mut c, "t", "a", txn_batch(pid, epoch, 0, 3)), 48);
    assert_eq!(latest(&mut c, "t", 0), 0);

    // In the transaction: stored, visible only to READ_UNCOMMITTED until the commit.
    assert_eq!(add(&mut c, "a", pid, epoch, "t"), 0);
    assert_eq!(produce(&mut c, "t", "a", txn_batch(pid, epoch, 0, 3)), 0);
    assert_eq!(latest(&mut c, "t", 0), 3);
    assert_eq!(
        latest(&mut c, "t", 1),
        0,
        "the open transaction holds the LSO"
    );
    assert_eq!(end(&mut c, "a", pid, epoch, true), 0);
    // The marker follows the answer: the LSO reaches the end once it is written.
    assert!(wait_until(Duration::from_secs(10), || latest(
        &mut c, "t", 1
    ) == 4));
    assert_eq!(latest(&mut c, "t", 0), 4);

    // A late write of the finished transaction (the Jepsen hanging-transaction case): refused,
    // the last stable offset stays at the end.
    assert_eq!(produce(&mut c, "t", "a", txn_batch(pid, epoch, 3, 2)), 48);
    assert_eq!(latest(&mut c, "t", 0), 4);
    assert_eq!(latest(&mut c, "t", 1), 4);

    // A second InitProducerId fences the first producer.
    let second = init(&mut c, "a", 60_000);
    assert_eq!(second.error_code, 0);
    assert_eq!(second.producer_id.0, pid);
    assert!(second.producer_epoch > epoch);
    assert_eq!(add(&mut c, "a", pid, epoch, "t"), 90, "PRODUCER_FENCED");
    assert_ne!(produce(&mut c, "t", "a", txn_batch(pid, epoch, 3, 2)), 0);
    assert_eq!(latest(&mut c, "t", 0), 4);

    // Describe / list / producers.
    let d: DescribeTransactionsResponse = c.call(
        ApiKey::DescribeTransactions,
        0,
        &DescribeTransactionsRequest::default().with_transactional_ids(vec![tid("a"), tid("b")]),
    );
    assert_eq!(d.transaction_states[0].error_code, 0);
    assert_eq!(
        d.transaction_states[0].producer_epoch,
        second.producer_epoch
    );
    assert_eq!(
        d.transaction_states[1].error_code, 105,
        "TRANSACTIONAL_ID_NOT_FOUND"
    );
    let l: ListTransactionsResponse = c.call(
        ApiKey::ListTransactions,
        1,
        &ListTransactionsRequest::default().with_duration_filter(-1),
    );
    assert_eq!(l.error_code, 0);
    assert!(l
        .transaction_states
        .iter()
        .any(|t| t.transactional_id.0.as_str() == "a" && t.producer_id.0 == pid));
    let mut dp = describe_producers_request::TopicRequest::default();
    dp.name = TopicName(StrBytes::from_static_str("t"));
    dp.partition_indexes = vec![0];
    let p: DescribeProducersResponse = c.call(
        ApiKey::DescribeProducers,
        0,
        &DescribeProducersRequest::default().with_topics(vec![dp]),
    );
    let part = &p.topics[0].partitions[0];
    assert_eq!(part.error_code, 0);
    let me = part
        .active_producers
        .iter()
        .find(|s| s.producer_id.0 == pid)
        .expect("the producer has state");
    assert_eq!(me.current_txn_start_offset, -1, "no open transaction");
    assert_eq!(me.last_sequence, 2);
}
