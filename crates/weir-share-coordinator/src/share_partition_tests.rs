//! Tests of [`SharePartition`]: acquisition, acknowledgement, locks, limits, the SPSO, dead
//! letters and the persisted form.

use crate::*;

const M1: &str = "m1";
const M2: &str = "m2";

fn limits() -> PartitionLimits {
    PartitionLimits::default()
}

fn dlq() -> PartitionLimits {
    PartitionLimits {
        dead_letter_enabled: true,
        ..PartitionLimits::default()
    }
}

fn r(first: i64, last: i64, count: i16) -> AcquiredRange {
    AcquiredRange {
        first_offset: first,
        last_offset: last,
        delivery_count: count,
    }
}

fn acq(p: &mut SharePartition, m: &str, batches: &[(i64, i64)], now: i64) -> Vec<AcquiredRange> {
    p.acquire(m, batches, 500, AcquireMode::BatchOptimized, &limits(), now)
}

fn ack(
    p: &mut SharePartition,
    m: &str,
    first: i64,
    last: i64,
    t: AckType,
) -> Result<Transition, ShareError> {
    p.acknowledge(m, &[AckBatch::all(first, last, t)], &limits(), 0)
}

#[test]
fn acquire_new_records_locks_them_for_the_member() {
    let mut p = SharePartition::new(0);
    assert_eq!(acq(&mut p, M1, &[(0, 9)], 100), vec![r(0, 9, 1)]);
    assert_eq!(
        (p.start_offset(), p.end_offset(), p.in_flight()),
        (0, 9, 10)
    );
    assert_eq!(
        p.record(3),
        Some(RecordView::Acquired {
            member: M1.into(),
            deadline: 30_100,
            delivery_count: 1
        })
    );
    assert_eq!(p.acquired_by(M1), 10);
    // Another member gets nothing of the locked records, but new ones.
    assert_eq!(
        acq(&mut p, M2, &[(0, 9), (10, 12)], 100),
        vec![r(10, 12, 1)]
    );
    assert_eq!(p.next_fetch_offset(), 13);
    assert_eq!(p.next_lock_deadline(), Some(30_100));
}

#[test]
fn records_below_the_start_offset_are_never_acquired() {
    let mut p = SharePartition::new(5);
    assert_eq!(acq(&mut p, M1, &[(0, 7)], 0), vec![r(5, 7, 1)]);
}

#[test]
fn batch_optimized_completes_the_batch_record_limit_is_strict() {
    let mut p = SharePartition::new(0);
    let got = p.acquire(
        M1,
        &[(0, 4), (5, 9)],
        3,
        AcquireMode::BatchOptimized,
        &limits(),
        0,
    );
    assert_eq!(got, vec![r(0, 4, 1)]);
    let mut p = SharePartition::new(0);
    let got = p.acquire(
        M1,
        &[(0, 4), (5, 9)],
        3,
        AcquireMode::RecordLimit,
        &limits(),
        0,
    );
    assert_eq!(got, vec![r(0, 2, 1)]);
    assert_eq!(p.end_offset(), 2);
    // The rest is acquired by the next fetch.
    let got = p.acquire(
        M2,
        &[(3, 4), (5, 9)],
        3,
        AcquireMode::RecordLimit,
        &limits(),
        0,
    );
    assert_eq!(got, vec![r(3, 5, 1)]);
}

#[test]
fn the_in_flight_window_never_exceeds_max_record_locks() {
    let l = PartitionLimits {
        max_in_flight: 5,
        ..limits()
    };
    let mut p = SharePartition::new(0);
    assert_eq!(
        p.acquire(M1, &[(0, 9)], 100, AcquireMode::BatchOptimized, &l, 0),
        vec![r(0, 4, 1)]
    );
    assert!(p
        .acquire(M2, &[(5, 9)], 100, AcquireMode::BatchOptimized, &l, 0)
        .is_empty());
    // Acknowledging the head moves the SPSO and opens the window.
    p.acknowledge(M1, &[AckBatch::all(0, 1, AckType::Accept)], &l, 0)
        .unwrap();
    assert_eq!(p.start_offset(), 2);
    assert_eq!(
        p.acquire(M2, &[(5, 9)], 100, AcquireMode::BatchOptimized, &l, 0),
        vec![r(5, 6, 1)]
    );
    assert_eq!(p.in_flight(), 5);
}

#[test]
fn offsets_between_batches_are_archived_gaps() {
    let mut p = SharePartition::new(0);
    assert_eq!(
        acq(&mut p, M1, &[(0, 1), (5, 6)], 0),
        vec![r(0, 1, 1), r(5, 6, 1)]
    );
    assert_eq!(p.record(3), Some(RecordView::Archived));
    ack(&mut p, M1, 0, 1, AckType::Accept).unwrap();
    assert_eq!(p.start_offset(), 5);
}

