//! Sequence checks, duplicate detection, epochs, expiry and the snapshot format.

use super::*;

fn header(pid: i64, epoch: i16, first_seq: i32, records: i32, base_offset: i64) -> BatchHeader {
    let mut b = crate::batch::build_batch(0, 100, &[(None, b"x")]);
    let mut h = BatchHeader::parse(&b).unwrap();
    b.clear();
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = first_seq;
    h.last_offset_delta = records - 1;
    h.records_count = records;
    h.base_offset = base_offset;
    h
}

fn append(m: &mut ProducerStateManager, h: &BatchHeader) -> Result<Check, LogError> {
    let mut pending = HashMap::new();
    let c = m.check(&pending, h)?;
    if c == Check::Append {
        m.stage(&mut pending, h);
        m.commit(pending);
    }
    Ok(c)
}

#[test]
fn retries_of_the_last_five_batches_are_duplicates() {
    let mut m = ProducerStateManager::default();
    for i in 0..6 {
        assert_eq!(
            append(&mut m, &header(7, 0, i * 10, 10, i64::from(i) * 10)).unwrap(),
            Check::Append
        );
    }
    // Batch 0 fell out of the cache; batches 1..=5 are recognised with their offsets.
    match append(&mut m, &header(7, 0, 10, 10, 999)).unwrap() {
        Check::Duplicate(d) => assert_eq!((d.first_offset, d.last_offset), (10, 19)),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert!(matches!(
        append(&mut m, &header(7, 0, 0, 10, 999)),
        Err(LogError::OutOfOrderSequence(_))
    ));
}

#[test]
fn gaps_old_epochs_and_new_epochs_are_checked() {
    let mut m = ProducerStateManager::default();
    append(&mut m, &header(1, 3, 0, 5, 0)).unwrap();
    assert!(matches!(
        append(&mut m, &header(1, 3, 6, 1, 5)),
        Err(LogError::OutOfOrderSequence(_))
    ));
    assert!(matches!(
        append(&mut m, &header(1, 2, 5, 1, 5)),
        Err(LogError::InvalidProducerEpoch(_))
    ));
    assert!(matches!(
        append(&mut m, &header(1, 4, 3, 1, 5)),
        Err(LogError::OutOfOrderSequence(_))
    ));
    assert_eq!(
        append(&mut m, &header(1, 4, 0, 1, 5)).unwrap(),
        Check::Append
    );
    assert_eq!(m.get(1).unwrap().epoch, 4);
    // An unknown producer (e.g. expired) is accepted at any sequence, as in Kafka since KIP-360.
    assert_eq!(
        append(&mut m, &header(2, 0, 42, 1, 6)).unwrap(),
        Check::Append
    );
    // Non-idempotent batches are never checked.
    assert_eq!(
        append(&mut m, &header(-1, -1, -1, 1, 7)).unwrap(),
        Check::Append
    );
}

#[test]
fn sequences_wrap_past_i32_max() {
    assert_eq!(last_sequence(i32::MAX, 1), 0);
    let mut m = ProducerStateManager::default();
    append(&mut m, &header(1, 0, i32::MAX - 1, 2, 0)).unwrap();
    assert_eq!(
        append(&mut m, &header(1, 0, 0, 1, 2)).unwrap(),
        Check::Append
    );
}

#[test]
fn idle_producers_expire() {
    let mut m = ProducerStateManager::default();
    append(&mut m, &header(1, 0, 0, 1, 0)).unwrap();
    assert_eq!(m.expire(100 + 999, 1000), 0);
    assert_eq!(m.expire(100 + 1000, 1000), 1);
    assert!(m.is_empty());
}

#[test]
fn snapshots_round_trip_and_reject_garbage() {
    let mut m = ProducerStateManager::default();
    append(&mut m, &header(5, 2, 0, 3, 40)).unwrap();
    append(&mut m, &header(6, 0, 7, 1, 43)).unwrap();
    let bytes = m.to_snapshot();
    let back = ProducerStateManager::from_snapshot(&bytes).unwrap();
    let e = back.get(5).unwrap();
    assert_eq!(e.epoch, 2);
    assert_eq!(
        e.batches.back().copied(),
        Some(BatchMetadata {
            first_seq: 0,
            last_seq: 2,
            first_offset: 40,
            last_offset: 42,
            timestamp: 100
        })
    );
    // The last batch is still recognised as a duplicate after the reload.
    assert!(matches!(
        back.check(&HashMap::new(), &header(5, 2, 0, 3, 0)).unwrap(),
        Check::Duplicate(_)
    ));
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(ProducerStateManager::from_snapshot(&bad).is_err());
    assert!(ProducerStateManager::from_snapshot(&bytes[..8]).is_err());

    let dir = tempfile::tempdir().unwrap();
    for off in [10, 20, 30] {
        write_snapshot(dir.path(), off, &m).unwrap();
    }
    assert_eq!(
        list_snapshots(dir.path()),
        vec![20, 30],
        "only the two newest are kept"
    );
    let (loaded, at) = load_snapshot(dir.path(), 25);
    assert_eq!(
        (at, loaded),
        (Some(20), m.clone()),
        "snapshots past the log end are dropped"
    );
    assert_eq!(list_snapshots(dir.path()), vec![20]);
}

#[test]
fn snapshots_keep_every_cached_batch_so_retries_after_a_restart_are_duplicates() {
    let mut m = ProducerStateManager::default();
    for i in 0..7 {
        append(&mut m, &header(3, 1, i * 2, 2, 100 + i64::from(i) * 2)).unwrap();
    }
    append(&mut m, &header(9, 0, 0, 1, 200)).unwrap();
    let back = ProducerStateManager::from_snapshot(&m.to_snapshot()).unwrap();
    assert_eq!(back, m, "the whole state survives the round trip");
    assert_eq!(
        back.get(3).map(|e| e.batches.len()),
        Some(MAX_CACHED_BATCHES)
    );
    // The oldest of the five in-flight batches a producer may retry is still recognised.
    match back.check(&HashMap::new(), &header(3, 1, 4, 2, 0)).unwrap() {
        Check::Duplicate(d) => assert_eq!((d.first_offset, d.last_offset), (104, 105)),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // Any truncation of the file is refused rather than misread.
    let bytes = m.to_snapshot();
    for cut in 10..bytes.len() {
        assert!(ProducerStateManager::from_snapshot(&bytes[..cut]).is_err());
    }
}

#[test]
fn kafka_version_1_snapshots_are_still_read() {
    // One entry: producer 5, epoch 2, last sequence 2, last offset 42, offset delta 2,
    // timestamp 100, coordinator epoch -1, no transaction.
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&5i64.to_be_bytes());
    body.extend_from_slice(&2i16.to_be_bytes());
    body.extend_from_slice(&2i32.to_be_bytes());
    body.extend_from_slice(&42i64.to_be_bytes());
    body.extend_from_slice(&2i32.to_be_bytes());
    body.extend_from_slice(&100i64.to_be_bytes());
    body.extend_from_slice(&(-1i32).to_be_bytes());
    body.extend_from_slice(&(-1i64).to_be_bytes());
    let mut file = 1i16.to_be_bytes().to_vec();
    file.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    file.extend_from_slice(&body);
    let m = ProducerStateManager::from_snapshot(&file).unwrap();
    let e = m.get(5).unwrap();
    assert_eq!(e.epoch, 2);
    assert_eq!(
        e.batches.iter().copied().collect::<Vec<_>>(),
        vec![BatchMetadata {
            first_seq: 0,
            last_seq: 2,
            first_offset: 40,
            last_offset: 42,
            timestamp: 100
        }]
    );
}

fn txn_header(pid: i64, first_seq: i32, records: i32, base_offset: i64) -> BatchHeader {
    let mut h = header(pid, 0, first_seq, records, base_offset);
    h.attributes |= crate::txn_marker::TRANSACTIONAL_BIT;
    h
}

fn end(result: TxnResult) -> EndTxnMarker {
    EndTxnMarker {
        result,
        coordinator_epoch: 3,
    }
}

#[test]
fn transactions_start_at_their_first_batch_and_end_with_a_marker() {
    let mut m = ProducerStateManager::default();
    append(&mut m, &txn_header(1, 0, 2, 10)).unwrap();
    append(&mut m, &txn_header(2, 0, 1, 12)).unwrap();
    append(&mut m, &txn_header(1, 2, 1, 13)).unwrap();
    assert_eq!(m.ongoing_transactions(), vec![(1, 10), (2, 12)]);
    assert_eq!(m.first_unstable_offset(0), Some(10));
    assert!(matches!(
        append(&mut m, &header(1, 0, 3, 1, 14)),
        Err(LogError::InvalidTxnState(_))
    ));
    let c = m
        .apply_marker(1, 0, end(TxnResult::Abort), 14, 5, 0)
        .unwrap();
    assert_eq!(
        c,
        CompletedTxn {
            producer_id: 1,
            first_offset: 10,
            last_offset: 14,
            aborted: true
        }
    );
    assert_eq!(m.last_stable_offset_after(&c), 12);
    // Completed but not yet below the high watermark: still unstable until it is.
    assert_eq!(m.first_unstable_offset(0), Some(10));
    m.on_high_watermark(15);
    assert_eq!(m.first_unstable_offset(15), Some(12));
    assert_eq!(
        m.apply_marker(1, 0, end(TxnResult::Commit), 15, 6, 16),
        None
    );
    let c2 = m
        .apply_marker(2, 0, end(TxnResult::Commit), 16, 7, 17)
        .unwrap();
    assert!(!c2.aborted);
    assert_eq!(m.first_unstable_offset(17), None);
    // Producers with an ongoing transaction never expire.
    append(&mut m, &txn_header(3, 0, 1, 17)).unwrap();
    m.expire(i64::MAX, 1);
    assert!(m.get(3).is_some() && m.get(1).is_none());
}

#[test]
fn snapshots_keep_transaction_state_as_version_3_and_stay_version_2_without_it() {
    let mut m = ProducerStateManager::default();
    append(&mut m, &header(1, 0, 0, 1, 0)).unwrap();
    assert_eq!(
        i16::from_be_bytes([m.to_snapshot()[0], m.to_snapshot()[1]]),
        2
    );
    append(&mut m, &txn_header(2, 0, 1, 1)).unwrap();
    m.apply_marker(3, 4, end(TxnResult::Abort), 2, 9, 0);
    let bytes = m.to_snapshot();
    assert_eq!(i16::from_be_bytes([bytes[0], bytes[1]]), 3);
    let back = ProducerStateManager::from_snapshot(&bytes).unwrap();
    assert_eq!(back.get(2).unwrap().current_txn_first_offset, Some(1));
    assert_eq!(back.ongoing_transactions(), vec![(2, 1)]);
    let e3 = back.get(3).unwrap();
    assert_eq!(
        (e3.epoch, e3.coordinator_epoch, e3.batches.len()),
        (4, 3, 0)
    );
    assert_eq!(back.get(1), m.get(1));
    for cut in 0..bytes.len() {
        assert!(ProducerStateManager::from_snapshot(&bytes[..cut]).is_err());
    }
}

#[test]
fn coordinator_batches_skip_sequences_but_not_the_epoch() {
    let mut m = ProducerStateManager::default();
    let coord = |m: &mut ProducerStateManager, epoch: i16, base_offset: i64| {
        let mut h = txn_header(9, -1, 2, base_offset);
        h.producer_epoch = epoch;
        let mut pending = HashMap::new();
        let c = m.check_coordinator(&pending, &h)?;
        m.stage(&mut pending, &h);
        m.commit(pending);
        Ok::<Check, LogError>(c)
    };
    assert_eq!(coord(&mut m, 1, 0).unwrap(), Check::Append);
    // The same (-1-based) sequence range again is not a retry for a coordinator ...
    assert_eq!(coord(&mut m, 1, 2).unwrap(), Check::Append);
    // ... while the client path would take it for one.
    let mut again = txn_header(9, -1, 2, 4);
    again.producer_epoch = 1;
    assert!(matches!(
        m.check(&HashMap::new(), &again),
        Ok(Check::Duplicate(_))
    ));
    m.apply_marker(9, 2, end(TxnResult::Commit), 4, 5, 0);
    assert!(matches!(
        coord(&mut m, 1, 5),
        Err(LogError::InvalidProducerEpoch(_))
    ));
    assert_eq!(coord(&mut m, 2, 5).unwrap(), Check::Append);
    // Batches without a producer id are always appended.
    assert_eq!(
        m.check_coordinator(&HashMap::new(), &header(-1, -1, -1, 1, 7))
            .unwrap(),
        Check::Append
    );
}

#[test]
fn verification_is_needed_for_a_new_epoch_and_a_marker_invalidates_its_guard() {
    let mut m = ProducerStateManager::default();
    // No transaction yet: a guard; the write it verifies may go in.
    let g = m
        .begin_verification(1, 0, false)
        .expect("a first write needs verification");
    assert!(m.verified(1, 0, g));
    append(&mut m, &txn_header(1, 0, 2, 10)).unwrap();
    // The transaction at epoch 0 is ongoing: its next writes need no verification ...
    assert_eq!(m.begin_verification(1, 0, false), None);
    // ... but a write at epoch 1 (transaction version 2: the next transaction, while this
    // partition still waits for the previous one's marker) is another transaction.
    let g1 = m
        .begin_verification(1, 1, false)
        .expect("a new epoch needs verification");
    assert!(m.verified(1, 1, g1));
    // The previous transaction's marker (bumped epoch under TV2) ends it and the guard with
    // it: a write verified before the marker must not open a transaction nobody will end.
    m.apply_marker(1, 1, end(TxnResult::Commit), 12, 100, 0);
    assert!(!m.verified(1, 1, g1));
    assert!(m.begin_verification(1, 1, false).is_some());
}

#[test]
fn under_transaction_version_2_the_previous_transactions_marker_keeps_the_guard() {
    let mut m = ProducerStateManager::default();
    append(&mut m, &txn_header(1, 0, 2, 10)).unwrap();
    // The next transaction's write at epoch 1 is verified while the previous transaction's
    // markers (epoch 1 under TV2) are still being written.
    let g = m.begin_verification(1, 1, true).unwrap();
    m.apply_marker(1, 1, end(TxnResult::Commit), 12, 100, 0);
    assert!(m.verified(1, 1, g), "the previous transaction's marker");
    // Its own transaction's marker (epoch 2) voids it.
    m.apply_marker(1, 2, end(TxnResult::Abort), 13, 100, 0);
    assert!(!m.verified(1, 1, g), "its own transaction ended");
}
