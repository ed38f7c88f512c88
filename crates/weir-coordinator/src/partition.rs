//! Which partition of a coordinator topic holds a key.

/// The partition of a coordinator topic that holds `key`: `Utils.abs(javaHashCode(key)) %
/// partitions`, exactly as Kafka computes it (so the same group maps to the same partition on a
/// Kafka broker and on Weir). Guarantees a result in `0..partitions` (0 when `partitions` < 1).
pub fn partition_for(key: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in key.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    // Kafka's Utils.abs: MIN_VALUE maps to 0.
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_matches_java_hash_code() {
        // "test-group".hashCode() == 627841412 in Java; % 50 == 12.
        assert_eq!(partition_for("test-group", 50), 12);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE: Utils.abs maps it to 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("", 50), 0);
        assert_eq!(partition_for("x", 0), 0);
    }
}
