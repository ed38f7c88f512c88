//! Protocol errors.

/// Framing, encoding and (client side) response decoding errors.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The size prefix is negative or zero.
    #[error("invalid frame size {0}")]
    InvalidFrameSize(i32),
    /// The size prefix exceeds `socket.request.max.bytes`.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Claimed size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// A response could not be encoded (a broker bug, reported not panicked).
    #[error("cannot encode response: {0}")]
    Encode(String),
    /// A request could not be encoded (a field set that the version lacks, a frame over 2 GiB).
    #[error("cannot encode request: {0}")]
    EncodeRequest(String),
    /// The API version is outside what the codec knows for this API.
    #[error("version {version} of api key {api_key} is not supported by the codec")]
    UnsupportedVersion {
        /// The API key.
        api_key: i16,
        /// The version asked for.
        version: i16,
    },
    /// A response answers another request than the one awaited.
    #[error("response correlation id {got} does not match the request's {expected}")]
    CorrelationMismatch {
        /// The correlation id of the request sent.
        expected: i32,
        /// The correlation id found in the response header.
        got: i32,
    },
    /// A truncated, garbled or over-long response frame.
    #[error("malformed response: {0}")]
    MalformedResponse(String),
}
