//! Request decoding with every length bounded by the frame: hostile input yields an error,
//! never a panic or a huge allocation.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

use crate::versions::supported_range;

/// A decoded request.
#[derive(Debug, Clone)]
pub struct DecodedRequest {
    /// The request header.
    pub header: RequestHeader,
    /// The API.
    pub api_key: ApiKey,
    /// The API version (within Weir's supported range).
    pub api_version: i16,
    /// The typed body.
    pub body: RequestKind,
}

/// Why a frame could not be decoded. The connection answers ApiVersions' `UnsupportedVersion`
/// with a v0 response carrying error 35; every other error closes the connection with a log line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// Truncated or garbled header or body.
    #[error("malformed request: {reason}")]
    Malformed {
        /// What was wrong.
        reason: String,
        /// The correlation id, when the first 8 bytes were present.
        correlation_id: Option<i32>,
    },
    /// An API key Kafka does not define, or one Weir does not serve.
    #[error("unknown or unserved api key {api_key}")]
    UnknownApiKey {
        /// The key.
        api_key: i16,
        /// The correlation id.
        correlation_id: i32,
    },
    /// A version outside Weir's supported range.
    #[error("unsupported version {api_version} of {api_key:?}")]
    UnsupportedVersion {
        /// The API.
        api_key: ApiKey,
        /// The requested version.
        api_version: i16,
        /// The correlation id.
        correlation_id: i32,
    },
}

/// Decode one request frame (without its size prefix).
pub fn decode_request(frame: Bytes) -> Result<DecodedRequest, RequestError> {
    if frame.len() < 8 {
        return Err(RequestError::Malformed {
            reason: format!(
                "frame of {} bytes is shorter than a request header",
                frame.len()
            ),
            correlation_id: None,
        });
    }
    let mut peek = &frame[..8];
    let raw_key = peek.get_i16();
    let api_version = peek.get_i16();
    let correlation_id = peek.get_i32();
    let Ok(api_key) = ApiKey::try_from(raw_key) else {
        return Err(RequestError::UnknownApiKey {
            api_key: raw_key,
            correlation_id,
        });
    };
    let Some((lo, hi)) = supported_range(api_key) else {
        return Err(RequestError::UnknownApiKey {
            api_key: raw_key,
            correlation_id,
        });
    };
    if api_version < lo || api_version > hi {
        return Err(RequestError::UnsupportedVersion {
            api_key,
            api_version,
            correlation_id,
        });
    }
    let malformed = |what: &str, e: String| RequestError::Malformed {
        reason: format!("{api_key:?} v{api_version} {what}: {e}"),
        correlation_id: Some(correlation_id),
    };
    // Defence in depth: the codec is patched to be bounded, but a panic in it must never take the
    // broker down; it becomes a malformed-request error for this one connection.
    let decoded = std::panic::catch_unwind(move || {
        let mut buf = frame;
        let header = RequestHeader::decode(&mut buf, api_key.request_header_version(api_version))
            .map_err(|e| ("header", e.to_string()))?;
        let body = RequestKind::decode(api_key, &mut buf, api_version)
            .map_err(|e| ("body", e.to_string()))?;
        Ok::<_, (&str, String)>((header, body))
    });
    match decoded {
        Ok(Ok((header, body))) => Ok(DecodedRequest {
            header,
            api_key,
            api_version,
            body,
        }),
        Ok(Err((what, e))) => Err(malformed(what, e)),
        Err(_) => Err(malformed("decoder", "panicked".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
    use kafka_protocol::protocol::Encodable;

    pub(crate) fn encode<R: Encodable>(key: ApiKey, version: i16, body: &R) -> Bytes {
        let mut buf = BytesMut::new();
        let mut h = RequestHeader::default();
        h.request_api_key = key as i16;
        h.request_api_version = version;
        h.correlation_id = 7;
        h.encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn api_versions_round_trip_v0_and_v3() {
        for v in [0, 3] {
            let f = encode(ApiKey::ApiVersions, v, &ApiVersionsRequest::default());
            let d = decode_request(f).unwrap();
            assert_eq!(d.api_key, ApiKey::ApiVersions);
            assert_eq!(d.header.correlation_id, 7);
        }
    }

    #[test]
    fn unsupported_and_unknown_are_distinguished() {
        let mut f = encode(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()).to_vec();
        f[2..4].copy_from_slice(&99i16.to_be_bytes());
        assert!(matches!(
            decode_request(Bytes::from(f.clone())),
            Err(RequestError::UnsupportedVersion {
                api_version: 99,
                correlation_id: 7,
                ..
            })
        ));
        f[0..2].copy_from_slice(&999i16.to_be_bytes());
        assert!(matches!(
            decode_request(Bytes::from(f)),
            Err(RequestError::UnknownApiKey { api_key: 999, .. })
        ));
    }

    #[test]
    fn huge_array_length_is_an_error_not_an_allocation() {
        let f = encode(ApiKey::Metadata, 4, &MetadataRequest::default()).to_vec();
        // Metadata v4 body starts with the topics array length (int32); claim 2^31-1 topics.
        let mut m = f.clone();
        let at = m.len() - 5; // topics length (4) + allow_auto_topic_creation (1)
        m[at..at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode_request(Bytes::from(m)),
            Err(RequestError::Malformed { .. })
        ));
    }
}
