//! Share groups (KIP-932) at the protocol level against a real `weir` process: Kafka's error
//! codes for stale or missing share sessions, acknowledgements of records not acquired,
//! heartbeats with wrong epochs, group configs outside their bounds, and FindCoordinator for
//! share keys.

use std::path::Path;

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch,
};
use kafka_protocol::messages::share_fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::RawClient;
use weir_test_support::{BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic_id(c: &mut RawClient, topic: &str) -> uuid::Uuid {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(s(topic)));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    resp.topics[0].topic_id
}

fn fetch(c: &mut RawClient, id: uuid::Uuid, epoch: i32) -> ShareFetchResponse {
    let mut p = FetchPartition::default();
    p.partition_index = 0;
    let mut t = FetchTopic::default();
    t.topic_id = id;
    t.partitions = vec![p];
    let mut req = ShareFetchRequest::default();
    req.group_id = Some(GroupId(s("g")));
    req.member_id = Some(s("m1"));
    req.share_session_epoch = epoch;
    req.max_wait_ms = 0;
    req.max_bytes = 1 << 20;
    req.max_records = 10;
    req.topics = vec![t];
    c.call(ApiKey::ShareFetch, 1, &req)
}

fn acknowledge(c: &mut RawClient, id: uuid::Uuid, epoch: i32) -> ShareAcknowledgeResponse {
    let mut b = AcknowledgementBatch::default();
    b.first_offset = 0;
    b.last_offset = 0;
    b.acknowledge_types = vec![1];
    let mut p = AcknowledgePartition::default();
    p.partition_index = 0;
    p.acknowledgement_batches = vec![b];
    let mut t = AcknowledgeTopic::default();
    t.topic_id = id;
    t.partitions = vec![p];
    let mut req = ShareAcknowledgeRequest::default();
    req.group_id = Some(GroupId(s("g")));
    req.member_id = Some(s("m1"));
    req.share_session_epoch = epoch;
    req.topics = vec![t];
    c.call(ApiKey::ShareAcknowledge, 1, &req)
}

fn heartbeat(c: &mut RawClient, epoch: i32, member: &str) -> ShareGroupHeartbeatResponse {
    let mut req = ShareGroupHeartbeatRequest::default();
    req.group_id = GroupId(s("g"));
    req.member_id = s(member);
    req.member_epoch = epoch;
    req.subscribed_topic_names = Some(vec![TopicName(s("t"))]);
    c.call(ApiKey::ShareGroupHeartbeat, 1, &req)
}

fn alter_group(c: &mut RawClient, name: &str, value: &str) -> i16 {
    let mut cfg = AlterableConfig::default();
    cfg.name = s(name);
    cfg.config_operation = 0;
    cfg.value = Some(s(value));
    let mut r = AlterConfigsResource::default();
    r.resource_type = 32;
    r.resource_name = s("g");
    r.configs = vec![cfg];
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![r];
    let resp: IncrementalAlterConfigsResponse = c.call(ApiKey::IncrementalAlterConfigs, 1, &req);
    resp.responses[0].error_code
}

#[test]
fn share_protocol_errors_are_kafkas() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let id = topic_id(&mut c, "t");

    // Share sessions: none yet (122), an acknowledge cannot open one (123), a wrong epoch (123).
    assert_eq!(fetch(&mut c, id, 3).error_code, 122);
    assert_eq!(acknowledge(&mut c, id, 0).error_code, 123);
    let opened = fetch(&mut c, id, 0);
    assert_eq!(opened.error_code, 0, "{opened:?}");
    assert_eq!(fetch(&mut c, id, 5).error_code, 123);
    // Acknowledging a record this member never acquired: INVALID_RECORD_STATE (121).
    let acked = acknowledge(&mut c, id, 1);
    assert_eq!(acked.error_code, 0);
    assert_eq!(acked.responses[0].partitions[0].error_code, 121);
    // The session moved on to epoch 2; closing it works once.
    assert_eq!(fetch(&mut c, id, 2).error_code, 0);
    assert_eq!(
        acknowledge(&mut c, id, -1).responses[0].partitions[0].error_code,
        121
    );
    assert_eq!(acknowledge(&mut c, id, -1).error_code, 122);

    // Membership: join, a wrong epoch is fenced (110), an unknown member is 25.
    let joined = heartbeat(&mut c, 0, "m1");
    assert_eq!(joined.error_code, 0);
    assert!(joined.member_epoch > 0);
    assert!(joined.assignment.is_some());
    assert_eq!(
        heartbeat(&mut c, joined.member_epoch + 7, "m1").error_code,
        110
    );
    assert_eq!(heartbeat(&mut c, 3, "nobody").error_code, 25);

    // Group configs: out of bounds or unknown names are INVALID_CONFIG (40).
    assert_eq!(
        alter_group(&mut c, "share.record.lock.duration.ms", "10"),
        40
    );
    assert_eq!(alter_group(&mut c, "share.no.such.config", "1"), 40);
    assert_eq!(
        alter_group(&mut c, "share.auto.offset.reset", "sometimes"),
        40
    );
    assert_eq!(
        alter_group(&mut c, "share.auto.offset.reset", "earliest"),
        0
    );

    // FindCoordinator for a share key (key type 2): the leader of its __share_group_state
    // partition, this node.
    let mut req = FindCoordinatorRequest::default();
    req.key_type = 2;
    req.coordinator_keys = vec![s(&format!("g:{id}:0"))];
    let resp: FindCoordinatorResponse = c.call(ApiKey::FindCoordinator, 6, &req);
    assert_eq!(resp.coordinators[0].error_code, 0, "{resp:?}");
    assert!(resp.coordinators[0].node_id.0 >= 0);
}
