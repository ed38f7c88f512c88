//! Kafka 4.4's newest versions of Produce (v13), Fetch (v18), ListOffsets (v11), DescribeLogDirs
//! (v5), ApiVersions (v5), DeleteGroups (v3), OffsetCommit (v10) and OffsetFetch (v10) on the
//! wire, checked against frames written by hand from Kafka
//! 4.4's message schemas (not by the codec under test): which fields each version adds or
//! drops, where they sit, and that the older version of the same frame still means what it did.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, DeleteGroupsResponse, DescribeLogDirsResponse, GroupId,
    ListOffsetsResponse, OffsetCommitResponse, OffsetFetchResponse, ProduceResponse, RequestKind,
    ResponseKind, TopicName,
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

#[test]
fn delete_groups_v3_adds_a_nullable_error_message_per_group() {
    // The request is v2's: GroupsNames (compact array of compact strings), tags.
    let mut b = header(ApiKey::DeleteGroups, 3);
    b.put_u8(3);
    cstr(&mut b, "g1");
    cstr(&mut b, "g2");
    b.put_u8(0);
    let d = decode_request(b.freeze()).expect("v3 decodes");
    let RequestKind::DeleteGroups(r) = d.body else {
        panic!("{:?}", d.body)
    };
    let names: Vec<_> = r.groups_names.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(names, ["g1", "g2"]);

    let mut r1 = DeletableGroupResult::default();
    r1.group_id = GroupId(StrBytes::from_static_str("g1"));
    r1.error_code = 69;
    r1.error_message = Some(StrBytes::from_static_str("why"));
    let mut r2 = DeletableGroupResult::default();
    r2.group_id = GroupId(StrBytes::from_static_str("g2"));
    let mut resp = DeleteGroupsResponse::default();
    resp.results = vec![r1, r2];
    let body = |v| {
        response_body(
            ApiKey::DeleteGroups,
            v,
            ResponseKind::DeleteGroups(resp.clone()),
        )
    };
    // ThrottleTimeMs, Results: [GroupId, ErrorCode, ErrorMessage (v3), tags], tags.
    let expect = |v: i16| {
        let mut b = BytesMut::new();
        b.put_i32(0);
        b.put_u8(3);
        cstr(&mut b, "g1");
        b.put_i16(69);
        if v >= 3 {
            cstr(&mut b, "why");
        }
        b.put_u8(0);
        cstr(&mut b, "g2");
        b.put_i16(0);
        if v >= 3 {
            b.put_u8(0); // null
        }
        b.put_u8(0);
        b.put_u8(0);
        b.freeze()
    };
    assert_eq!(body(3), expect(3));
    // Ignorable: v2 drops the message rather than failing.
    assert_eq!(body(2), expect(2));
}

/// An OffsetCommit of `version` (8+): group "g", generation -1, member "", no instance, one
/// topic (v10: by id, else "orders") with partition 1 at offset 42, epoch 3, metadata "m".
fn offset_commit_frame(version: i16) -> Bytes {
    let mut b = header(ApiKey::OffsetCommit, version);
    cstr(&mut b, "g");
    b.put_i32(-1); // GenerationIdOrMemberEpoch
    cstr(&mut b, ""); // MemberId
    b.put_u8(0); // GroupInstanceId: null
    b.put_u8(2); // one topic
    if version >= 10 {
        b.put_u128(TOPIC);
    } else {
        cstr(&mut b, "orders");
    }
    b.put_u8(2); // one partition
    b.put_i32(1);
    b.put_i64(42);
    b.put_i32(3); // CommittedLeaderEpoch
    cstr(&mut b, "m");
    b.put_u8(0);
    b.put_u8(0);
    b.put_u8(0);
    b.freeze()
}

