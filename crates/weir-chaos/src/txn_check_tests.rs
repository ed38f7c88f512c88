//! The transactional history checker on hand-made histories: a clean one, then one per anomaly.

use super::*;

fn tp(t: &str, p: i32) -> Tp {
    (t.to_string(), p)
}

fn txn(producer: usize, seq: u64, writes: &[(&str, i32, &str)], outcome: Outcome) -> Txn {
    Txn {
        producer,
        seq,
        writes: writes
            .iter()
            .map(|(t, p, v)| Write {
                tp: tp(t, *p),
                value: v.to_string(),
            })
            .collect(),
        outcome,
    }
}

fn read(t: &str, p: i32, offset: i64, v: &str) -> Read {
    Read {
        tp: tp(t, p),
        offset,
        value: v.to_string(),
    }
}

/// Three transactions over two partitions: t0 committed (a@0, b@0), t1 aborted (a@2, its
/// marker at 3), t2 unknown but committed in the end (a@4, b@2). Final read: a@0, a@4, b@0,
/// b@2 (markers at a@1, a@3, a@5, b@1, b@3).
fn clean() -> History {
    History {
        txns: vec![
            txn(
                0,
                0,
                &[("a", 0, "p0-t0-0"), ("b", 0, "p0-t0-1")],
                Outcome::Committed,
            ),
            txn(1, 0, &[("a", 0, "p1-t0-0")], Outcome::Aborted),
            txn(
                1,
                1,
                &[("a", 0, "p1-t1-0"), ("b", 0, "p1-t1-1")],
                Outcome::Unknown("timed out".into()),
            ),
        ],
        consumers: vec![
            vec![
                read("a", 0, 0, "p0-t0-0"),
                read("b", 0, 0, "p0-t0-1"),
                read("a", 0, 4, "p1-t1-0"),
            ],
            vec![read("b", 0, 0, "p0-t0-1"), read("b", 0, 2, "p1-t1-1")],
        ],
        final_read: vec![
            read("a", 0, 0, "p0-t0-0"),
            read("a", 0, 4, "p1-t1-0"),
            read("b", 0, 0, "p0-t0-1"),
            read("b", 0, 2, "p1-t1-1"),
        ],
    }
}

#[test]
fn a_clean_history_has_no_anomaly() {
    let r = check(&clean());
    assert_eq!(r.anomalies(), 0, "{r:#?}");
    assert!(r.examples.is_empty());
    assert_eq!(
        (r.txns, r.committed, r.aborted, r.unknown, r.unknown_visible),
        (3, 1, 1, 1, 1)
    );
    assert_eq!((r.writes, r.final_reads, r.consumer_reads), (5, 4, 5));
}

#[test]
fn an_unknown_transaction_entirely_invisible_is_fine() {
    let mut h = clean();
    h.final_read
        .retain(|x| x.value != "p1-t1-0" && x.value != "p1-t1-1");
    h.consumers[0].pop();
    h.consumers[1].pop();
    let r = check(&h);
    assert_eq!(r.anomalies(), 0, "{r:#?}");
    assert_eq!(r.unknown_visible, 0);
}

#[test]
fn a_committed_write_missing_from_the_final_read_is_lost_and_torn() {
    let mut h = clean();
    h.final_read.retain(|x| x.value != "p0-t0-1");
    h.consumers[0].retain(|x| x.value != "p0-t0-1");
    h.consumers[1].retain(|x| x.value != "p0-t0-1");
    let r = check(&h);
    assert_eq!(r.lost, 1, "{r:#?}");
    assert_eq!(r.torn, 1, "{r:#?}");
    assert_eq!(r.anomalies(), 2);
    assert!(r.examples["lost"][0].contains("p0-t0-1"), "{r:#?}");
}

#[test]
fn a_committed_transaction_entirely_missing_is_lost_but_not_torn() {
    let mut h = clean();
    h.final_read.retain(|x| !x.value.starts_with("p0-t0"));
    h.consumers = vec![];
    let r = check(&h);
    assert_eq!((r.lost, r.torn), (2, 0), "{r:#?}");
}

#[test]
fn a_committed_write_found_in_another_partition_is_lost_and_unexpected() {
    let mut h = clean();
    h.final_read[2] = read("a", 0, 6, "p0-t0-1");
    h.consumers[0].remove(1);
    h.consumers[1].remove(0);
    let r = check(&h);
    assert_eq!((r.lost, r.unexpected), (1, 1), "{r:#?}");
    assert!(r.examples["lost"][0].contains("found at"), "{r:#?}");
}

#[test]
fn a_consumer_reading_an_aborted_write_is_an_aborted_read() {
    let mut h = clean();
    // Consumer 1 read the aborted write at a@2; the final read does not hold it.
    h.consumers[1].insert(0, read("a", 0, 2, "p1-t0-0"));
    let r = check(&h);
    assert_eq!(r.aborted_reads, 1, "{r:#?}");
    assert!(r.examples["aborted_read"][0].contains("consumer 1"));
    // It is also a read the final read disagrees with.
    assert_eq!(r.divergent, 1, "{r:#?}");
    assert_eq!(r.torn + r.lost + r.duplicates + r.nonmonotonic, 0);
}

