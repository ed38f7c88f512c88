//! A blocking Kafka client that sends hand-built requests (kafka-protocol codecs) over one TCP
//! connection: for protocol-level tests of error codes that client libraries hide.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// One connection.
pub struct RawClient {
    stream: TcpStream,
    next_correlation: i32,
}

impl RawClient {
    /// Connect to `addr` (`host:port`).
    pub fn connect(addr: &str) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        RawClient {
            stream,
            next_correlation: 1,
        }
    }

    /// Send `req` as `key` version `v` and decode the response (panics on I/O or decode errors,
    /// or a correlation id mismatch).
    pub fn call<Q: Encodable, R: Decodable>(&mut self, key: ApiKey, v: i16, req: &Q) -> R {
        let mut h = RequestHeader::default();
        h.request_api_key = key as i16;
        h.request_api_version = v;
        h.correlation_id = self.next_correlation;
        h.client_id = Some(StrBytes::from_static_str("weir-raw-test-client"));
        self.next_correlation += 1;
        let mut body = BytesMut::new();
        h.encode(&mut body, key.request_header_version(v))
            .expect("encode header");
        req.encode(&mut body, v).expect("encode request");
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).expect("send");
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).expect("response size");
        let mut buf = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
        self.stream.read_exact(&mut buf).expect("response body");
        let mut b = Bytes::from(buf);
        let rh = ResponseHeader::decode(&mut b, key.response_header_version(v))
            .expect("decode response header");
        assert_eq!(rh.correlation_id, self.next_correlation - 1);
        R::decode(&mut b, v).expect("decode response")
    }
}
