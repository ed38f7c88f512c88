//! Response encoding: size prefix + response header (right version) + body.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::Encodable;

use crate::segmented::{ResponseFrame, SegmentedBuf};
use crate::ProtocolError;

/// Encode a complete response frame, including the 4-byte size prefix. ApiVersions always uses
/// response header v0 (as Kafka does, so old clients can read the fallback).
pub fn encode_response(
    correlation_id: i32,
    api_key: ApiKey,
    api_version: i16,
    response: &ResponseKind,
) -> Result<Bytes, ProtocolError> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    encode_header(&mut buf, correlation_id, api_key, api_version)?;
    response
        .encode(&mut buf, api_version)
        .map_err(|e| ProtocolError::Encode(format!("{api_key:?} v{api_version}: {e}")))?;
    let len = i32::try_from(buf.len() - 4)
        .map_err(|_| ProtocolError::Encode("response larger than 2 GiB".into()))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Encode a complete response frame (size prefix included) as pieces to write in order. Byte
/// for byte the same as [`encode_response`]; a Fetch response's record sets of at least
/// [`MIN_SHARED_BYTES`](crate::segmented::MIN_SHARED_BYTES) are pieces of their own, not copies,
/// and placeholders ([`crate::placeholder`]) become opaque parts the writer sends from files.
pub fn encode_response_frame(
    correlation_id: i32,
    api_key: ApiKey,
    api_version: i16,
    response: &ResponseKind,
) -> Result<ResponseFrame, ProtocolError> {
    let ResponseKind::Fetch(fetch) = response else {
        return encode_response(correlation_id, api_key, api_version, response).map(Into::into);
    };
    let mut buf = SegmentedBuf::with_capacity(256);
    encode_header(&mut buf, correlation_id, api_key, api_version)?;
    fetch
        .encode(&mut buf, api_version)
        .map_err(|e| ProtocolError::Encode(format!("{api_key:?} v{api_version}: {e}")))?;
    let len = i32::try_from(buf.len())
        .map_err(|_| ProtocolError::Encode("response larger than 2 GiB".into()))?;
    let prefix = Bytes::copy_from_slice(&len.to_be_bytes());
    buf.into_frame(prefix).ok_or_else(|| {
        ProtocolError::Encode(format!(
            "{api_key:?} v{api_version}: the encoder sought back across a record set sent from a file"
        ))
    })
}

/// The response header in the version `api_key`/`api_version` answers with.
fn encode_header<B: ByteBufMut>(
    buf: &mut B,
    correlation_id: i32,
    api_key: ApiKey,
    api_version: i16,
) -> Result<(), ProtocolError> {
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header
        .encode(buf, api_key.response_header_version(api_version))
        .map_err(|e| ProtocolError::Encode(e.to_string()))
}
