//! Property test: random, truncated and mutated frames never panic the decoder or make it
//! allocate absurdly; they decode or return an error.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, FetchRequest, MetadataRequest, ProduceRequest, RequestHeader,
    TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use proptest::prelude::*;
use weir_protocol::request::decode_request;

fn encode<R: Encodable>(key: ApiKey, version: i16, body: &R) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = version;
    h.correlation_id = 1;
    h.client_id = Some(StrBytes::from_static_str("fuzz"));
    h.encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

fn samples() -> Vec<Vec<u8>> {
    let mut md = MetadataRequest::default();
    let mut t = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_static_str("topic")));
    md.topics = Some(vec![t]);
    let mut produce = ProduceRequest::default();
    let mut tp = kafka_protocol::messages::produce_request::TopicProduceData::default();
    tp.name = TopicName(StrBytes::from_static_str("topic"));
    let mut pp = kafka_protocol::messages::produce_request::PartitionProduceData::default();
    pp.records = Some(Bytes::from(vec![0u8; 70]));
    tp.partition_data = vec![pp];
    produce.topic_data = vec![tp];
    produce.acks = -1;
    let mut ct = CreateTopicsRequest::default();
    let mut c = kafka_protocol::messages::create_topics_request::CreatableTopic::default();
    c.name = TopicName(StrBytes::from_static_str("new-topic"));
    c.num_partitions = 3;
    ct.topics = vec![c];
    let mut out = Vec::new();
    for v in [1, 4, 9, 12] {
        out.push(encode(ApiKey::Metadata, v, &md));
    }
    for v in [3, 8, 9, 11] {
        out.push(encode(ApiKey::Produce, v, &produce));
    }
    for v in [4, 12, 13, 17] {
        out.push(encode(ApiKey::Fetch, v, &FetchRequest::default()));
    }
    for v in [2, 5, 7] {
        out.push(encode(ApiKey::CreateTopics, v, &ct));
    }
    out
}

#[test]
fn every_truncation_of_valid_requests_is_handled() {
    for s in samples() {
        assert!(decode_request(Bytes::from(s.clone())).is_ok());
        for cut in 0..s.len() {
            let _ = decode_request(Bytes::copy_from_slice(&s[..cut]));
        }
    }
}

#[test]
fn max_length_prefixes_at_every_position_are_handled() {
    for s in samples() {
        for at in 8..s.len().saturating_sub(4) {
            let mut m = s.clone();
            m[at..at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
            let _ = decode_request(Bytes::from(m));
            let mut m = s.clone();
            m[at] = 0xff; // a huge unsigned varint for compact lengths
            m[at + 1] = 0xff;
            m[at + 2] = 0xff;
            m[at + 3] = 0x7f;
            let _ = decode_request(Bytes::from(m));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_request(Bytes::from(bytes));
    }

    #[test]
    fn mutated_valid_requests_never_panic(
        which in 0usize..15,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let samples = samples();
        let mut s = samples[which % samples.len()].clone();
        for (i, b) in flips {
            let at = i.index(s.len());
            s[at] = b;
        }
        let _ = decode_request(Bytes::from(s));
    }
}
