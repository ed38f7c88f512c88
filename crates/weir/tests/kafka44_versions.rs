//! Kafka 4.4's newest API versions at the protocol level against a real `weir` process:
//! Produce v13 by topic id (and UNKNOWN_TOPIC_ID), read back with Fetch v18 and ListOffsets
//! v11, DescribeLogDirs v5, and ApiVersions v5's cluster and node check (KIP-1242).

use std::path::Path;

use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use uuid::Uuid;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::{producer_batch, RawClient};
use weir_test_support::{BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Metadata v12 for `topic`: (topic id, cluster id, this node's id).
fn metadata(c: &mut RawClient, topic: &str) -> (Uuid, String, i32) {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(s(topic)));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    let cluster = resp.cluster_id.expect("cluster id").to_string();
    (resp.topics[0].topic_id, cluster, resp.brokers[0].node_id.0)
}

/// Produce v13 of one batch of `n` records to `partition` of the topic with id `id`.
fn produce_by_id(c: &mut RawClient, id: Uuid, partition: i32, n: i32) -> ProduceResponse {
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(producer_batch(-1, -1, -1, n, false));
    let mut t = TopicProduceData::default();
    t.topic_id = id;
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 30_000;
    req.topic_data = vec![t];
    c.call(ApiKey::Produce, 13, &req)
}

/// Fetch `version` (v13+: by id) of partition 0 of `id` from offset 0, without waiting.
fn fetch_by_id(c: &mut RawClient, version: i16, id: Uuid) -> FetchResponse {
    let mut p = FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = 0;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic_id = id;
    t.partitions = vec![p];
    let mut req = FetchRequest::default();
    req.max_wait_ms = 0;
    req.min_bytes = 0;
    req.max_bytes = 1 << 20;
    req.session_epoch = -1;
    req.topics = vec![t];
    c.call(ApiKey::Fetch, version, &req)
}

/// ListOffsets v11 of partition 0 of `topic` at `timestamp`: (error, timestamp, offset, epoch).
fn list_offset(c: &mut RawClient, topic: &str, timestamp: i64) -> (i16, i64, i64, i32) {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(s(topic));
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![t];
    req.timeout_ms = 1000;
    let resp: ListOffsetsResponse = c.call(ApiKey::ListOffsets, 11, &req);
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.timestamp, p.offset, p.leader_epoch)
}

#[test]
fn produce_v13_by_topic_id_reads_back_with_fetch_v18_and_list_offsets_v11() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "orders", 2, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let (id, _, _) = metadata(&mut c, "orders");
    assert!(!id.is_nil());

    let resp = produce_by_id(&mut c, id, 0, 5);
    let t = &resp.responses[0];
    assert_eq!(t.topic_id, id, "the answer names the topic by its id");
    let p = &t.partition_responses[0];
    assert_eq!(
        (p.index, p.error_code, p.base_offset),
        (0, 0, 0),
        "{resp:?}"
    );
    let again = produce_by_id(&mut c, id, 0, 3);
    assert_eq!(again.responses[0].partition_responses[0].base_offset, 5);

    for version in [13, 17, 18] {
        let f = fetch_by_id(&mut c, version, id);
        assert_eq!(f.error_code, 0, "v{version}: {f:?}");
        let t = &f.responses[0];
        assert_eq!(t.topic_id, id);
        let p = &t.partitions[0];
        assert_eq!((p.error_code, p.high_watermark), (0, 8), "v{version}");
        let mut records = p.records.clone().expect("records");
        let sets = RecordBatchDecoder::decode_all(&mut records).expect("record batches");
        let values: Vec<_> = sets
            .iter()
            .flat_map(|s| &s.records)
            .map(|r| (r.offset, r.value.clone().unwrap()))
            .collect();
        assert_eq!(values.len(), 8, "v{version}");
        assert_eq!(values[0], (0, bytes::Bytes::from_static(b"-1+0")));
        assert_eq!(values[7], (7, bytes::Bytes::from_static(b"-1+2")));
    }

    // ListOffsets v11: latest, earliest, and KIP-1023's earliest pending upload (-6), which a
    // topic without tiered storage answers with no offset.
    let (err, _, latest, epoch) = list_offset(&mut c, "orders", -1);
    assert_eq!((err, latest), (0, 8));
    assert!(epoch >= 0);
    assert_eq!(list_offset(&mut c, "orders", -2).2, 0);
    assert_eq!(list_offset(&mut c, "orders", -6), (0, -1, -1, -1));
}

