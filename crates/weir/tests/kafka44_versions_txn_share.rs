//! Kafka 4.4's newest inter-broker share-state and transaction API versions at the protocol
//! level against a real `weir` process: WriteShareGroupState v1 (KIP-1226
//! DeliveryCompleteCount, seen through DescribeShareGroupOffsets v1's lag).

use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::write_share_group_state_request::{PartitionData, WriteStateData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::{create_topic, flush, producer, send};
use weir_test_support::raw::RawClient;
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