#[test]
fn an_aborted_write_in_the_final_read_is_an_aborted_read() {
    let mut h = clean();
    h.final_read.insert(1, read("a", 0, 2, "p1-t0-0"));
    let r = check(&h);
    assert_eq!(r.aborted_reads, 1, "{r:#?}");
    assert!(r.examples["aborted_read"][0].contains("final read"));
    assert_eq!(r.anomalies(), 1, "{r:#?}");
}

#[test]
fn an_unknown_transaction_half_visible_is_torn() {
    let mut h = clean();
    h.final_read.retain(|x| x.value != "p1-t1-1");
    h.consumers[1].pop();
    let r = check(&h);
    assert_eq!(r.torn, 1, "{r:#?}");
    assert_eq!(r.lost, 0, "an unknown transaction's writes are not owed");
    assert!(r.examples["torn"][0].contains("p1-t1"), "{r:#?}");
    assert_eq!(r.anomalies(), 1);
}

#[test]
fn an_aborted_transaction_half_visible_is_torn_and_an_aborted_read() {
    let mut h = clean();
    h.txns[1]
        .writes
        .push(txn(1, 0, &[("b", 0, "p1-t0-1")], Outcome::Aborted).writes[0].clone());
    h.final_read.insert(1, read("a", 0, 2, "p1-t0-0"));
    let r = check(&h);
    assert_eq!((r.torn, r.aborted_reads), (1, 1), "{r:#?}");
}

#[test]
fn a_value_at_two_offsets_of_the_final_read_is_a_duplicate() {
    let mut h = clean();
    h.final_read.insert(2, read("a", 0, 6, "p0-t0-0"));
    let r = check(&h);
    assert_eq!(r.duplicates, 1, "{r:#?}");
    assert_eq!(r.anomalies(), 1, "{r:#?}");
}

#[test]
fn a_consumer_reading_a_value_at_two_offsets_is_a_duplicate() {
    let mut h = clean();
    h.consumers[0].push(read("a", 0, 6, "p0-t0-0"));
    let r = check(&h);
    assert_eq!(r.duplicates, 1, "{r:#?}");
    // The final read has nothing at a@6.
    assert_eq!(r.divergent, 1, "{r:#?}");
}

#[test]
fn offsets_going_backwards_for_a_consumer_are_nonmonotonic() {
    let mut h = clean();
    // Consumer 0 reads a@0 again after a@4 (a rewind).
    h.consumers[0].push(read("a", 0, 0, "p0-t0-0"));
    let r = check(&h);
    assert_eq!(r.nonmonotonic, 1, "{r:#?}");
    assert!(r.examples["nonmonotonic"][0].contains("consumer 0"));
    assert_eq!(r.anomalies(), 1, "{r:#?}");
}

#[test]
fn the_same_offset_read_twice_is_nonmonotonic() {
    let mut h = clean();
    h.consumers[1].insert(1, read("b", 0, 0, "p0-t0-1"));
    let r = check(&h);
    assert_eq!(r.nonmonotonic, 1, "{r:#?}");
}

#[test]
fn a_consumer_seeing_another_value_at_an_offset_is_divergent() {
    let mut h = clean();
    // Consumer 1 saw p1-t1-1 at b@1 where the final read has it at b@2: another order.
    h.consumers[1][1].offset = 1;
    let r = check(&h);
    assert_eq!(r.divergent, 1, "{r:#?}");
    assert!(r.examples["divergent"][0].contains("nothing"), "{r:#?}");
    // Two consumers disagreeing on which value an offset holds.
    let mut h = clean();
    h.consumers[0][0].value = "p0-t0-1".into();
    h.consumers[0][1].value = "p0-t0-0".into();
    let r = check(&h);
    assert_eq!(r.divergent, 2, "{r:#?}");
    assert_eq!(r.unexpected, 2, "each value read in the other partition");
}

#[test]
fn a_value_nobody_wrote_is_unexpected() {
    let mut h = clean();
    h.final_read.push(read("b", 0, 4, "garbage"));
    let r = check(&h);
    assert_eq!(r.unexpected, 1, "{r:#?}");
    assert_eq!(r.anomalies(), 1);
}

#[test]
fn examples_are_bounded() {
    let mut h = clean();
    for i in 0..20 {
        h.consumers[0].push(read("a", 0, 0, &format!("x{i}")));
    }
    let r = check(&h);
    assert!(r.examples.values().all(|v| v.len() <= EXAMPLES));
    assert_eq!(r.unexpected, 20);
    assert_eq!(r.nonmonotonic, 20);
}
