//! Protocol errors.

/// Framing and encoding errors.
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
}