#[test]
fn accept_acknowledges_and_moves_the_start_offset() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 9)], 0);
    ack(&mut p, M1, 3, 5, AckType::Accept).unwrap();
    assert_eq!(p.start_offset(), 0, "0..2 are still acquired");
    assert_eq!(p.record(4), Some(RecordView::Acknowledged));
    ack(&mut p, M1, 0, 2, AckType::Accept).unwrap();
    assert_eq!(p.start_offset(), 6);
    ack(&mut p, M1, 6, 9, AckType::Gap).unwrap();
    assert_eq!(
        (p.start_offset(), p.end_offset(), p.in_flight()),
        (10, 9, 0)
    );
}

#[test]
fn release_makes_records_available_with_their_count() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 3)], 0);
    let t = ack(&mut p, M1, 1, 2, AckType::Release).unwrap();
    assert_eq!(t.released, 2);
    assert_eq!(
        p.record(1),
        Some(RecordView::Available { delivery_count: 1 })
    );
    assert_eq!(p.next_fetch_offset(), 1);
    assert_eq!(
        acq(&mut p, M2, &[(0, 3), (4, 4)], 0),
        vec![r(1, 2, 2), r(4, 4, 1)]
    );
}

#[test]
fn per_offset_types_apply_each_to_its_offset() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 3)], 0);
    let b = AckBatch {
        first_offset: 0,
        last_offset: 3,
        types: vec![
            AckType::Accept,
            AckType::Release,
            AckType::Reject,
            AckType::Gap,
        ],
    };
    let t = p.acknowledge(M1, &[b], &limits(), 0).unwrap();
    assert_eq!((t.released, t.archived, t.dead_letters), (1, 2, 0));
    assert_eq!(p.start_offset(), 1);
    assert_eq!(
        p.record(1),
        Some(RecordView::Available { delivery_count: 1 })
    );
    assert_eq!(p.record(2), Some(RecordView::Archived));
}

#[test]
fn acknowledging_what_the_member_does_not_hold_is_invalid_record_state() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 4)], 0);
    let e = ack(&mut p, M2, 0, 0, AckType::Accept).unwrap_err();
    assert_eq!(e.code(), 121);
    assert!(e.message().contains("another member"), "{e}");
    assert_eq!(
        ack(&mut p, M1, 5, 5, AckType::Accept).unwrap_err().code(),
        121
    );
    ack(&mut p, M1, 1, 1, AckType::Accept).unwrap();
    assert_eq!(
        ack(&mut p, M1, 1, 1, AckType::Accept).unwrap_err().code(),
        121
    );
    // All or nothing: the good first batch is not applied either.
    let e = p
        .acknowledge(
            M1,
            &[
                AckBatch::all(2, 2, AckType::Accept),
                AckBatch::all(1, 1, AckType::Accept),
            ],
            &limits(),
            0,
        )
        .unwrap_err();
    assert_eq!(e.code(), 121);
    assert!(matches!(p.record(2), Some(RecordView::Acquired { .. })));
    // A huge range is refused without walking it.
    assert_eq!(
        ack(&mut p, M1, 0, i64::MAX, AckType::Accept)
            .unwrap_err()
            .code(),
        121
    );
}

#[test]
fn an_expired_lock_cannot_be_acknowledged() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 0)], 0);
    let e = p
        .acknowledge(
            M1,
            &[AckBatch::all(0, 0, AckType::Accept)],
            &limits(),
            30_000,
        )
        .unwrap_err();
    assert_eq!(e.code(), 121);
    assert!(e.message().contains("expired"), "{e}");
}

#[test]
fn malformed_acknowledgements_are_invalid_request() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 4)], 0);
    let b = AckBatch {
        first_offset: 0,
        last_offset: 2,
        types: vec![AckType::Accept, AckType::Accept],
    };
    assert_eq!(
        p.acknowledge(M1, &[b], &limits(), 0).unwrap_err().code(),
        42
    );
    assert_eq!(
        ack(&mut p, M1, 3, 2, AckType::Accept).unwrap_err().code(),
        42
    );
    assert_eq!(p.acquired_by(M1), 5);
}

#[test]
fn renew_restarts_the_lock() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 1)], 0);
    let t = p
        .acknowledge(
            M1,
            &[AckBatch::all(0, 0, AckType::Renew)],
            &limits(),
            20_000,
        )
        .unwrap();
    assert_eq!(t, Transition::default());
    assert_eq!(
        p.expire_locks(&limits(), 30_000).released,
        1,
        "only offset 1 expires"
    );
    assert!(matches!(
        p.record(0),
        Some(RecordView::Acquired {
            deadline: 50_000,
            ..
        })
    ));
    assert_eq!(p.expire_locks(&limits(), 49_999).released, 0);
    assert_eq!(p.expire_locks(&limits(), 50_000).released, 1);
    assert_eq!(
        p.record(0),
        Some(RecordView::Available { delivery_count: 1 })
    );
    assert!(p.take_update().is_some());
}

