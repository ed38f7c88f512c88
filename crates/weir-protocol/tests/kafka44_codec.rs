//! Kafka 4.4's newest versions of Produce (v13), Fetch (v18), ListOffsets (v11), DescribeLogDirs
//! (v5) and ApiVersions (v5) on the wire, checked against frames written by hand from Kafka
//! 4.4's message schemas (not by the codec under test): which fields each version adds or
//! drops, where they sit, and that the older version of the same frame still means what it did.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, DescribeLogDirsResponse, ListOffsetsResponse, ProduceResponse,
    RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use weir_protocol::request::decode_request;
use weir_protocol::response::encode_response;

mod common;
use common::{cstr, header, TOPIC};

/// The body of `resp` encoded as `key` `version`, after the size, the correlation id and (for
/// flexible headers) the header's tag byte.
fn response_body(key: ApiKey, version: i16, resp: ResponseKind) -> Bytes {
    let f = encode_response(7, key, version, &resp).unwrap();
    let header_len = if key.response_header_version(version) >= 1 {
        9
    } else {
        8
    };
    f.slice(header_len..)
}

fn produce_frame(version: i16, records: &[u8]) -> Bytes {
    let mut b = header(ApiKey::Produce, version);
    b.put_u8(0); // TransactionalId: null
    b.put_i16(-1); // Acks
    b.put_i32(30_000); // TimeoutMs
    b.put_u8(2); // one topic
    if version >= 13 {
        b.put_u128(TOPIC); // TopicId
    } else {
        cstr(&mut b, "orders"); // Name
    }
    b.put_u8(2); // one partition
    b.put_i32(4); // Index
    b.put_u8(u8::try_from(records.len() + 1).unwrap()); // Records (compact bytes)
    b.put_slice(records);
    b.put_u8(0); // partition tags
    b.put_u8(0); // topic tags
    b.put_u8(0); // tags
    b.freeze()
}

