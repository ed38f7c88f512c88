//! ShareFetch / ShareAcknowledge v2 on the wire, checked against frames written by hand from
//! Kafka 4.4's message schemas (not by the codec under test): the request fields KIP-1206 and
//! KIP-1222 add and where they sit, and the v2-only AcquisitionLockTimeoutMs of the
//! ShareAcknowledge response.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind, ShareAcknowledgeResponse};
use weir_protocol::request::decode_request;
use weir_protocol::response::encode_response;

mod common;
use common::{cstr, header, TOPIC};

/// One topic with partition 3 acknowledging offsets 10..=11 as Renew (4), as in both requests.
fn topics(b: &mut BytesMut) {
    b.put_u8(2); // one topic
    b.put_u128(TOPIC);
    b.put_u8(2); // one partition
    b.put_i32(3);
    b.put_u8(2); // one acknowledgement batch
    b.put_i64(10);
    b.put_i64(11);
    b.put_u8(2); // one type
    b.put_i8(4);
    b.put_u8(0); // batch tags
    b.put_u8(0); // partition tags
    b.put_u8(0); // topic tags
}

fn share_fetch_frame(version: i16) -> Bytes {
    let mut b = header(ApiKey::ShareFetch, version);
    cstr(&mut b, "g");
    cstr(&mut b, "m");
    b.put_i32(5); // ShareSessionEpoch
    b.put_i32(0); // MaxWaitMs
    b.put_i32(0); // MinBytes
    b.put_i32(0); // MaxBytes
    b.put_i32(0); // MaxRecords
    b.put_i32(0); // BatchSize
    if version >= 2 {
        b.put_i8(1); // ShareAcquireMode: record_limit
        b.put_u8(1); // IsRenewAck
    }
    topics(&mut b);
    b.put_u8(1); // no forgotten topics
    b.put_u8(0); // tags
    b.freeze()
}

#[test]
fn share_fetch_v2_carries_acquire_mode_and_renew_flag_after_batch_size() {
    let d = decode_request(share_fetch_frame(2)).expect("v2 decodes");
    let RequestKind::ShareFetch(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert_eq!((r.share_acquire_mode, r.is_renew_ack), (1, true));
    assert_eq!(r.share_session_epoch, 5);
    let p = &r.topics[0].partitions[0];
    assert_eq!(r.topics[0].topic_id, uuid::Uuid::from_u128(TOPIC));
    assert_eq!(p.partition_index, 3);
    assert_eq!(p.acknowledgement_batches[0].acknowledge_types, vec![4]);

    // v1 has neither field: they take their defaults.
    let d = decode_request(share_fetch_frame(1)).expect("v1 decodes");
    let RequestKind::ShareFetch(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert_eq!((r.share_acquire_mode, r.is_renew_ack), (0, false));
    assert_eq!(r.topics[0].partitions[0].partition_index, 3);
}

#[test]
fn share_acknowledge_v2_carries_the_renew_flag_after_the_epoch() {
    let mut b = header(ApiKey::ShareAcknowledge, 2);
    cstr(&mut b, "g");
    cstr(&mut b, "m");
    b.put_i32(5);
    b.put_u8(1); // IsRenewAck
    topics(&mut b);
    b.put_u8(0);
    let d = decode_request(b.freeze()).expect("v2 decodes");
    let RequestKind::ShareAcknowledge(r) = d.body else {
        panic!("{:?}", d.body)
    };
    assert!(r.is_renew_ack);
    assert_eq!(r.share_session_epoch, 5);
    assert_eq!(r.topics[0].partitions[0].partition_index, 3);
}

#[test]
fn share_acknowledge_response_has_the_lock_timeout_only_in_v2() {
    let mut resp = ShareAcknowledgeResponse::default();
    resp.acquisition_lock_timeout_ms = 2000;
    let body = |version: i16| {
        let f = encode_response(
            7,
            ApiKey::ShareAcknowledge,
            version,
            &ResponseKind::ShareAcknowledge(resp.clone()),
        )
        .unwrap();
        // size, correlation id, header tags
        f.slice(9..)
    };
    // ThrottleTimeMs, ErrorCode, ErrorMessage (null), [v2: AcquisitionLockTimeoutMs],
    // Responses (empty), NodeEndpoints (empty), tags.
    let mut v2 = BytesMut::new();
    v2.put_i32(0);
    v2.put_i16(0);
    v2.put_u8(0);
    v2.put_i32(2000);
    v2.put_slice(&[1, 1, 0]);
    assert_eq!(body(2), v2.freeze());
    let v1: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 1, 1, 0];
    assert_eq!(body(1), Bytes::from_static(v1));
}
