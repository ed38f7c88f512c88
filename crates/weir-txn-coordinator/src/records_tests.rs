//! The `__transaction_state` records against bytes built by hand from Kafka's schemas
//! (`TransactionLogKey` v0, `TransactionLogValue` v0 and v1).

use std::collections::BTreeSet;

use crate::records::*;
use crate::*;

fn be<T: Into<i64>>(v: T, width: usize) -> Vec<u8> {
    v.into().to_be_bytes()[8 - width..].to_vec()
}

fn meta(state: TxnState, parts: &[(&str, i32)]) -> TxnMetadata {
    TxnMetadata {
        producer_id: 5,
        prev_producer_id: 4,
        next_producer_id: NO_PRODUCER_ID,
        producer_epoch: 3,
        last_producer_epoch: NO_PRODUCER_EPOCH,
        timeout_ms: 60_000,
        state,
        partitions: parts
            .iter()
            .map(|(t, p)| TopicPartition::new(*t, *p))
            .collect::<BTreeSet<_>>(),
        start_ms: 50,
        last_update_ms: 100,
        client_version: 2,
    }
}

/// The fixed head of a value: version, producer id 5, epoch 3, timeout 60000, status.
fn head(version: i16, state: TxnState) -> Vec<u8> {
    let mut b = be(version, 2);
    b.extend(be(5i64, 8));
    b.extend(be(3i16, 2));
    b.extend(be(60_000i32, 4));
    b.push(state.id() as u8);
    b
}

#[test]
fn key_v0() {
    let want = vec![0, 0, 0, 2, b'a', b'b'];
    assert_eq!(encode_key("ab"), want);
    assert_eq!(decode_key(&want).unwrap(), Some("ab".to_string()));
    // Other key versions are skipped, truncated keys refused.
    assert_eq!(decode_key(&[0, 1, 0, 0]).unwrap(), None);
    assert!(decode_key(&[0, 0, 0, 5, b'a']).is_err());
    assert!(decode_key(&[0]).is_err());
}

#[test]
fn value_v1_matches_hand_built_bytes() {
    let m = meta(TxnState::PrepareCommit, &[("t", 0), ("t", 1), ("u", 2)]);
    let mut want = head(1, TxnState::PrepareCommit);
    want.push(3); // compact array: 2 topics
    want.extend([2, b't', 3]); // "t", 2 partitions
    want.extend(be(0i32, 4));
    want.extend(be(1i32, 4));
    want.push(0); // tagged fields of the entry
    want.extend([2, b'u', 2]);
    want.extend(be(2i32, 4));
    want.push(0);
    want.extend(be(100i64, 8)); // last update
    want.extend(be(50i64, 8)); // start
    want.push(2); // two tagged fields: previous producer id, client transaction version
    want.extend([0, 8]);
    want.extend(be(4i64, 8));
    want.extend([2, 2]);
    want.extend(be(2i16, 2));
    assert_eq!(encode_value(&m), want);
    assert_eq!(decode_value(&want).unwrap(), Some(m));
}

#[test]
fn value_v1_empty_has_null_partitions_and_skips_unknown_tags() {
    let mut m = meta(TxnState::Empty, &[]);
    m.next_producer_id = 9;
    m.client_version = 0;
    let mut want = head(1, TxnState::Empty);
    want.push(0); // null array
    want.extend(be(100i64, 8));
    want.extend(be(50i64, 8));
    want.push(2);
    want.extend([0, 8]);
    want.extend(be(4i64, 8));
    want.extend([1, 8]);
    want.extend(be(9i64, 8));
    assert_eq!(encode_value(&m), want);
    assert_eq!(decode_value(&want).unwrap(), Some(m.clone()));
    // A newer writer's tag (e.g. 3, NextProducerEpoch) is skipped.
    let mut newer = want.clone();
    let at = newer.len() - 21;
    newer[at] = 3;
    newer.extend([3, 2, 0, 7]);
    assert_eq!(decode_value(&newer).unwrap(), Some(m));
}

#[test]
fn value_v0_is_read() {
    let mut b = head(0, TxnState::Ongoing);
    b.extend(be(1i32, 4)); // one topic
    b.extend(be(1i16, 2));
    b.push(b't');
    b.extend(be(2i32, 4));
    b.extend(be(0i32, 4));
    b.extend(be(1i32, 4));
    b.extend(be(100i64, 8));
    b.extend(be(50i64, 8));
    let mut want = meta(TxnState::Ongoing, &[("t", 0), ("t", 1)]);
    want.prev_producer_id = NO_PRODUCER_ID;
    want.client_version = 0;
    assert_eq!(decode_value(&b).unwrap(), Some(want));
    // Null partitions (Empty, as written by Kafka).
    let mut e = head(0, TxnState::Empty);
    e.extend(be(-1i32, 4));
    e.extend(be(100i64, 8));
    e.extend(be(50i64, 8));
    assert_eq!(decode_value(&e).unwrap().unwrap().partitions.len(), 0);
}

#[test]
fn garbage_is_refused_without_panics() {
    assert_eq!(
        decode_value(&[0, 9, 1, 2]).unwrap(),
        None,
        "unknown value version"
    );
    let good = encode_value(&meta(TxnState::Ongoing, &[("t", 0)]));
    for n in 0..good.len() {
        assert!(decode_value(&good[..n]).is_err(), "truncated at {n}");
    }
    // An absurd array length is refused before allocating.
    let mut huge = head(0, TxnState::Ongoing);
    huge.extend(be(i32::MAX, 4));
    assert!(decode_value(&huge).is_err());
    let mut bad_state = head(1, TxnState::Ongoing);
    let last = bad_state.len() - 1;
    bad_state[last] = 42;
    assert!(decode_value(&bad_state).is_err());
    let mut x: u32 = 12345;
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        let _ = decode_value(&bytes);
        let _ = decode_key(&bytes);
    }
}
