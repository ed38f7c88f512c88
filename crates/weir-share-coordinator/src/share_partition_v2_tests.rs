//! Tests of the [`SharePartition`] behaviour behind ShareFetch / ShareAcknowledge v2: KIP-1222
//! Renew (and `share.renew.acknowledge.enable`) and the KIP-1206 record_limit acquire mode.

use crate::*;

const M1: &str = "m1";
const M2: &str = "m2";

fn limits() -> PartitionLimits {
    PartitionLimits::default()
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

#[test]
fn renew_keeps_the_delivery_count_and_outlives_the_original_lock() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 0)], 0);
    // Renewed twice before the 30 s lock ends: held at 55 s, still delivery 1.
    for now in [20_000, 40_000] {
        p.acknowledge(M1, &[AckBatch::all(0, 0, AckType::Renew)], &limits(), now)
            .unwrap();
    }
    assert!(
        acq(&mut p, M2, &[(0, 0)], 55_000).is_empty(),
        "not redelivered"
    );
    assert_eq!(
        p.record(0),
        Some(RecordView::Acquired {
            member: M1.to_string(),
            deadline: 70_000,
            delivery_count: 1,
        })
    );
    // Then accepted by its holder.
    p.acknowledge(
        M1,
        &[AckBatch::all(0, 0, AckType::Accept)],
        &limits(),
        60_000,
    )
    .unwrap();
    assert_eq!(p.start_offset(), 1);
}

#[test]
fn renew_of_a_record_not_held_by_the_member_is_invalid_record_state() {
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 1)], 0);
    let e = p
        .acknowledge(M2, &[AckBatch::all(0, 0, AckType::Renew)], &limits(), 1)
        .unwrap_err();
    assert_eq!(e.code(), 121, "{e:?}");
    // Nor an expired lock, nor a record never acquired.
    assert_eq!(
        p.acknowledge(
            M1,
            &[AckBatch::all(0, 0, AckType::Renew)],
            &limits(),
            30_000
        )
        .unwrap_err()
        .code(),
        121
    );
    assert_eq!(
        p.acknowledge(M1, &[AckBatch::all(5, 5, AckType::Renew)], &limits(), 1)
            .unwrap_err()
            .code(),
        121
    );
    // The failed renewal changed nothing: offset 0's lock still ends at 30 s.
    assert!(matches!(
        p.record(0),
        Some(RecordView::Acquired {
            deadline: 30_000,
            ..
        })
    ));
}

#[test]
fn renew_is_refused_when_the_group_disables_it() {
    let l = PartitionLimits {
        renew_enabled: false,
        ..limits()
    };
    let mut p = SharePartition::new(0);
    acq(&mut p, M1, &[(0, 1)], 0);
    let e = p
        .acknowledge(
            M1,
            &[AckBatch {
                first_offset: 0,
                last_offset: 1,
                types: vec![AckType::Accept, AckType::Renew],
            }],
            &l,
            1,
        )
        .unwrap_err();
    assert_eq!(e.code(), 121, "{e:?}");
    // All or nothing: the Accept of offset 0 was not applied either.
    assert_eq!(p.acquired_by(M1), 2);
    p.acknowledge(M1, &[AckBatch::all(0, 1, AckType::Accept)], &l, 1)
        .unwrap();
}

#[test]
fn record_limit_never_exceeds_max_records_across_many_batches() {
    let mut p = SharePartition::new(0);
    let batches: Vec<(i64, i64)> = (0..10).map(|i| (i * 7, i * 7 + 6)).collect();
    let mut total = 0;
    for (i, m) in [M1, M2, M1, M2].iter().enumerate() {
        let got = p.acquire(m, &batches, 5, AcquireMode::RecordLimit, &limits(), 0);
        let n: i64 = got.iter().map(|r| r.last_offset - r.first_offset + 1).sum();
        assert_eq!(n, 5, "fetch {i}: {got:?}");
        total += n;
    }
    assert_eq!(
        p.end_offset(),
        total - 1,
        "nothing acquired beyond the limit"
    );
    // batch_optimized completes the batch the limit falls in: 20..=27 for a limit of 5.
    let got = p.acquire(M1, &batches, 5, AcquireMode::BatchOptimized, &limits(), 0);
    assert_eq!(got, vec![r(20, 27, 1)]);
}
