//! Kafka 4.4's newest inter-broker share-state and transaction API versions at the protocol
//! level against a real `weir` process: WriteShareGroupState v1 (KIP-1226
//! DeliveryCompleteCount, seen through DescribeShareGroupOffsets v1's lag), WriteTxnMarkers v2
//! (KIP-1228: the marker's transaction version decides the leader's epoch check).

use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::write_share_group_state_request::{PartitionData, WriteStateData};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::{create_topic, flush, producer, send};
use weir_test_support::raw::{producer_batch, try_produce, RawClient};
use weir_test_support::share::ShareGroup;
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// WriteShareGroupState `version` of partition 0 of `g`'s topic at state epoch 0, leader epoch
/// 0: start offset `start` and (v1) `delivery_complete` records complete. The partition's
/// (error, message).
fn write_state(
    c: &mut RawClient,
    version: i16,
    g: &ShareGroup,
    start: i64,
    delivery_complete: i32,
) -> (i16, Option<StrBytes>) {
    let mut p = PartitionData::default();
    p.partition = 0;
    p.start_offset = start;
    p.delivery_complete_count = delivery_complete;
    let mut t = WriteStateData::default();
    t.topic_id = g.topic_id;
    t.partitions = vec![p];
    let mut req = WriteShareGroupStateRequest::default();
    req.group_id = StrBytes::from_string(g.group.clone());
    req.topics = vec![t];
    let resp: WriteShareGroupStateResponse = c.call(ApiKey::WriteShareGroupState, version, &req);
    let p = &resp.results[0].partitions[0];
    (p.error_code, p.error_message.clone())
}

#[test]
fn write_share_group_state_v1_stores_the_delivery_complete_count() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let (p, _log) = producer(&b.bootstrap(), &[]);
    for i in 0..5 {
        send(&p, "t", Some(0), None, format!("v{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    let mut c = RawClient::connect(&b.bootstrap());
    let g = ShareGroup::new(&mut c, "sg", "t");
    // The group exists once a member joined (and left again: nobody fetches).
    g.heartbeat(&mut c, "m1", 0);
    g.heartbeat(&mut c, "m1", -1);

    // Start offset 1, two of the four records from there complete: lag 5 - 1 - 2.
    let mut last = (-1, None);
    let written = wait_until(Duration::from_secs(30), || {
        last = write_state(&mut c, 1, &g, 1, 2);
        last.0 == 0
    });
    assert!(written, "WriteShareGroupState v1: {last:?}");
    assert_eq!(g.offset(&mut c), (1, 2));
    assert_eq!(write_state(&mut c, 1, &g, 1, 0).0, 0);
    assert_eq!(g.offset(&mut c), (1, 4));
    // v0 carries no count: unknown, so the lag is unknown too.
    assert_eq!(write_state(&mut c, 0, &g, 1, 3).0, 0);
    assert_eq!(g.offset(&mut c), (1, -1));
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// The last stable offset of `topic`-0 (ListOffsets v7 LATEST, READ_COMMITTED).
fn last_stable(c: &mut RawClient, topic: &str) -> i64 {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = -1;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(s(topic));
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = (-1).into();
    req.isolation_level = 1;
    req.topics = vec![t];
    let resp: ListOffsetsResponse = c.call(ApiKey::ListOffsets, 7, &req);
    resp.topics[0].partitions[0].offset
}

/// WriteTxnMarkers `version` of a COMMIT of producer (`pid`, `epoch`) to `topic`-0 at
/// transaction version `tv` (sent in v2 only): the partition's error code.
fn commit_marker(c: &mut RawClient, version: i16, (pid, epoch): (i64, i16), tv: i8) -> i16 {
    let mut t = WritableTxnMarkerTopic::default();
    t.name = TopicName(s("t"));
    t.partition_indexes = vec![0];
    let mut m = WritableTxnMarker::default();
    m.producer_id = pid.into();
    m.producer_epoch = epoch;
    m.transaction_result = true;
    m.coordinator_epoch = 1000;
    m.transaction_version = tv;
    m.topics = vec![t];
    let mut req = WriteTxnMarkersRequest::default();
    req.markers = vec![m];
    let resp: WriteTxnMarkersResponse = c.call(ApiKey::WriteTxnMarkers, version, &req);
    let r = &resp.markers[0];
    assert_eq!(r.producer_id.0, pid);
    assert_eq!(r.topics[0].name.0.as_str(), "t");
    r.topics[0].partitions[0].error_code
}

#[test]
fn write_txn_markers_v2_checks_the_epoch_by_the_transaction_version() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let init: InitProducerIdResponse = c.call(
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s("tx"))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id((-1).into())
            .with_producer_epoch(-1),
    );
    assert_eq!(init.error_code, 0, "{init:?}");
    let producer = (init.producer_id.0, init.producer_epoch);
    let mut t = AddPartitionsToTxnTopic::default();
    t.name = TopicName(s("t"));
    t.partitions = vec![0];
    let mut add = AddPartitionsToTxnRequest::default();
    add.v3_and_below_transactional_id = TransactionalId(s("tx"));
    add.v3_and_below_producer_id = producer.0.into();
    add.v3_and_below_producer_epoch = producer.1;
    add.v3_and_below_topics = vec![t];
    let added: AddPartitionsToTxnResponse = c.call(ApiKey::AddPartitionsToTxn, 3, &add);
    assert_eq!(
        added.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let batch = producer_batch(producer.0, producer.1, 0, 3, true);
    assert_eq!(try_produce(&mut c, "t", Some("tx"), batch).unwrap().0, 0);
    assert_eq!(last_stable(&mut c, "t"), 0);

    // Transaction version 2: a marker must bump the epoch of an ongoing transaction.
    assert_eq!(
        commit_marker(&mut c, 2, producer, 2),
        47,
        "INVALID_PRODUCER_EPOCH"
    );
    assert_eq!(last_stable(&mut c, "t"), 0);
    // v1 carries no version (legacy): the same epoch is accepted, the transaction commits.
    assert_eq!(commit_marker(&mut c, 1, producer, 2), 0);
    assert_eq!(last_stable(&mut c, "t"), 4);
    // No transaction ongoing any more: at version 2 the same epoch is an idempotent retry.
    assert_eq!(commit_marker(&mut c, 2, producer, 2), 0);
    assert_eq!(last_stable(&mut c, "t"), 5);
}
