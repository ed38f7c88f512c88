//! Share groups (KIP-932) at the protocol level against a real `weir` process: Kafka's error
//! codes for stale or missing share sessions, acknowledgements of records not acquired,
//! heartbeats with wrong epochs, group configs outside their bounds, and FindCoordinator for
//! share keys; ShareFetch / ShareAcknowledge v2 (KIP-1206 record_limit, KIP-1222 Renew).

use std::path::Path;

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch as FetchAck, FetchPartition, FetchTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::{producer_batch, try_produce, RawClient};
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
    share_fetch(c, 1, id, epoch, vec![], |_| {})
}

/// A ShareFetch of `version` for partition 0 of `id` carrying `acks` (first, last, type),
/// max 10 records, no wait; `edit` adjusts the request.
fn share_fetch(
    c: &mut RawClient,
    version: i16,
    id: uuid::Uuid,
    epoch: i32,
    acks: Vec<(i64, i64, i8)>,
    edit: impl FnOnce(&mut ShareFetchRequest),
) -> ShareFetchResponse {
    let mut p = FetchPartition::default();
    p.partition_index = 0;
    p.acknowledgement_batches = acks
        .into_iter()
        .map(|(first, last, t)| {
            let mut b = FetchAck::default();
            b.first_offset = first;
            b.last_offset = last;
            b.acknowledge_types = vec![t];
            b
        })
        .collect();
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
    edit(&mut req);
    c.call(ApiKey::ShareFetch, version, &req)
}

fn acknowledge(c: &mut RawClient, id: uuid::Uuid, epoch: i32) -> ShareAcknowledgeResponse {
    share_acknowledge(c, 1, id, epoch, (0, 0, 1))
}

/// A ShareAcknowledge of `version` of one batch (first, last, type) of partition 0 of `id`;
/// `is_renew_ack` (v2) when the type is Renew (4).
fn share_acknowledge(
    c: &mut RawClient,
    version: i16,
    id: uuid::Uuid,
    epoch: i32,
    (first, last, ack): (i64, i64, i8),
) -> ShareAcknowledgeResponse {
    let mut b = AcknowledgementBatch::default();
    b.first_offset = first;
    b.last_offset = last;
    b.acknowledge_types = vec![ack];
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
    req.is_renew_ack = version >= 2 && ack == 4;
    req.topics = vec![t];
    c.call(ApiKey::ShareAcknowledge, version, &req)
}

/// Produce one batch of `n` records to partition 0 of `topic`.
fn produce(c: &mut RawClient, topic: &str, n: i32) {
    let batch = producer_batch(-1, -1, -1, n, false);
    let (code, _) = try_produce(c, topic, None, batch).expect("produce");
    assert_eq!(code, 0);
}

/// The (first, last, delivery count) ranges a ShareFetch acquired on its one partition.
fn acquired(r: &ShareFetchResponse) -> Vec<(i64, i64, i16)> {
    assert_eq!(r.error_code, 0, "{r:?}");
    r.responses
        .iter()
        .flat_map(|t| &t.partitions)
        .flat_map(|p| &p.acquired_records)
        .map(|a| (a.first_offset, a.last_offset, a.delivery_count))
        .collect()
}

/// The acknowledge error code of a ShareFetch's one partition.
fn fetch_ack_error(r: &ShareFetchResponse) -> i16 {
    assert_eq!(r.error_code, 0, "{r:?}");
    r.responses[0].partitions[0].acknowledge_error_code
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

#[test]
fn share_fetch_and_acknowledge_v2_record_limit_and_renew() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let id = topic_id(&mut c, "t");
    produce(&mut c, "t", 10); // one batch, offsets 0..=9
    assert_eq!(
        alter_group(&mut c, "share.auto.offset.reset", "earliest"),
        0
    );

    let mut req = ApiVersionsRequest::default();
    req.client_software_name = s("share-v2-test");
    req.client_software_version = s("1.0");
    let av: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &req);
    assert_eq!(av.error_code, 0, "{av:?}");
    for key in [ApiKey::ShareFetch, ApiKey::ShareAcknowledge] {
        let k = av
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .unwrap();
        assert_eq!((k.min_version, k.max_version), (1, 2), "{key:?}");
    }

    // KIP-1206 record_limit: 3 records of the 10-record batch, not the whole batch.
    let r = share_fetch(&mut c, 2, id, 0, vec![], |q| {
        q.max_records = 3;
        q.share_acquire_mode = 1;
    });
    assert_eq!(acquired(&r), vec![(0, 2, 1)]);
    assert_eq!(r.acquisition_lock_timeout_ms, 30_000);

    // Malformed v2 requests are INVALID_REQUEST and do not move the session on: an unknown
    // acquire mode, a renew fetch asking for records.
    let bad_mode = share_fetch(&mut c, 2, id, 1, vec![], |q| q.share_acquire_mode = 7);
    assert_eq!(bad_mode.error_code, 42, "{bad_mode:?}");
    let renew_with_limits = share_fetch(&mut c, 2, id, 1, vec![(0, 0, 4)], |q| {
        q.is_renew_ack = true;
    });
    assert_eq!(renew_with_limits.error_code, 42, "{renew_with_limits:?}");

    // KIP-1222 Renew by ShareAcknowledge v2: accepted, with the lock duration in the answer.
    let renewed = share_acknowledge(&mut c, 2, id, 1, (0, 0, 4));
    assert_eq!(renewed.error_code, 0, "{renewed:?}");
    assert_eq!(renewed.responses[0].partitions[0].error_code, 0);
    assert_eq!(renewed.acquisition_lock_timeout_ms, 30_000);
    // Renew (4) does not exist in v1: INVALID_REQUEST.
    let v1 = share_acknowledge(&mut c, 1, id, 2, (0, 0, 4));
    assert_eq!(v1.responses[0].partitions[0].error_code, 42, "{v1:?}");
    // A renew fetch (no limits) applies its acknowledgements and acquires nothing.
    let r = share_fetch(&mut c, 2, id, 3, vec![(1, 1, 4)], |q| {
        q.is_renew_ack = true;
        q.max_bytes = 0;
        q.max_records = 0;
    });
    assert_eq!(fetch_ack_error(&r), 0);
    assert_eq!(acquired(&r), vec![]);
    // batch_optimized (v1, or v2 mode 0) completes the batch: the other 7 records.
    let r = share_fetch(&mut c, 1, id, 4, vec![], |q| q.max_records = 3);
    assert_eq!(acquired(&r), vec![(3, 9, 1)]);

    // share.renew.acknowledge.enable=false: a Renew is INVALID_RECORD_STATE, nothing applied.
    assert_eq!(
        alter_group(&mut c, "share.renew.acknowledge.enable", "false"),
        0
    );
    let refused = share_acknowledge(&mut c, 2, id, 5, (0, 0, 4));
    assert_eq!(
        refused.responses[0].partitions[0].error_code, 121,
        "{refused:?}"
    );
    // The renewed records are still this member's: accepting them all works.
    let r = share_fetch(&mut c, 2, id, 6, vec![(0, 9, 1)], |q| q.max_records = 0);
    assert_eq!(fetch_ack_error(&r), 0, "{r:?}");
}
