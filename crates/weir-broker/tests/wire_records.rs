//! In-process wire tests of record-level answers and topic configs real clients rely on (issue
//! #25): KIP-467 per-record errors on a compacted topic, ListOffsets exact to the record, the
//! empty `cleanup.policy` and the topic configs Kafka 4.x removed.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

const TOPIC_RESOURCE: i8 = 2;

/// One uncompressed batch of (key, timestamp) records with values "v{i}".
fn keyed_batch(records: &[(Option<&str>, i64)]) -> Bytes {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, ts))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: *ts,
            key: key.map(|k| Bytes::from(k.to_string())),
            value: Some(Bytes::from(format!("v{i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
    buf.freeze()
}

async fn create_topic(c: &mut Client, name: &str, configs: &[(&str, &str)]) -> (i16, String) {
    let mut t = CreatableTopic::default();
    t.name = topic_name(name);
    t.num_partitions = 1;
    t.replication_factor = 1;
    t.configs = configs
        .iter()
        .map(|(k, v)| {
            let mut cfg = CreatableTopicConfig::default();
            cfg.name = StrBytes::from_string(k.to_string());
            cfg.value = Some(StrBytes::from_string(v.to_string()));
            cfg
        })
        .collect();
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 30_000;
    let resp: CreateTopicsResponse = c.call(ApiKey::CreateTopics, 7, &req).await;
    let r = &resp.topics[0];
    let msg = r.error_message.as_ref().map(|m| m.to_string());
    (r.error_code, msg.unwrap_or_default())
}

async fn topic_config(c: &mut Client, topic: &str, key: &str) -> Option<String> {
    let mut r = DescribeConfigsResource::default();
    r.resource_type = TOPIC_RESOURCE;
    r.resource_name = StrBytes::from_string(topic.to_string());
    r.configuration_keys = None; // all
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![r];
    let resp: DescribeConfigsResponse = c.call(ApiKey::DescribeConfigs, 4, &req).await;
    assert_eq!(resp.results[0].error_code, 0);
    resp.results[0]
        .configs
        .iter()
        .find(|e| e.name.as_str() == key)
        .map(|e| e.value.as_ref().map(|v| v.to_string()).unwrap_or_default())
}

async fn list_offset(c: &mut Client, topic: &str, timestamp: i64) -> (i16, i64, i64) {
    list_offset_v(c, topic, timestamp, 9).await
}

async fn list_offset_v(c: &mut Client, topic: &str, timestamp: i64, v: i16) -> (i16, i64, i64) {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = 0;
    p.current_leader_epoch = -1;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = topic_name(topic);
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = (-1).into();
    req.topics = vec![t];
    req.timeout_ms = 30_000;
    let resp: ListOffsetsResponse = c.call(ApiKey::ListOffsets, v, &req).await;
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.offset, p.timestamp)
}

/// KIP-467: a batch where only some records lack a key, sent to a compacted topic, fails with
/// INVALID_RECORD and names exactly the keyless records (Produce v8+), none stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_records_on_a_compacted_topic_are_listed_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    assert_eq!(
        create_topic(&mut c, "cmp", &[("cleanup.policy", "compact")])
            .await
            .0,
        0
    );
    let ts = 1_700_000_000_000;
    let records = keyed_batch(&[(Some("a"), ts), (None, ts), (Some("c"), ts), (None, ts)]);
    for version in [8, 9, 11] {
        let resp: ProduceResponse = c
            .call(
                ApiKey::Produce,
                version,
                &produce_req("cmp", 0, -1, records.clone()),
            )
            .await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(p.error_code, 87, "INVALID_RECORD (v{version})");
        let indexes: Vec<i32> = p.record_errors.iter().map(|e| e.batch_index).collect();
        assert_eq!(indexes, vec![1, 3], "v{version}");
        let why = p.record_errors[0].batch_index_error_message.as_ref();
        assert!(
            why.is_some_and(|m| m.contains("without key in topic partition cmp-0")),
            "{why:?}"
        );
        let msg = p.error_message.as_ref().map(|m| m.to_string());
        assert!(
            msg.as_deref()
                .is_some_and(|m| m.contains("2 record errors")),
            "{msg:?}"
        );
    }
    // The keyed records alone are accepted, at offset 0: nothing of the failed batches stayed.
    let keyed = keyed_batch(&[(Some("a"), ts), (Some("c"), ts)]);
    assert_eq!(produce(&mut c, "cmp", -1, keyed).await, (0, 0));
    server.stop().await;
}

