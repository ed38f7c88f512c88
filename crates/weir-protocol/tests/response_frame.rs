//! `encode_response_frame` (record sets kept as their own pieces) yields exactly the bytes of
//! `encode_response` (one copied buffer), for every Fetch version Weir serves.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use weir_protocol::placeholder::placeholder;
use weir_protocol::response::{encode_response, encode_response_frame};
use weir_protocol::segmented::{FramePart, MIN_SHARED_BYTES};

fn partition(index: i32, records: Bytes) -> PartitionData {
    let mut p = PartitionData::default();
    p.partition_index = index;
    p.high_watermark = 1234;
    p.last_stable_offset = 1234;
    p.log_start_offset = 7;
    p.aborted_transactions = Some(Vec::new());
    p.records = Some(records);
    p
}

/// A response with only the fields `version` has (the codec refuses others).
fn response(version: i16) -> FetchResponse {
    let pattern = |n: usize, seed: u8| -> Bytes {
        Bytes::from(
            (0..n)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect::<Vec<u8>>(),
        )
    };
    let mut t = FetchableTopicResponse::default();
    if version >= 13 {
        t.topic_id = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788);
    } else {
        t.topic = TopicName(StrBytes::from_static_str("orders"));
    }
    t.partitions = vec![
        partition(0, pattern(MIN_SHARED_BYTES * 3 + 17, 1)),
        partition(1, pattern(100, 2)),
        partition(2, Bytes::new()),
        partition(3, pattern(MIN_SHARED_BYTES, 3)),
    ];
    let mut r = FetchResponse::default();
    if version >= 7 {
        r.session_id = 42;
    }
    r.responses = vec![t];
    r
}

#[test]
fn pieces_carry_the_same_bytes_as_the_copied_frame_for_every_fetch_version() {
    let (lo, hi) =
        weir_protocol::versions::supported_range(ApiKey::Fetch).expect("Fetch is served");
    for version in lo..=hi {
        let resp = ResponseKind::Fetch(response(version));
        let copied = encode_response(9, ApiKey::Fetch, version, &resp).unwrap();
        let frame = encode_response_frame(9, ApiKey::Fetch, version, &resp).unwrap();
        assert_eq!(frame.len(), copied.len(), "v{version}");
        assert!(
            frame.pieces() >= 3,
            "v{version}: large record sets are separate pieces"
        );
        let mut joined = Vec::new();
        for part in frame.into_parts() {
            let FramePart::Memory(mut m) = part else {
                panic!("v{version}: no placeholder was given, so no opaque part");
            };
            while m.has_remaining() {
                let n = m.chunk().len();
                joined.extend_from_slice(m.chunk());
                m.advance(n);
            }
        }
        assert_eq!(joined, copied.as_ref(), "v{version}");
    }
}

#[test]
fn other_responses_are_one_piece() {
    let resp = ResponseKind::ApiVersions(weir_protocol::versions::api_versions_response(0));
    let copied = encode_response(1, ApiKey::ApiVersions, 3, &resp).unwrap();
    let frame = encode_response_frame(1, ApiKey::ApiVersions, 3, &resp).unwrap();
    assert_eq!(frame.pieces(), 1);
    assert_eq!(frame.to_bytes(), Some(copied));
}

/// The same response with every large record set replaced by a placeholder carrying the real
/// bytes: the frame, with each opaque part resolved to its payload, is byte for byte the copied
/// frame (what a zero-copy writer sends is exactly what Kafka's encoding says).
#[test]
fn placeholders_stand_for_exactly_their_bytes_in_every_fetch_version() {
    let (lo, hi) =
        weir_protocol::versions::supported_range(ApiKey::Fetch).expect("Fetch is served");
    for version in lo..=hi {
        let real = response(version);
        let copied = encode_response(
            9,
            ApiKey::Fetch,
            version,
            &ResponseKind::Fetch(real.clone()),
        )
        .unwrap();
        let mut stand_in = real;
        let mut opaque = 0;
        for t in &mut stand_in.responses {
            for p in &mut t.partitions {
                let Some(bytes) = p.records.clone() else {
                    continue;
                };
                if let Some(ph) = placeholder(bytes.len(), std::sync::Arc::new(bytes)) {
                    p.records = Some(ph);
                    opaque += 1;
                }
            }
        }
        assert!(
            opaque >= 2,
            "v{version}: the large record sets became placeholders"
        );
        let frame =
            encode_response_frame(9, ApiKey::Fetch, version, &ResponseKind::Fetch(stand_in))
                .unwrap();
        let mut joined = Vec::new();
        for part in frame.into_parts() {
            match part {
                FramePart::Memory(mut m) => {
                    while m.has_remaining() {
                        let n = m.chunk().len();
                        joined.extend_from_slice(m.chunk());
                        m.advance(n);
                    }
                }
                FramePart::Opaque(o) => {
                    let bytes = o
                        .payload
                        .downcast_ref::<Bytes>()
                        .expect("the payload given");
                    assert_eq!(bytes.len(), o.len);
                    joined.extend_from_slice(bytes);
                }
            }
        }
        assert_eq!(joined, copied.as_ref(), "v{version}");
    }
}
