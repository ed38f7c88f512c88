//! Round trips against the server-side codec, correlation checks, hostile frames.

use super::*;
use crate::request::decode_request;
use crate::response::encode_response;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, RequestKind,
    ResponseKind, TopicName,
};

fn fetch_request() -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = 3;
    p.current_leader_epoch = 7;
    p.fetch_offset = 1234;
    p.last_fetched_epoch = 6;
    p.log_start_offset = 100;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_static_str("orders"));
    t.partitions.push(p);
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(2);
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.max_bytes = 50 << 20;
    req.session_id = 0;
    req.session_epoch = -1;
    req.topics.push(t);
    req.rack_id = StrBytes::from_static_str("rack-a");
    req
}

fn fetch_response() -> FetchResponse {
    let mut p = PartitionData::default();
    p.partition_index = 3;
    p.high_watermark = 2000;
    p.last_stable_offset = 2000;
    p.log_start_offset = 100;
    p.diverging_epoch.epoch = 5;
    p.diverging_epoch.end_offset = 1200;
    p.records = Some(Bytes::from_static(
        b"\0\0\0\0\0\0\x04\xd2 pretend these are batches",
    ));
    let mut t = FetchableTopicResponse::default();
    t.topic = TopicName(StrBytes::from_static_str("orders"));
    t.partitions.push(p);
    let mut resp = FetchResponse::default();
    resp.session_id = 9;
    resp.responses.push(t);
    resp
}

/// A FetchResponse v12 frame without its size prefix, as a leader sends it.
fn response_frame(correlation_id: i32) -> Bytes {
    let f = encode_response(
        correlation_id,
        ApiKey::Fetch,
        12,
        &ResponseKind::Fetch(fetch_response()),
    )
    .unwrap();
    f.slice(4..)
}

#[test]
fn fetch_request_v12_round_trips_through_the_server_decoder() {
    let frame = encode_request(ApiKey::Fetch, 12, 41, "weir-replica-2", &fetch_request()).unwrap();
    let size = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    assert_eq!(size as usize, frame.len() - 4);
    let d = decode_request(frame.slice(4..)).unwrap();
    assert_eq!((d.api_key, d.api_version), (ApiKey::Fetch, 12));
    assert_eq!(d.header.correlation_id, 41);
    assert_eq!(
        d.header.client_id.as_ref().map(|c| c.as_str()),
        Some("weir-replica-2")
    );
    match d.body {
        RequestKind::Fetch(r) => assert_eq!(r, fetch_request()),
        other => panic!("expected a Fetch body, got {other:?}"),
    }
}

#[test]
fn fetch_response_v12_decodes() {
    let r: FetchResponse = decode_response(ApiKey::Fetch, 12, 41, response_frame(41)).unwrap();
    assert_eq!(r, fetch_response());
}

#[test]
fn api_versions_uses_response_header_v0() {
    let mut resp = ApiVersionsResponse::default();
    resp.api_keys = crate::versions::api_versions_response(0).api_keys;
    let f = encode_response(
        5,
        ApiKey::ApiVersions,
        3,
        &ResponseKind::ApiVersions(resp.clone()),
    )
    .unwrap();
    let got: ApiVersionsResponse =
        decode_response(ApiKey::ApiVersions, 3, 5, f.slice(4..)).unwrap();
    assert_eq!(got, resp);
    let req = encode_request(
        ApiKey::ApiVersions,
        3,
        5,
        "c",
        &ApiVersionsRequest::default(),
    )
    .unwrap();
    assert_eq!(
        decode_request(req.slice(4..))
            .unwrap()
            .header
            .correlation_id,
        5
    );
}

#[test]
fn a_wrong_correlation_id_is_an_error() {
    assert!(matches!(
        decode_response::<FetchResponse>(ApiKey::Fetch, 12, 42, response_frame(41)),
        Err(ProtocolError::CorrelationMismatch {
            expected: 42,
            got: 41
        })
    ));
}

#[test]
fn unsupported_versions_and_unencodable_bodies_are_errors() {
    assert!(matches!(
        encode_request(ApiKey::Fetch, 99, 1, "c", &fetch_request()),
        Err(ProtocolError::UnsupportedVersion { version: 99, .. })
    ));
    assert!(matches!(
        decode_response::<FetchResponse>(ApiKey::Fetch, 3, 41, response_frame(41)),
        Err(ProtocolError::UnsupportedVersion { version: 3, .. })
    ));
    // rack_id exists from v11 on: a v4 request cannot carry it.
    assert!(matches!(
        encode_request(ApiKey::Fetch, 4, 1, "c", &fetch_request()),
        Err(ProtocolError::EncodeRequest(_))
    ));
}

#[test]
fn truncated_extended_and_garbled_frames_are_errors_not_panics() {
    let frame = response_frame(41);
    for cut in 0..frame.len() {
        let r = decode_response::<FetchResponse>(ApiKey::Fetch, 12, 41, frame.slice(..cut));
        assert!(
            matches!(r, Err(ProtocolError::MalformedResponse(_))),
            "cut at {cut}: {r:?}"
        );
    }
    let mut longer = frame.to_vec();
    longer.push(0);
    assert!(matches!(
        decode_response::<FetchResponse>(ApiKey::Fetch, 12, 41, Bytes::from(longer)),
        Err(ProtocolError::MalformedResponse(_))
    ));
    // Every single-byte corruption and pseudo-random garbage: any result but a panic.
    for i in 0..frame.len() {
        for v in [0x00, 0x7f, 0x80, 0xff] {
            let mut g = frame.to_vec();
            g[i] = v;
            let _ = decode_response::<FetchResponse>(ApiKey::Fetch, 12, 41, Bytes::from(g));
        }
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..300 {
        let g: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = decode_response::<FetchResponse>(ApiKey::Fetch, 12, 41, Bytes::from(g));
    }
}
