//! Kafka 4.4's newest versions of TxnOffsetCommit (v6), WriteShareGroupState (v1) and
//! WriteTxnMarkers (v2) on the wire, checked against frames
//! written by hand from Kafka 4.4's message schemas (not by the codec under test), beside the
//! previous version of the same frame. (The other Kafka 4.4 versions: `kafka44_codec.rs`.)

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::write_share_group_state_response::{
    PartitionResult, WriteStateResult,
};
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, TopicName, TxnOffsetCommitResponse,
    WriteShareGroupStateResponse, WriteTxnMarkersResponse,
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

/// A TxnOffsetCommit of `version` (3+): transactional id "tx", group "g", producer 5 epoch 2,
/// generation 4, member "m", no instance, one topic (v6: by id, else "orders") with partition 1
/// at offset 42, epoch 3, metadata null.
fn txn_offset_commit_frame(version: i16) -> Bytes {
    let mut b = header(ApiKey::TxnOffsetCommit, version);
    cstr(&mut b, "tx");
    cstr(&mut b, "g");
    b.put_i64(5); // ProducerId
    b.put_i16(2); // ProducerEpoch
    b.put_i32(4); // GenerationIdOrMemberEpoch
    cstr(&mut b, "m"); // MemberId
    b.put_u8(0); // GroupInstanceId: null
    b.put_u8(2); // one topic
    if version >= 6 {
        b.put_u128(TOPIC);
    } else {
        cstr(&mut b, "orders");
    }
    b.put_u8(2); // one partition
    b.put_i32(1);
    b.put_i64(42);
    b.put_i32(3); // CommittedLeaderEpoch
    b.put_u8(0); // CommittedMetadata: null
    b.put_u8(0);
    b.put_u8(0);
    b.put_u8(0);
    b.freeze()
}

