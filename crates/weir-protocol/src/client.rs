//! The client side of the wire format, for a broker acting as a Kafka client (a follower sending
//! Fetch to its leader). Sans-IO: requests become complete frames, response frames become typed
//! bodies; the caller moves the bytes.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::ProtocolError;

fn check_version(key: ApiKey, version: i16) -> Result<(), ProtocolError> {
    let r = key.valid_versions();
    if version < r.min || version > r.max {
        return Err(ProtocolError::UnsupportedVersion {
            api_key: key as i16,
            version,
        });
    }
    Ok(())
}

/// Encode a complete request frame for `key` at `version`: the 4-byte big-endian size prefix,
/// the request header in the version Kafka uses for that API version (with `correlation_id` and
/// `client_id`), then `body`. A version the codec does not know is `UnsupportedVersion`; a body
/// that cannot be expressed at `version` is `EncodeRequest`. Never panics.
pub fn encode_request<Q: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &Q,
) -> Result<Bytes, ProtocolError> {
    check_version(key, version)?;
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let mut header = RequestHeader::default();
    header.request_api_key = key as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_string(client_id.to_owned()));
    header
        .encode(&mut buf, key.request_header_version(version))
        .map_err(|e| ProtocolError::EncodeRequest(format!("{key:?} v{version} header: {e}")))?;
    body.encode(&mut buf, version)
        .map_err(|e| ProtocolError::EncodeRequest(format!("{key:?} v{version}: {e}")))?;
    let len = i32::try_from(buf.len() - 4)
        .map_err(|_| ProtocolError::EncodeRequest("request larger than 2 GiB".into()))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Decode a response frame (without its 4-byte size prefix) to the request sent as `key` at
/// `version` with `expected_correlation_id`: the response header (in the version Kafka uses for
/// that API version), then the typed body, which must use the whole frame. Guarantees: a
/// different correlation id is `CorrelationMismatch`; truncated, garbled or over-long input is
/// `MalformedResponse` (a panic inside the codec is caught and reported the same way), never a
/// panic; a version the codec does not know is `UnsupportedVersion`.
pub fn decode_response<R: Decodable>(
    key: ApiKey,
    version: i16,
    expected_correlation_id: i32,
    frame: Bytes,
) -> Result<R, ProtocolError> {
    check_version(key, version)?;
    let header_version = key.response_header_version(version);
    let decoded = std::panic::catch_unwind(move || {
        let mut buf = frame;
        let header = ResponseHeader::decode(&mut buf, header_version)
            .map_err(|e| ProtocolError::MalformedResponse(format!("{key:?} header: {e}")))?;
        if header.correlation_id != expected_correlation_id {
            return Err(ProtocolError::CorrelationMismatch {
                expected: expected_correlation_id,
                got: header.correlation_id,
            });
        }
        let body = R::decode(&mut buf, version)
            .map_err(|e| ProtocolError::MalformedResponse(format!("{key:?} v{version}: {e}")))?;
        if !buf.is_empty() {
            return Err(ProtocolError::MalformedResponse(format!(
                "{key:?} v{version}: {} bytes after the body",
                buf.len()
            )));
        }
        Ok(body)
    });
    match decoded {
        Ok(r) => r,
        Err(_) => Err(ProtocolError::MalformedResponse(format!(
            "{key:?} v{version}: the decoder panicked"
        ))),
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