#[test]
fn acquire_releases_expired_locks_first() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 1)], 0);
    assert!(acq(&mut p, M2, &[(0, 1)], 29_999).is_empty());
    assert_eq!(acq(&mut p, M2, &[(0, 1)], 30_000), vec![r(0, 1, 2)]);
}

#[test]
fn the_delivery_count_limit_archives_on_expiry_and_release() {
    let l = PartitionLimits {
        delivery_count_limit: 2,
        ..limits()
    };
    let mut p = SharePartition::new(0);
    p.acquire(M1, &[(0, 1)], 10, AcquireMode::BatchOptimized, &l, 0);
    assert_eq!(p.expire_locks(&l, 30_000).released, 2);
    let got = p.acquire(M1, &[(0, 1)], 10, AcquireMode::BatchOptimized, &l, 30_000);
    assert_eq!(got, vec![r(0, 1, 2)]);
    // Second delivery released: at the limit, archived (no DLQ configured).
    let t = p
        .acknowledge(M1, &[AckBatch::all(1, 1, AckType::Release)], &l, 30_000)
        .unwrap();
    assert_eq!((t.released, t.archived), (0, 1));
    let t = p.expire_locks(&l, 60_000);
    assert_eq!((t.released, t.archived), (0, 1));
    assert_eq!(p.start_offset(), 2);
    assert!(p.take_dead_letters().is_empty());
}

#[test]
fn a_lowered_limit_archives_available_records_instead_of_acquiring() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 0)], 0);
    ack(&mut p, M1, 0, 0, AckType::Release).unwrap();
    acq(&mut p, M1, &[(0, 0)], 0);
    ack(&mut p, M1, 0, 0, AckType::Release).unwrap();
    let l = PartitionLimits {
        delivery_count_limit: 2,
        ..dlq()
    };
    assert!(p
        .acquire(M1, &[(0, 0)], 10, AcquireMode::BatchOptimized, &l, 0)
        .is_empty());
    assert_eq!(
        p.record(0),
        Some(RecordView::DeadLetterPending { delivery_count: 2 })
    );
}

#[test]
fn release_member_releases_only_its_records() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 2)], 0);
    acq(&mut p, M2, &[(3, 4)], 0);
    assert_eq!(p.release_member(M1, &limits()).released, 3);
    assert_eq!(p.acquired_by(M2), 2);
    assert_eq!(p.next_fetch_offset(), 0);
}

#[test]
fn reject_and_count_limit_make_dead_letters_offered_once_until_confirmed() {
    let l = PartitionLimits {
        delivery_count_limit: 2,
        ..dlq()
    };
    let mut p = SharePartition::new(0);
    p.acquire(M1, &[(0, 3)], 10, AcquireMode::BatchOptimized, &l, 0);
    let t = p
        .acknowledge(M1, &[AckBatch::all(0, 0, AckType::Reject)], &l, 0)
        .unwrap();
    assert_eq!(t.dead_letters, 1);
    p.acknowledge(M1, &[AckBatch::all(1, 1, AckType::Release)], &l, 0)
        .unwrap();
    p.acquire(M1, &[(1, 1)], 10, AcquireMode::BatchOptimized, &l, 0);
    p.acknowledge(M1, &[AckBatch::all(1, 1, AckType::Release)], &l, 0)
        .unwrap();
    p.acknowledge(M1, &[AckBatch::all(2, 3, AckType::Accept)], &l, 0)
        .unwrap();
    assert_eq!(p.start_offset(), 0, "pending dead letters hold the SPSO");
    let offered = p.take_dead_letters();
    assert_eq!(
        offered,
        vec![
            DeadLetterCandidate {
                offset: 0,
                delivery_count: 1,
                reason: Some(DeadLetterReason::Rejected),
                maybe_copied: false
            },
            DeadLetterCandidate {
                offset: 1,
                delivery_count: 2,
                reason: Some(DeadLetterReason::DeliveryCountExceeded),
                maybe_copied: false
            },
        ]
    );
    assert!(p.take_dead_letters().is_empty(), "offered once");
    p.abandon_dead_letters(&[1]);
    let again = p.take_dead_letters();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].offset, again[0].maybe_copied), (1, true));
    assert_eq!(p.confirm_dead_letters(&[0, 1]), 2);
    assert_eq!(p.confirm_dead_letters(&[0, 1]), 0, "idempotent");
    assert_eq!(p.start_offset(), 4);
    assert!(p.take_dead_letters().is_empty());
}