#[test]
fn txn_offset_commit_v6_names_the_topic_by_id_in_request_and_response() {
    for v in [5, 6] {
        let d = decode_request(txn_offset_commit_frame(v)).expect("decodes");
        let RequestKind::TxnOffsetCommit(r) = d.body else {
            panic!("{:?}", d.body)
        };
        assert_eq!(
            (r.producer_id.0, r.producer_epoch, r.generation_id),
            (5, 2, 4)
        );
        assert_eq!((r.group_id.0.as_str(), r.member_id.as_str()), ("g", "m"));
        let t = &r.topics[0];
        if v >= 6 {
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
        assert_eq!(p.committed_metadata, None);
    }

    let mut p = TxnOffsetCommitResponsePartition::default();
    p.partition_index = 1;
    p.error_code = 69;
    let mut t = TxnOffsetCommitResponseTopic::default();
    t.name = TopicName(StrBytes::from_static_str("orders"));
    t.topic_id = uuid::Uuid::from_u128(TOPIC);
    t.partitions = vec![p];
    let mut resp = TxnOffsetCommitResponse::default();
    resp.topics = vec![t];
    // ThrottleTimeMs, Topics: [Name (v5) | TopicId (v6), Partitions: [Index, ErrorCode, tags],
    // tags], tags.
    let expect = |v: i16| {
        let mut b = BytesMut::new();
        b.put_i32(0);
        b.put_u8(2);
        if v >= 6 {
            b.put_u128(TOPIC);
        } else {
            cstr(&mut b, "orders");
        }
        b.put_u8(2);
        b.put_i32(1);
        b.put_i16(69);
        b.put_slice(&[0, 0, 0]);
        b.freeze()
    };
    for v in [5, 6] {
        let body = response_body(
            ApiKey::TxnOffsetCommit,
            v,
            ResponseKind::TxnOffsetCommit(resp.clone()),
        );
        assert_eq!(body, expect(v), "v{v}");
    }
}

/// A WriteShareGroupState of `version`: group "sg", topic by id, partition 3 at state epoch 1,
/// leader epoch 2, start offset 10, (v1) delivery-complete count 4, one state batch 10–12
/// acknowledged (2) once.
fn write_share_state_frame(version: i16) -> Bytes {
    let mut b = header(ApiKey::WriteShareGroupState, version);
    cstr(&mut b, "sg");
    b.put_u8(2); // one topic
    b.put_u128(TOPIC);
    b.put_u8(2); // one partition
    b.put_i32(3);
    b.put_i32(1); // StateEpoch
    b.put_i32(2); // LeaderEpoch
    b.put_i64(10); // StartOffset
    if version >= 1 {
        b.put_i32(4); // DeliveryCompleteCount
    }
    b.put_u8(2); // one state batch
    b.put_i64(10);
    b.put_i64(12);
    b.put_i8(2); // DeliveryState: Acked
    b.put_i16(1); // DeliveryCount
    b.put_u8(0);
    b.put_u8(0);
    b.put_u8(0);
    b.put_u8(0);
    b.freeze()
}

#[test]
fn write_share_group_state_v1_carries_the_delivery_complete_count() {
    for (v, count) in [(1, 4), (0, -1)] {
        let d = decode_request(write_share_state_frame(v)).expect("decodes");
        let RequestKind::WriteShareGroupState(r) = d.body else {
            panic!("{:?}", d.body)
        };
        assert_eq!(r.group_id.as_str(), "sg");
        assert_eq!(r.topics[0].topic_id, uuid::Uuid::from_u128(TOPIC));
        let p = &r.topics[0].partitions[0];
        // v0 has no count: the schema's default, -1.
        assert_eq!(
            (p.partition, p.state_epoch, p.leader_epoch, p.start_offset),
            (3, 1, 2, 10)
        );
        assert_eq!(p.delivery_complete_count, count, "v{v}");
        let b = &p.state_batches[0];
        assert_eq!(
            (
                b.first_offset,
                b.last_offset,
                b.delivery_state,
                b.delivery_count
            ),
            (10, 12, 2, 1)
        );
    }

    // The response is v0's: Results: [TopicId, Partitions: [Partition, ErrorCode,
    // ErrorMessage, tags], tags], tags.
    let mut p = PartitionResult::default();
    p.partition = 3;
    p.error_code = 90;
    p.error_message = Some(StrBytes::from_static_str("x"));
    let mut t = WriteStateResult::default();
    t.topic_id = uuid::Uuid::from_u128(TOPIC);
    t.partitions = vec![p];
    let mut resp = WriteShareGroupStateResponse::default();
    resp.results = vec![t];
    let mut want = BytesMut::new();
    want.put_u8(2);
    want.put_u128(TOPIC);
    want.put_u8(2);
    want.put_i32(3);
    want.put_i16(90);
    cstr(&mut want, "x");
    want.put_slice(&[0, 0, 0]);
    let want = want.freeze();
    for v in [0, 1] {
        let body = response_body(
            ApiKey::WriteShareGroupState,
            v,
            ResponseKind::WriteShareGroupState(resp.clone()),
        );
        assert_eq!(body, want, "v{v}");
    }
}

/// A WriteTxnMarkers of `version`: one COMMIT marker of producer 9 epoch 3 for partitions 0
/// and 2 of "orders", coordinator epoch 5, (v2) transaction version 2.
fn write_txn_markers_frame(version: i16) -> Bytes {
    let mut b = header(ApiKey::WriteTxnMarkers, version);
    b.put_u8(2); // one marker
    b.put_i64(9);
    b.put_i16(3);
    b.put_u8(1); // TransactionResult: COMMIT
    b.put_u8(2); // one topic
    cstr(&mut b, "orders");
    b.put_u8(3);
    b.put_i32(0);
    b.put_i32(2);
    b.put_u8(0);
    b.put_i32(5); // CoordinatorEpoch
    if version >= 2 {
        b.put_i8(2); // TransactionVersion
    }
    b.put_u8(0);
    b.put_u8(0);
    b.freeze()
}

#[test]
fn write_txn_markers_v2_adds_the_transaction_version_after_the_coordinator_epoch() {
    for (v, tv) in [(2, 2), (1, 0)] {
        let d = decode_request(write_txn_markers_frame(v)).expect("decodes");
        let RequestKind::WriteTxnMarkers(r) = d.body else {
            panic!("{:?}", d.body)
        };
        let m = &r.markers[0];
        assert_eq!(
            (m.producer_id.0, m.producer_epoch, m.transaction_result),
            (9, 3, true)
        );
        assert_eq!(m.topics[0].name.0.as_str(), "orders");
        assert_eq!(m.topics[0].partition_indexes, [0, 2]);
        // v1 has none: the schema's default, 0.
        assert_eq!(
            (m.coordinator_epoch, m.transaction_version),
            (5, tv),
            "v{v}"
        );
    }
    // The response is v1's.
    let mut p = WritableTxnMarkerPartitionResult::default();
    p.partition_index = 2;
    p.error_code = 47;
    let mut t = WritableTxnMarkerTopicResult::default();
    t.name = TopicName(StrBytes::from_static_str("orders"));
    t.partitions = vec![p];
    let mut m = WritableTxnMarkerResult::default();
    m.producer_id = 9.into();
    m.topics = vec![t];
    let mut resp = WriteTxnMarkersResponse::default();
    resp.markers = vec![m];
    let mut want = BytesMut::new();
    want.put_u8(2);
    want.put_i64(9);
    want.put_u8(2);
    cstr(&mut want, "orders");
    want.put_u8(2);
    want.put_i32(2);
    want.put_i16(47);
    want.put_slice(&[0, 0, 0, 0]);
    let want = want.freeze();
    for v in [1, 2] {
        let body = response_body(
            ApiKey::WriteTxnMarkers,
            v,
            ResponseKind::WriteTxnMarkers(resp.clone()),
        );
        assert_eq!(body, want, "v{v}");
    }
}