#[test]
fn produce_v13_to_an_unknown_topic_id_is_unknown_topic_id() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "known", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let (known, _, _) = metadata(&mut c, "known");
    let unknown = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    assert_ne!(known, unknown);

    let resp = produce_by_id(&mut c, unknown, 0, 1);
    let t = &resp.responses[0];
    assert_eq!(t.topic_id, unknown);
    let p = &t.partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (100, -1), "{resp:?}");
    // Nothing was written anywhere: the known topic is still empty.
    assert_eq!(list_offset(&mut c, "known", -1).2, 0);
    // And a v13 fetch by the unknown id says the same.
    let f = fetch_by_id(&mut c, 18, unknown);
    assert_eq!(f.responses[0].partitions[0].error_code, 100, "{f:?}");
}

fn describe_log_dirs(
    c: &mut RawClient,
    version: i16,
    topics: Option<Vec<(&str, Vec<i32>)>>,
) -> DescribeLogDirsResponse {
    let mut req = DescribeLogDirsRequest::default();
    req.topics = topics.map(|ts| {
        ts.into_iter()
            .map(|(name, partitions)| {
                let mut t = DescribableLogDirTopic::default();
                t.topic = TopicName(s(name));
                t.partitions = partitions;
                t
            })
            .collect()
    });
    c.call(ApiKey::DescribeLogDirs, version, &req)
}

#[test]
fn describe_log_dirs_v5_lists_partition_sizes_and_the_volume() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "sized", 2, &[]);
    create_topic(&b.bootstrap(), "other", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let (id, _, _) = metadata(&mut c, "sized");
    assert_eq!(
        produce_by_id(&mut c, id, 1, 10).responses[0].partition_responses[0].error_code,
        0
    );

    let all = describe_log_dirs(&mut c, 5, None);
    assert_eq!((all.error_code, all.results.len()), (0, 1), "{all:?}");
    let dir = &all.results[0];
    assert_eq!(dir.error_code, 0);
    assert_eq!(Path::new(dir.log_dir.as_str()), b.log_dir());
    assert!(dir.total_bytes > 0 && dir.usable_bytes > 0, "{dir:?}");
    assert!(dir.usable_bytes <= dir.total_bytes);
    assert!(!dir.is_cordoned);
    let sizes = |r: &DescribeLogDirsResponse, topic: &str| -> Vec<(i32, i64, i64)> {
        r.results[0]
            .topics
            .iter()
            .filter(|t| t.name.0.as_str() == topic)
            .flat_map(|t| &t.partitions)
            .map(|p| (p.partition_index, p.partition_size, p.offset_lag))
            .collect()
    };
    let sized = sizes(&all, "sized");
    let batch_len = i64::try_from(producer_batch(-1, -1, -1, 10, false).len()).unwrap();
    assert_eq!(sized, vec![(0, 0, 0), (1, batch_len, 0)], "{all:?}");
    assert_eq!(sizes(&all, "other"), vec![(0, 0, 0)]);

    // Only what was asked for; a topic with nothing here is left out.
    let some = describe_log_dirs(
        &mut c,
        5,
        Some(vec![("sized", vec![1]), ("missing", vec![0])]),
    );
    let names: Vec<_> = some.results[0]
        .topics
        .iter()
        .map(|t| t.name.0.to_string())
        .collect();
    assert_eq!(names, vec!["sized".to_string()]);
    assert_eq!(sizes(&some, "sized"), vec![(1, batch_len, 0)]);

    // Older versions are still served (v1: no volume fields, which the codec leaves at -1).
    let v1 = describe_log_dirs(&mut c, 1, Some(vec![("sized", vec![1])]));
    assert_eq!(sizes(&v1, "sized"), vec![(1, batch_len, 0)]);
    assert_eq!(v1.results[0].total_bytes, -1);
}

fn api_versions(
    c: &mut RawClient,
    version: i16,
    cluster: Option<&str>,
    node: i32,
) -> ApiVersionsResponse {
    let mut req = ApiVersionsRequest::default();
    req.client_software_name = s("weir-test");
    req.client_software_version = s("1.0");
    req.cluster_id = cluster.map(s);
    req.node_id = node;
    c.call(ApiKey::ApiVersions, version, &req)
}

