//! Frame-building helpers shared by the codec tests that write frames by hand from Kafka's
//! message schemas (not with the codec under test).

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::ApiKey;

/// A topic id used by the hand-written frames.
pub const TOPIC: u128 = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10;

/// Request header v2: key, version, correlation id 7, client id "c", no tagged fields.
pub fn header(key: ApiKey, version: i16) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i16(key as i16);
    b.put_i16(version);
    b.put_i32(7);
    b.put_i16(1);
    b.put_slice(b"c");
    b.put_u8(0);
    b
}

/// Compact string (length + 1, then the bytes).
pub fn cstr(b: &mut BytesMut, s: &str) {
    b.put_u8(u8::try_from(s.len() + 1).unwrap());
    b.put_slice(s.as_bytes());
}