#[test]
fn produce_v13_names_the_topic_by_id_and_v12_by_name() {
    let d = decode_request(produce_frame(13, b"batch")).expect("v13 decodes");
    let RequestKind::Produce(r) = d.body else {
        panic!("{:?}", d.body)
    };
    let t = &r.topic_data[0];
    assert_eq!(t.topic_id, uuid::Uuid::from_u128(TOPIC));
    assert_eq!(t.name.0.as_str(), "");
    assert_eq!(t.partition_data[0].index, 4);
    assert_eq!(t.partition_data[0].records.as_deref(), Some(&b"batch"[..]));
    assert_eq!((r.acks, r.timeout_ms), (-1, 30_000));

    let d = decode_request(produce_frame(12, b"batch")).expect("v12 decodes");
    let RequestKind::Produce(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert_eq!(r.topic_data[0].name.0.as_str(), "orders");
    assert!(r.topic_data[0].topic_id.is_nil());
}

#[test]
fn produce_v13_response_carries_the_topic_id_in_place_of_the_name() {
    let mut p = PartitionProduceResponse::default();
    p.index = 4;
    p.error_code = 100; // UNKNOWN_TOPIC_ID
    p.base_offset = -1;
    let mut t = TopicProduceResponse::default();
    t.name = TopicName(StrBytes::from_static_str("orders"));
    t.topic_id = uuid::Uuid::from_u128(TOPIC);
    t.partition_responses = vec![p];
    let mut resp = ProduceResponse::default();
    resp.responses = vec![t];
    let body = |v| response_body(ApiKey::Produce, v, ResponseKind::Produce(resp.clone()));
    // Responses: [TopicId | Name, PartitionResponses: [Index, ErrorCode, BaseOffset,
    // LogAppendTimeMs, LogStartOffset, RecordErrors, ErrorMessage, tags], tags], ThrottleTimeMs,
    // tags.
    let expect = |topic: &dyn Fn(&mut BytesMut)| {
        let mut b = BytesMut::new();
        b.put_u8(2);
        topic(&mut b);
        b.put_u8(2);
        b.put_i32(4);
        b.put_i16(100);
        b.put_i64(-1);
        b.put_i64(-1);
        b.put_i64(-1);
        b.put_u8(1); // RecordErrors: empty
        b.put_u8(0); // ErrorMessage: null
        b.put_u8(0);
        b.put_u8(0);
        b.put_i32(0);
        b.put_u8(0);
        b.freeze()
    };
    assert_eq!(body(13), expect(&|b| b.put_u128(TOPIC)));
    assert_eq!(body(12), expect(&|b| cstr(b, "orders")));
}

/// A Fetch of `version` by topic id, partition 2 at offset 100, whose partition carries the
/// tagged field 1 (HighWatermark in v18) = `high_watermark` when given.
fn fetch_frame(version: i16, high_watermark: Option<i64>) -> Bytes {
    let mut b = header(ApiKey::Fetch, version);
    b.put_i32(500); // MaxWaitMs
    b.put_i32(1); // MinBytes
    b.put_i32(1 << 20); // MaxBytes
    b.put_i8(1); // IsolationLevel
    b.put_i32(0); // SessionId
    b.put_i32(-1); // SessionEpoch
    b.put_u8(2); // one topic
    b.put_u128(TOPIC);
    b.put_u8(2); // one partition
    b.put_i32(2); // Partition
    b.put_i32(5); // CurrentLeaderEpoch
    b.put_i64(100); // FetchOffset
    b.put_i32(-1); // LastFetchedEpoch
    b.put_i64(-1); // LogStartOffset
    b.put_i32(1 << 16); // PartitionMaxBytes
    match high_watermark {
        Some(hw) => {
            b.put_u8(1); // one tagged field
            b.put_u8(1); // tag 1
            b.put_u8(8); // 8 bytes
            b.put_i64(hw);
        }
        None => b.put_u8(0),
    }
    b.put_u8(0); // topic tags
    b.put_u8(1); // ForgottenTopicsData: empty
    cstr(&mut b, ""); // RackId
    b.put_u8(0); // tags
    b.freeze()
}

#[test]
fn fetch_v18_partitions_carry_the_replica_high_watermark_as_tag_1() {
    let d = decode_request(fetch_frame(18, Some(77))).expect("v18 decodes");
    let RequestKind::Fetch(r) = d.body else {
        panic!("{:?}", d.body)
    };
    let p = &r.topics[0].partitions[0];
    assert_eq!(r.topics[0].topic_id, uuid::Uuid::from_u128(TOPIC));
    assert_eq!(
        (p.partition, p.fetch_offset, p.high_watermark),
        (2, 100, 77)
    );
    assert!(p.unknown_tagged_fields.is_empty());

    // Absent, it is "not supported" (i64::MAX), as in every v17 request.
    for v in [17, 18] {
        let d = decode_request(fetch_frame(v, None)).expect("decodes");
        let RequestKind::Fetch(r) = d.body else {
            panic!("{:?}", d.body)
        };
        let p = &r.topics[0].partitions[0];
        assert_eq!((p.fetch_offset, p.high_watermark), (100, i64::MAX), "v{v}");
    }
}

#[test]
fn list_offsets_v11_has_v10s_layout() {
    let mut b = header(ApiKey::ListOffsets, 11);
    b.put_i32(-1); // ReplicaId
    b.put_i8(0); // IsolationLevel
    b.put_u8(2); // one topic
    cstr(&mut b, "orders");
    b.put_u8(2); // one partition
    b.put_i32(0);
    b.put_i32(-1); // CurrentLeaderEpoch
    b.put_i64(-6); // Timestamp: EARLIEST_PENDING_UPLOAD_TIMESTAMP
    b.put_u8(0);
    b.put_u8(0);
    b.put_i32(1500); // TimeoutMs
    b.put_u8(0);
    let d = decode_request(b.freeze()).expect("v11 decodes");
    let RequestKind::ListOffsets(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert_eq!(r.timeout_ms, 1500);
    assert_eq!(r.topics[0].name.0.as_str(), "orders");
    assert_eq!(r.topics[0].partitions[0].timestamp, -6);

    let mut p = ListOffsetsPartitionResponse::default();
    p.partition_index = 0;
    p.timestamp = -1;
    p.offset = -1;
    p.leader_epoch = -1;
    let mut t = ListOffsetsTopicResponse::default();
    t.name = TopicName(StrBytes::from_static_str("orders"));
    t.partitions = vec![p];
    let mut resp = ListOffsetsResponse::default();
    resp.topics = vec![t];
    let mut want = BytesMut::new();
    want.put_i32(0); // ThrottleTimeMs
    want.put_u8(2);
    cstr(&mut want, "orders");
    want.put_u8(2);
    want.put_i32(0);
    want.put_i16(0);
    want.put_i64(-1);
    want.put_i64(-1);
    want.put_i32(-1);
    want.put_slice(&[0, 0, 0]);
    let body = response_body(ApiKey::ListOffsets, 11, ResponseKind::ListOffsets(resp));
    assert_eq!(body, want.freeze());
}

#[test]
fn describe_log_dirs_v5_adds_is_cordoned_after_usable_bytes() {
    let mut b = header(ApiKey::DescribeLogDirs, 5);
    b.put_u8(0); // Topics: null (all)
    b.put_u8(0);
    let d = decode_request(b.freeze()).expect("v5 decodes");
    let RequestKind::DescribeLogDirs(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert!(r.topics.is_none());

    let mut p = DescribeLogDirsPartition::default();
    p.partition_index = 1;
    p.partition_size = 300;
    p.offset_lag = 0;
    let mut t = DescribeLogDirsTopic::default();
    t.name = TopicName(StrBytes::from_static_str("t"));
    t.partitions = vec![p];
    let mut r = DescribeLogDirsResult::default();
    r.log_dir = StrBytes::from_static_str("/d");
    r.topics = vec![t];
    r.total_bytes = 1000;
    r.usable_bytes = 400;
    r.is_cordoned = true;
    let mut resp = DescribeLogDirsResponse::default();
    resp.results = vec![r];
    let expect = |v: i16| {
        let mut b = BytesMut::new();
        b.put_i32(0); // ThrottleTimeMs
        b.put_i16(0); // ErrorCode
        b.put_u8(2); // one result
        b.put_i16(0);
        cstr(&mut b, "/d");
        b.put_u8(2); // one topic
        cstr(&mut b, "t");
        b.put_u8(2); // one partition
        b.put_i32(1);
        b.put_i64(300);
        b.put_i64(0);
        b.put_u8(0); // IsFutureKey
        b.put_u8(0);
        b.put_u8(0);
        b.put_i64(1000); // TotalBytes
        b.put_i64(400); // UsableBytes
        if v >= 5 {
            b.put_u8(1); // IsCordoned
        }
        b.put_u8(0);
        b.put_u8(0);
        b.freeze()
    };
    let body = |v| {
        response_body(
            ApiKey::DescribeLogDirs,
            v,
            ResponseKind::DescribeLogDirs(resp.clone()),
        )
    };
    assert_eq!(body(5), expect(5));
    assert_eq!(body(4), expect(4));
}

fn api_versions_frame(version: i16, cluster: Option<&str>, node: i32) -> Bytes {
    let mut b = header(ApiKey::ApiVersions, version);
    cstr(&mut b, "weir-test");
    cstr(&mut b, "1.0");
    if version >= 5 {
        match cluster {
            Some(c) => cstr(&mut b, c),
            None => b.put_u8(0),
        }
        b.put_i32(node);
    }
    b.put_u8(0);
    b.freeze()
}

#[test]
fn api_versions_v5_request_names_the_cluster_and_node() {
    let d = decode_request(api_versions_frame(5, Some("abc"), 3)).expect("v5 decodes");
    let RequestKind::ApiVersions(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert_eq!(r.client_software_name.as_str(), "weir-test");
    assert_eq!(r.cluster_id.as_deref(), Some("abc"));
    assert_eq!(r.node_id, 3);

    let d = decode_request(api_versions_frame(5, None, -1)).expect("v5 decodes");
    let RequestKind::ApiVersions(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert_eq!((r.cluster_id, r.node_id), (None, -1));

    // v4 has neither field: the defaults (null, -1).
    let d = decode_request(api_versions_frame(4, None, 0)).expect("v4 decodes");
    let RequestKind::ApiVersions(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert_eq!((r.cluster_id, r.node_id), (None, -1));
    assert_eq!(r.client_software_version.as_str(), "1.0");
}

#[test]
fn api_versions_v5_response_has_v4s_layout() {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = 129; // REBOOTSTRAP_REQUIRED
                           // ErrorCode, ApiKeys (empty), ThrottleTimeMs, tags; header v0 (no tags) as for every
                           // ApiVersions response.
    let want: &[u8] = &[0, 129, 1, 0, 0, 0, 0, 0];
    for v in [4, 5] {
        let body = response_body(
            ApiKey::ApiVersions,
            v,
            ResponseKind::ApiVersions(resp.clone()),
        );
        assert_eq!(body, Bytes::from_static(want), "v{v}");
    }
}