#[test]
fn api_versions_v5_advertises_kafka_4_4_and_checks_cluster_and_node() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let (_, cluster, node) = metadata(&mut c, "t");

    let ok = api_versions(&mut c, 5, None, -1);
    assert_eq!(ok.error_code, 0, "{ok:?}");
    let max = |key: ApiKey| {
        ok.api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| (k.min_version, k.max_version))
    };
    // What clients read the broker generation from (kafka-python: Produce v13 → 4.1,
    // ListOffsets v11 → 4.2, DescribeLogDirs v5 → 4.3).
    assert_eq!(max(ApiKey::Produce), Some((3, 13)));
    assert_eq!(max(ApiKey::Fetch), Some((4, 18)));
    assert_eq!(max(ApiKey::ListOffsets), Some((1, 11)));
    assert_eq!(max(ApiKey::DescribeLogDirs), Some((1, 5)));
    assert_eq!(max(ApiKey::ApiVersions), Some((0, 5)));
    assert_eq!(ok.finalized_features.len(), 1);

    // The right cluster and node: answered as usual.
    let named = api_versions(&mut c, 5, Some(&cluster), node);
    assert_eq!(named.error_code, 0);
    assert_eq!(named.api_keys, ok.api_keys);
    // Another cluster, or another node of this one: REBOOTSTRAP_REQUIRED, no API list.
    for (cl, n) in [("another-cluster", node), (cluster.as_str(), node + 1)] {
        let r = api_versions(&mut c, 5, Some(cl), n);
        assert_eq!((r.error_code, r.api_keys.len()), (129, 0), "{cl} {n}");
    }
    // One without the other: INVALID_REQUEST.
    assert_eq!(api_versions(&mut c, 5, Some(&cluster), -1).error_code, 42);
    assert_eq!(api_versions(&mut c, 5, None, node).error_code, 42);
    // The connection is still usable, and v4 has no such check.
    assert_eq!(api_versions(&mut c, 4, None, -1).error_code, 0);
}

fn list_transactions(c: &mut RawClient, version: i16, pattern: Option<&str>) -> (i16, Vec<String>) {
    let mut req = ListTransactionsRequest::default();
    req.duration_filter = -1;
    req.transactional_id_pattern = pattern.map(s);
    let r: ListTransactionsResponse = c.call(ApiKey::ListTransactions, version, &req);
    let mut ids: Vec<String> = r
        .transaction_states
        .iter()
        .map(|t| t.transactional_id.0.to_string())
        .collect();
    ids.sort();
    (r.error_code, ids)
}

#[test]
fn list_transactions_v2_filters_by_a_whole_id_pattern() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    let mut c = RawClient::connect(&b.bootstrap());
    let fc: FindCoordinatorResponse = c.call(
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default()
            .with_key(s("app-1"))
            .with_key_type(1),
    );
    assert_eq!(fc.error_code, 0, "{:?}", fc.error_message);
    for id in ["app-1", "app-2", "my-app-3"] {
        let r: InitProducerIdResponse = c.call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(s(id))))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id((-1).into())
                .with_producer_epoch(-1),
        );
        assert_eq!(r.error_code, 0, "{id}");
    }
    let all = vec!["app-1".to_string(), "app-2".into(), "my-app-3".into()];
    assert_eq!(list_transactions(&mut c, 2, None), (0, all.clone()));
    assert_eq!(list_transactions(&mut c, 2, Some("")), (0, all.clone()));
    assert_eq!(
        list_transactions(&mut c, 2, Some("app-.*")),
        (0, vec!["app-1".to_string(), "app-2".into()]),
        "the whole id must match: my-app-3 is left out"
    );
    assert_eq!(list_transactions(&mut c, 2, Some("app-(")).0, 128);
    // v1 has no pattern field.
    assert_eq!(list_transactions(&mut c, 1, None), (0, all));
}

#[test]
fn describe_cluster_v2_lists_fenced_brokers_only_when_asked() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    for include in [false, true] {
        let mut req = DescribeClusterRequest::default();
        req.endpoint_type = 1;
        req.include_fenced_brokers = include;
        let r: DescribeClusterResponse = c.call(ApiKey::DescribeCluster, 2, &req);
        assert_eq!(r.error_code, 0, "{r:?}");
        let brokers: Vec<(i32, bool)> = r
            .brokers
            .iter()
            .map(|b| (b.broker_id.0, b.is_fenced))
            .collect();
        assert_eq!(
            brokers,
            vec![(1, false)],
            "a live single node is not fenced"
        );
    }
}

#[test]
fn describe_groups_v6_names_an_unknown_group_not_found() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    let mut c = RawClient::connect(&b.bootstrap());
    for (version, code, state) in [(5, 0, "Dead"), (6, 69, "Dead")] {
        let mut req = DescribeGroupsRequest::default();
        req.groups = vec![GroupId(s("nobody"))];
        let r: DescribeGroupsResponse = c.call(ApiKey::DescribeGroups, version, &req);
        let g = &r.groups[0];
        assert_eq!(
            (g.error_code, g.group_state.as_str()),
            (code, state),
            "v{version}"
        );
        assert_eq!(g.error_message.is_some(), version >= 6, "v{version}");
    }
}