#[test]
fn offset_commit_v10_names_the_topic_by_id_in_request_and_response() {
    for v in [9, 10] {
        let d = decode_request(offset_commit_frame(v)).expect("decodes");
        let RequestKind::OffsetCommit(r) = d.body else {
            panic!("{:?}", d.body)
        };
        let t = &r.topics[0];
        if v >= 10 {
            assert_eq!(
                (t.topic_id, t.name.0.as_str()),
                (uuid::Uuid::from_u128(TOPIC), "")
            );
        } else {
            assert_eq!(
                (t.topic_id, t.name.0.as_str()),
                (uuid::Uuid::nil(), "orders")
            );
        }
        let p = &t.partitions[0];
        assert_eq!(
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch
            ),
            (1, 42, 3)
        );
        assert_eq!(p.committed_metadata.as_deref(), Some("m"));
    }

    let mut p = OffsetCommitResponsePartition::default();
    p.partition_index = 1;
    p.error_code = 100;
    let mut t = OffsetCommitResponseTopic::default();
    t.name = TopicName(StrBytes::from_static_str("orders"));
    t.topic_id = uuid::Uuid::from_u128(TOPIC);
    t.partitions = vec![p];
    let mut resp = OffsetCommitResponse::default();
    resp.topics = vec![t];
    // ThrottleTimeMs, Topics: [Name (v9) | TopicId (v10), Partitions: [Index, ErrorCode, tags],
    // tags], tags.
    let expect = |v: i16| {
        let mut b = BytesMut::new();
        b.put_i32(0);
        b.put_u8(2);
        if v >= 10 {
            b.put_u128(TOPIC);
        } else {
            cstr(&mut b, "orders");
        }
        b.put_u8(2);
        b.put_i32(1);
        b.put_i16(100);
        b.put_slice(&[0, 0, 0]);
        b.freeze()
    };
    for v in [9, 10] {
        let body = response_body(
            ApiKey::OffsetCommit,
            v,
            ResponseKind::OffsetCommit(resp.clone()),
        );
        assert_eq!(body, expect(v), "v{v}");
    }
}

/// An OffsetFetch of `version` (9+) for group "g", member null, epoch -1, one topic (v10: by
/// id, else "orders") with partitions 0 and 2, require_stable.
fn offset_fetch_frame(version: i16) -> Bytes {
    let mut b = header(ApiKey::OffsetFetch, version);
    b.put_u8(2); // one group
    cstr(&mut b, "g");
    b.put_u8(0); // MemberId: null
    b.put_i32(-1); // MemberEpoch
    b.put_u8(2); // one topic
    if version >= 10 {
        b.put_u128(TOPIC);
    } else {
        cstr(&mut b, "orders");
    }
    b.put_u8(3); // two partitions
    b.put_i32(0);
    b.put_i32(2);
    b.put_u8(0); // topic tags
    b.put_u8(0); // group tags
    b.put_u8(1); // RequireStable
    b.put_u8(0);
    b.freeze()
}

#[test]
fn offset_fetch_v10_names_the_topic_by_id_in_request_and_response() {
    for v in [9, 10] {
        let d = decode_request(offset_fetch_frame(v)).expect("decodes");
        let RequestKind::OffsetFetch(r) = d.body else {
            panic!("{:?}", d.body)
        };
        assert!(r.require_stable);
        let g = &r.groups[0];
        assert_eq!((g.group_id.0.as_str(), g.member_epoch), ("g", -1));
        let t = &g.topics.as_ref().expect("topics")[0];
        if v >= 10 {
            assert_eq!(
                (t.topic_id, t.name.0.as_str()),
                (uuid::Uuid::from_u128(TOPIC), "")
            );
        } else {
            assert_eq!(
                (t.topic_id, t.name.0.as_str()),
                (uuid::Uuid::nil(), "orders")
            );
        }
        assert_eq!(t.partition_indexes, [0, 2]);
    }

    let mut p = OffsetFetchResponsePartitions::default();
    p.partition_index = 2;
    p.committed_offset = 42;
    p.committed_leader_epoch = 3;
    p.metadata = Some(StrBytes::from_static_str("m"));
    let mut t = OffsetFetchResponseTopics::default();
    t.name = TopicName(StrBytes::from_static_str("orders"));
    t.topic_id = uuid::Uuid::from_u128(TOPIC);
    t.partitions = vec![p];
    let mut g = OffsetFetchResponseGroup::default();
    g.group_id = GroupId(StrBytes::from_static_str("g"));
    g.topics = vec![t];
    let mut resp = OffsetFetchResponse::default();
    resp.groups = vec![g];
    // ThrottleTimeMs, Groups: [GroupId, Topics: [Name (v9) | TopicId (v10), Partitions:
    // [Index, Offset, Epoch, Metadata, ErrorCode, tags], tags], ErrorCode, tags], tags.
    let expect = |v: i16| {
        let mut b = BytesMut::new();
        b.put_i32(0);
        b.put_u8(2);
        cstr(&mut b, "g");
        b.put_u8(2);
        if v >= 10 {
            b.put_u128(TOPIC);
        } else {
            cstr(&mut b, "orders");
        }
        b.put_u8(2);
        b.put_i32(2);
        b.put_i64(42);
        b.put_i32(3);
        cstr(&mut b, "m");
        b.put_i16(0);
        b.put_u8(0);
        b.put_u8(0);
        b.put_i16(0);
        b.put_u8(0);
        b.put_u8(0);
        b.freeze()
    };
    for v in [9, 10] {
        let body = response_body(
            ApiKey::OffsetFetch,
            v,
            ResponseKind::OffsetFetch(resp.clone()),
        );
        assert_eq!(body, expect(v), "v{v}");
    }
}