#[test]
fn updates_carry_the_dirty_records_and_the_start_offset() {
    let mut p = SharePartition::new(0);
    let first = p.take_update().unwrap();
    assert_eq!((first.start_offset, first.batches.len()), (0, 0));
    acq(&mut p, M1, &[(0, 9)], 0);
    assert_eq!(p.take_update(), None, "acquiring alone is not persisted");
    ack(&mut p, M1, 4, 5, AckType::Accept).unwrap();
    ack(&mut p, M1, 7, 7, AckType::Release).unwrap();
    let u = p.take_update().unwrap();
    let b = |f, l, state, c| StateBatch {
        first_offset: f,
        last_offset: l,
        state,
        delivery_count: c,
    };
    assert_eq!(u.start_offset, 0);
    assert_eq!(
        u.batches,
        vec![
            b(4, 5, DeliveryState::Acknowledged, 1),
            b(7, 7, DeliveryState::Available, 1)
        ]
    );
    assert_eq!(u.delivery_complete_count, 2);
    ack(&mut p, M1, 0, 3, AckType::Accept).unwrap();
    let u = p.take_update().unwrap();
    assert_eq!(
        (u.start_offset, u.batches.len()),
        (6, 0),
        "0..5 are below the SPSO"
    );
    // The snapshot shows acquired records as Available with their count.
    let s = p.snapshot();
    assert_eq!(s.batches, vec![b(6, 9, DeliveryState::Available, 1)]);
    assert_eq!(s.delivery_complete_count, 0);
}

#[test]
fn load_restores_the_persisted_form() {
    let mut p = SharePartition::new(10);
    p.acquire(M1, &[(10, 19)], 100, AcquireMode::BatchOptimized, &dlq(), 0);
    p.acknowledge(M1, &[AckBatch::all(12, 12, AckType::Accept)], &dlq(), 0)
        .unwrap();
    p.acknowledge(M1, &[AckBatch::all(13, 13, AckType::Reject)], &dlq(), 0)
        .unwrap();
    p.acknowledge(M1, &[AckBatch::all(14, 14, AckType::Release)], &dlq(), 0)
        .unwrap();
    let s = p.snapshot();
    let q = SharePartition::load(s.start_offset, &s.batches);
    assert_eq!((q.start_offset(), q.end_offset()), (10, 19));
    assert_eq!(
        q.record(11),
        Some(RecordView::Available { delivery_count: 1 })
    );
    assert_eq!(q.record(12), Some(RecordView::Acknowledged));
    assert_eq!(
        q.record(13),
        Some(RecordView::DeadLetterPending { delivery_count: 1 })
    );
    assert_eq!(
        q.record(14),
        Some(RecordView::Available { delivery_count: 1 })
    );
    assert_eq!(q.next_lock_deadline(), None);
    // Uncovered offsets of the window are Available, never delivered; batches below the SPSO
    // are ignored; a complete head moves the SPSO.
    let b = |f, l, state| StateBatch {
        first_offset: f,
        last_offset: l,
        state,
        delivery_count: 3,
    };
    let mut q = SharePartition::load(
        5,
        &[
            b(0, 6, DeliveryState::Acknowledged),
            b(9, 9, DeliveryState::Available),
        ],
    );
    assert_eq!((q.start_offset(), q.end_offset()), (7, 9));
    assert_eq!(
        q.record(8),
        Some(RecordView::Available { delivery_count: 0 })
    );
    assert_eq!(
        q.record(9),
        Some(RecordView::Available { delivery_count: 3 })
    );
    assert_eq!(q.take_update(), None, "nothing to persist after a load");
}

#[test]
fn log_start_advance_drops_records_below_it() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 9)], 0);
    p.advance_log_start(4);
    assert_eq!((p.start_offset(), p.end_offset()), (4, 9));
    assert_eq!(
        ack(&mut p, M1, 2, 2, AckType::Accept).unwrap_err().code(),
        121
    );
    p.advance_log_start(20);
    assert_eq!(
        (p.start_offset(), p.end_offset(), p.in_flight()),
        (20, 19, 0)
    );
    assert_eq!(p.take_update().unwrap().start_offset, 20);
}

#[test]
fn a_corrupt_huge_window_is_truncated_on_load() {
    let b = StateBatch {
        first_offset: 0,
        last_offset: i64::MAX,
        state: DeliveryState::Available,
        delivery_count: 1,
    };
    let p = SharePartition::load(0, &[b]);
    assert_eq!(p.in_flight(), MAX_LOADED_WINDOW);
}
