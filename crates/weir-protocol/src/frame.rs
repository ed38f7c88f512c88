//! Frame sizes: every Kafka request is a 4-byte big-endian size followed by that many bytes.

use crate::ProtocolError;

/// Validate a size prefix against `max_bytes` (`socket.request.max.bytes`) BEFORE the caller
/// allocates a buffer for the frame. Returns the frame length.
pub fn frame_length(prefix: [u8; 4], max_bytes: usize) -> Result<usize, ProtocolError> {
    let size = i32::from_be_bytes(prefix);
    if size <= 0 {
        return Err(ProtocolError::InvalidFrameSize(size));
    }
    let size = size as usize;
    if size > max_bytes {
        return Err(ProtocolError::FrameTooLarge {
            size,
            max: max_bytes,
        });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bounded() {
        assert_eq!(frame_length(100i32.to_be_bytes(), 1000).unwrap(), 100);
        assert!(matches!(
            frame_length(i32::MAX.to_be_bytes(), 100 << 20),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        assert!(frame_length((-1i32).to_be_bytes(), 1000).is_err());
        assert!(frame_length(0i32.to_be_bytes(), 1000).is_err());
    }
}