/// ListOffsets by timestamp and MAX_TIMESTAMP answer the exact record inside a batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_by_timestamp_is_exact_to_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    assert_eq!(create_topic(&mut c, "ts", &[]).await.0, 0);
    let t0 = 1_700_000_000_000;
    let first = keyed_batch(&[
        (Some("a"), t0 + 100),
        (Some("b"), t0 + 200),
        (Some("c"), t0 + 500),
        (Some("d"), t0 + 300),
    ]);
    let second = keyed_batch(&[(Some("e"), t0 + 400), (Some("f"), t0 + 450)]);
    assert_eq!(produce(&mut c, "ts", -1, first).await, (0, 0));
    assert_eq!(produce(&mut c, "ts", -1, second).await, (0, 4));
    assert_eq!(list_offset(&mut c, "ts", t0 + 150).await, (0, 1, t0 + 200));
    assert_eq!(list_offset(&mut c, "ts", t0 + 201).await, (0, 2, t0 + 500));
    assert_eq!(list_offset(&mut c, "ts", t0 + 501).await, (0, -1, -1));
    // MAX_TIMESTAMP (-3): the record holding t0+500, not its batch's last offset (3).
    assert_eq!(list_offset(&mut c, "ts", -3).await, (0, 2, t0 + 500));
    // Every advertised version decodes, is answered and encodes (v10: `timeout_ms`, Kafka 4.0).
    let (lo, hi) = weir_protocol::versions::supported_range(ApiKey::ListOffsets).unwrap();
    assert_eq!(hi, 11);
    for v in lo..=hi {
        let (code, offset, _) = list_offset_v(&mut c, "ts", -1, v).await;
        assert_eq!((code, offset), (0, 6), "LATEST at v{v}");
        assert_eq!(
            list_offset_v(&mut c, "ts", t0 + 150, v).await,
            (0, 1, t0 + 200),
            "by timestamp at v{v}"
        );
    }
    server.stop().await;
}

/// Kafka 4.x accepts `cleanup.policy` set to the empty list (no deletion, no compaction) and
/// refuses the topic configs it removed, as unknown names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_cleanup_policy_is_accepted_and_removed_configs_are_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    assert_eq!(create_topic(&mut c, "keep", &[]).await.0, 0);
    let mut cfg = AlterableConfig::default();
    cfg.name = StrBytes::from_static_str("cleanup.policy");
    cfg.config_operation = 0; // SET
    cfg.value = Some(StrBytes::from_static_str(""));
    let mut res = AlterConfigsResource::default();
    res.resource_type = TOPIC_RESOURCE;
    res.resource_name = StrBytes::from_static_str("keep");
    res.configs = vec![cfg];
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![res];
    let resp: IncrementalAlterConfigsResponse =
        c.call(ApiKey::IncrementalAlterConfigs, 1, &req).await;
    assert_eq!(
        resp.responses[0].error_code, 0,
        "{:?}",
        resp.responses[0].error_message
    );
    assert_eq!(
        topic_config(&mut c, "keep", "cleanup.policy").await,
        Some(String::new())
    );
    // Kafka 3.x tools set message.format.version: accepted and ignored (not listed).
    let (code, msg) = create_topic(
        &mut c,
        "old-tools",
        &[("message.format.version", "3.0-IV1")],
    )
    .await;
    assert_eq!(code, 0, "{msg}");
    assert_eq!(
        topic_config(&mut c, "old-tools", "message.format.version").await,
        None
    );
    // Removed in Kafka 4.x and not needed by old tools: unknown, as there.
    let (code, msg) = create_topic(
        &mut c,
        "old-tools-2",
        &[("message.downconversion.enable", "true")],
    )
    .await;
    assert_eq!(code, 40, "INVALID_CONFIG");
    assert!(msg.contains("Unknown topic config name"), "{msg}");
    assert_eq!(
        topic_config(&mut c, "keep", "message.downconversion.enable").await,
        None
    );
    server.stop().await;
}
