//! One blocking connection to a broker that sends an encoded request body under any header
//! version (also versions the broker does not serve) and reports what came back: a decoded
//! response, a closed connection, silence, or bytes that do not decode.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// What a broker did with one request.
#[derive(Debug)]
pub enum Outcome {
    /// A response that decoded at the request's version.
    Response(Box<ResponseKind>),
    /// The broker closed the connection without answering.
    Closed,
    /// No answer within the read timeout.
    Silent,
    /// An answer that does not decode at the expected version (the reason).
    Undecodable(String),
}

/// A connection to one broker; reconnects on the next call after the broker closed it.
pub struct Conn {
    addr: String,
    stream: Option<TcpStream>,
    correlation: i32,
    timeout: Duration,
}

impl Conn {
    /// A (lazily opened) connection to `addr` (`host:port`), reads bounded by `timeout`.
    pub fn new(addr: &str, timeout: Duration) -> Conn {
        Conn {
            addr: addr.to_string(),
            stream: None,
            correlation: 0,
            timeout,
        }
    }

    /// The broker's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn stream(&mut self) -> std::io::Result<&mut TcpStream> {
        if let Some(s) = self.stream.take() {
            return Ok(self.stream.insert(s));
        }
        let s = TcpStream::connect(&self.addr)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        s.set_nodelay(true)?;
        Ok(self.stream.insert(s))
    }

    /// Send `req` encoded at `body_version` under a header that says `key` version
    /// `header_version`; decode the answer at `decode_version`. Err only on local failures
    /// (connect, encode); what the broker did is the [`Outcome`].
    pub fn send(
        &mut self,
        key: ApiKey,
        header_version: i16,
        body_version: i16,
        decode_version: i16,
        req: &RequestKind,
    ) -> Result<Outcome, String> {
        self.correlation += 1;
        let mut h = RequestHeader::default();
        h.request_api_key = key as i16;
        h.request_api_version = header_version;
        h.correlation_id = self.correlation;
        h.client_id = Some(StrBytes::from_static_str("weir-conformance"));
        let mut body = BytesMut::new();
        h.encode(&mut body, key.request_header_version(body_version))
            .map_err(|e| format!("encode header: {e}"))?;
        req.encode(&mut body, body_version)
            .map_err(|e| format!("encode {key:?} v{body_version}: {e}"))?;
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        let addr = self.addr.clone();
        let stream = self.stream().map_err(|e| format!("connect {addr}: {e}"))?;
        if let Err(e) = stream.write_all(&frame) {
            self.stream = None;
            return Ok(match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => Outcome::Silent,
                _ => Outcome::Closed,
            });
        }
        let outcome = match read_frame(stream) {
            Ok(buf) => decode(key, decode_version, self.correlation, buf),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Outcome::Silent
            }
            Err(_) => Outcome::Closed,
        };
        if !matches!(outcome, Outcome::Response(_)) {
            self.stream = None;
        }
        Ok(outcome)
    }

    /// Send `req` as `key` version `v` (header and body).
    pub fn call(&mut self, key: ApiKey, v: i16, req: &RequestKind) -> Result<Outcome, String> {
        self.send(key, v, v, v, req)
    }
}

fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let n = i32::from_be_bytes(len);
    if !(0..=256 << 20).contains(&n) {
        return Err(std::io::Error::other(format!("frame of {n} bytes")));
    }
    let mut buf = vec![0u8; n as usize];
    stream.read_exact(&mut buf)?;
    Ok(buf)
}

fn decode(key: ApiKey, v: i16, correlation: i32, buf: Vec<u8>) -> Outcome {
    let mut b = Bytes::from(buf);
    // An ApiVersions request above the served range is answered at v0 (KIP-511), header v0.
    let header_version = if key == ApiKey::ApiVersions {
        0
    } else {
        key.response_header_version(v)
    };
    let rh = match ResponseHeader::decode(&mut b, header_version) {
        Ok(h) => h,
        Err(e) => return Outcome::Undecodable(format!("header: {e}")),
    };
    if rh.correlation_id != correlation {
        return Outcome::Undecodable(format!("correlation id {}", rh.correlation_id));
    }
    match ResponseKind::decode(key, &mut b, v) {
        Ok(r) if b.is_empty() => Outcome::Response(Box::new(r)),
        Ok(_) => Outcome::Undecodable(format!("{key:?} v{v}: {} bytes left over", b.len())),
        Err(e) => Outcome::Undecodable(format!("{key:?} v{v}: {e}")),
    }
}
