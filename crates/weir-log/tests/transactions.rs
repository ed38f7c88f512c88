//! The partition side of transactions: transactional batches, COMMIT/ABORT markers, the last
//! stable offset, `.txnindex` files in Kafka's format, READ_COMMITTED reads, recovery after an
//! unclean shutdown, follower truncation across a marker, and compaction of aborted data.

use std::path::Path;
use std::sync::Arc;

use weir_log::batch::{build_batch, validate_batch, BatchHeader};
use weir_log::txn_marker::{parse_marker, EndTxnMarker};
use weir_log::{
    AbortedTxn, LogConfig, LogError, LogManager, ManualClock, PartitionLog, TopicPartition,
    TxnMarker, TxnResult,
};

/// A batch of `n` records of producer `pid` (epoch `epoch`, first sequence `seq`), transactional
/// or not; `key` gives every record that key.
fn producer_batch(
    pid: i64,
    epoch: i16,
    seq: i32,
    n: usize,
    txn: bool,
    key: Option<&str>,
) -> Vec<u8> {
    let vals: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("{pid}-{seq}-{i}").into_bytes())
        .collect();
    let recs: Vec<(Option<&[u8]>, &[u8])> = vals
        .iter()
        .map(|v| (key.map(str::as_bytes), v.as_slice()))
        .collect();
    let mut b = build_batch(0, 1_000, &recs);
    b[21..23].copy_from_slice(&(if txn { 0x10i16 } else { 0 }).to_be_bytes());
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn txn_batch(pid: i64, seq: i32, n: usize) -> Vec<u8> {
    producer_batch(pid, 0, seq, n, true, None)
}

fn marker(pid: i64, result: TxnResult) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: 0,
        coordinator_epoch: 1,
        result,
        transaction_version: 1,
    }
}

fn open_cfg(dir: &Path, cfg: &LogConfig) -> (Arc<LogManager>, Arc<PartitionLog>) {
    let m = LogManager::open(dir, Arc::new(ManualClock::new(10_000))).unwrap();
    let l = m
        .get_or_create(&TopicPartition::new("t", 0), cfg.clone())
        .unwrap();
    (m, l)
}

fn open(dir: &Path) -> (Arc<LogManager>, Arc<PartitionLog>) {
    open_cfg(dir, &LogConfig::default())
}

fn small_segments() -> LogConfig {
    let mut c = LogConfig::default();
    c.set("segment.bytes", "400").unwrap();
    c
}

fn txnindex_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("t-0"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".txnindex"))
        .map(|n| {
            let bytes = std::fs::read(dir.join("t-0").join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    out.sort();
    out
}

fn kafka_entry(pid: i64, first: i64, last: i64, lso: i64) -> Vec<u8> {
    let mut b = vec![0u8, 0];
    for v in [pid, first, last, lso] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b
}

fn aborted(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: pid,
        first_offset: first,
        last_offset: last,
        last_stable_offset: lso,
    }
}

#[test]
fn commit_and_abort_markers_end_transactions_and_index_aborts_in_kafkas_format() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, log) = open(dir.path());
    log.append(&txn_batch(7, 0, 3)).unwrap(); // 0..=2
    log.append(&txn_batch(7, 3, 2)).unwrap(); // 3..=4
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(
        log.producer_entry(7).unwrap().current_txn_first_offset,
        Some(0)
    );
    assert_eq!(log.ongoing_transactions(), vec![(7, 0)]);
    assert_eq!(log.last_stable_offset(), 0);

    let r = log.append_txn_marker(&marker(7, TxnResult::Abort)).unwrap();
    assert_eq!((r.base_offset, r.last_offset), (5, 5));
    assert!(r.durable.is_some());
    assert!(log.ongoing_transactions().is_empty());
    // The marker is not below the high watermark yet: the transaction still bounds the LSO.
    assert_eq!(log.last_stable_offset(), 0);
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.last_stable_offset(), 6);

    // The stored marker is Kafka's control batch.
    let bytes = log.read(5, 1, 6).unwrap().records.to_bytes().unwrap();
    let h = validate_batch(&bytes).unwrap();
    assert_eq!(
        (h.attributes & 0x30, h.producer_id, h.base_sequence),
        (0x30, 7, -1)
    );
    assert_eq!(
        parse_marker(&bytes, &h).unwrap(),
        Some(EndTxnMarker {
            result: TxnResult::Abort,
            coordinator_epoch: 1
        })
    );
    let files = txnindex_files(dir.path());
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, "00000000000000000000.txnindex");
    assert_eq!(files[0].1, kafka_entry(7, 0, 5, 6));

    // A committed transaction leaves no entry.
    log.append(&txn_batch(7, 5, 1)).unwrap(); // 6
    log.append_txn_marker(&marker(7, TxnResult::Commit))
        .unwrap(); // 7
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.last_stable_offset(), 8);
    assert_eq!(txnindex_files(dir.path())[0].1.len(), 34);
    let e = log.producer_entry(7).unwrap();
    assert_eq!((e.coordinator_epoch, e.current_txn_first_offset), (1, None));
    assert_eq!(
        e.batches.back().unwrap().last_seq,
        5,
        "sequences continue across transactions"
    );
}

#[test]
fn the_last_stable_offset_follows_interleaved_producers_and_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, log) = open(dir.path());
    log.append(&build_batch(0, 1, &[(None, b"plain")])).unwrap(); // 0
    log.append(&txn_batch(1, 0, 2)).unwrap(); // 1..=2
    log.append(&txn_batch(2, 0, 2)).unwrap(); // 3..=4
    log.append(&txn_batch(1, 2, 1)).unwrap(); // 5
    log.set_high_watermark(1);
    assert_eq!(log.last_stable_offset(), 1, "bounded by the high watermark");
    log.set_high_watermark(6);
    assert_eq!(log.last_stable_offset(), 1);
    log.append_txn_marker(&marker(1, TxnResult::Commit))
        .unwrap(); // 6
    log.set_high_watermark(7);
    assert_eq!(log.last_stable_offset(), 3, "producer 2 is still ongoing");
    log.append(&txn_batch(1, 3, 1)).unwrap(); // 7: producer 1's next transaction
    log.append_txn_marker(&marker(2, TxnResult::Abort)).unwrap(); // 8
    log.set_high_watermark(9);
    assert_eq!(log.last_stable_offset(), 7);
    // The abort's last stable offset is producer 1's second transaction.
    assert_eq!(
        log.collect_aborted(0, 9).unwrap(),
        vec![aborted(2, 3, 8, 7)]
    );
    log.append_txn_marker(&marker(1, TxnResult::Abort)).unwrap(); // 9
    log.set_high_watermark(10);
    assert_eq!(log.last_stable_offset(), 10);
    assert_eq!(
        log.collect_aborted(0, 10).unwrap(),
        vec![aborted(2, 3, 8, 7), aborted(1, 7, 9, 10)]
    );
    // READ_COMMITTED reads stop at the LSO; the reads carry it.
    log.append(&txn_batch(2, 2, 1)).unwrap(); // 10, ongoing
    log.set_high_watermark(11);
    let (read, txns) = log.read_committed(0, 1 << 20).unwrap();
    assert_eq!(read.last_stable_offset, 10);
    let bytes = read.records.to_bytes().unwrap();
    let mut pos = 0;
    let mut last = -1;
    while pos < bytes.len() {
        let h = BatchHeader::parse(&bytes[pos..]).unwrap();
        last = h.last_offset();
        pos += h.total_len;
    }
    assert_eq!(last, 9, "nothing at or past the LSO");
    assert_eq!(txns.len(), 2);
    let (read, txns) = log.read_committed(10, 1 << 20).unwrap();
    assert_eq!(read.records.len, 0);
    assert!(txns.is_empty());
}

#[test]
fn invalid_transactional_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, log) = open(dir.path());
    log.append(&txn_batch(5, 0, 1)).unwrap();
    assert!(matches!(
        log.append(&producer_batch(5, 0, 1, 1, false, None)),
        Err(LogError::InvalidTxnState(_))
    ));
    // Clients cannot write control batches.
    let m = weir_log::txn_marker::build_marker_batch(
        0,
        1,
        -1,
        5,
        0,
        EndTxnMarker {
            result: TxnResult::Commit,
            coordinator_epoch: 0,
        },
    );
    assert!(matches!(log.append(&m), Err(LogError::InvalidRecord(_))));
    log.append_txn_marker(&TxnMarker {
        coordinator_epoch: 4,
        ..marker(5, TxnResult::Commit)
    })
    .unwrap();
    assert!(matches!(
        log.append_txn_marker(&TxnMarker {
            coordinator_epoch: 3,
            ..marker(5, TxnResult::Abort)
        }),
        Err(LogError::TransactionCoordinatorFenced(_))
    ));
    // A marker with a bumped epoch fences the old epoch's data.
    log.append_txn_marker(&TxnMarker {
        producer_epoch: 1,
        coordinator_epoch: 4,
        ..marker(5, TxnResult::Abort)
    })
    .unwrap();
    assert!(matches!(
        log.append(&producer_batch(5, 0, 2, 1, true, None)),
        Err(LogError::InvalidProducerEpoch(_))
    ));
    assert!(matches!(
        log.append_txn_marker(&TxnMarker {
            coordinator_epoch: 4,
            ..marker(5, TxnResult::Abort)
        }),
        Err(LogError::InvalidProducerEpoch(_))
    ));
    // Transaction version 2: a marker needs a newer epoch, except a retry with no transaction.
    let tv2 = TxnMarker {
        producer_epoch: 1,
        coordinator_epoch: 4,
        transaction_version: 2,
        ..marker(5, TxnResult::Commit)
    };
    log.append_txn_marker(&tv2).unwrap();
    log.append(&producer_batch(5, 1, 0, 1, true, None)).unwrap();
    assert!(matches!(
        log.append_txn_marker(&tv2),
        Err(LogError::InvalidProducerEpoch(_))
    ));
    // A marker for a producer that wrote nothing here is written, with no index entry.
    let before = log.log_end_offset();
    log.append_txn_marker(&marker(99, TxnResult::Abort))
        .unwrap();
    assert_eq!(log.log_end_offset(), before + 1);
    assert!(txnindex_files(dir.path()).is_empty());
    assert_eq!(log.producer_entry(99).unwrap().coordinator_epoch, 1);
}

/// Producer 1 aborts twice and commits once across several small segments; returns the
/// aborted entries as written.
fn fill_across_segments(log: &PartitionLog) -> Vec<AbortedTxn> {
    let mut seq = 0;
    let mut expected = Vec::new();
    for round in 0..3 {
        let first = log.log_end_offset();
        for _ in 0..3 {
            log.append(&txn_batch(1, seq, 2)).unwrap();
            seq += 2;
            log.append(&build_batch(0, 1, &[(None, b"plain record")]))
                .unwrap();
        }
        let result = if round == 1 {
            TxnResult::Commit
        } else {
            TxnResult::Abort
        };
        let r = log.append_txn_marker(&marker(1, result)).unwrap();
        if result == TxnResult::Abort {
            expected.push(aborted(1, first, r.base_offset, r.base_offset + 1));
        }
    }
    log.set_high_watermark(log.log_end_offset());
    expected
}

#[test]
fn aborted_transactions_are_collected_for_ranges_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, log) = open_cfg(dir.path(), &small_segments());
    let expected = fill_across_segments(&log);
    assert!(log.segment_count() > 3);
    let (a, c) = (expected[0], expected[1]);
    assert_eq!(
        log.collect_aborted(0, log.log_end_offset()).unwrap(),
        expected
    );
    assert_eq!(log.collect_aborted(0, a.first_offset + 1).unwrap(), vec![a]);
    assert_eq!(
        log.collect_aborted(a.last_offset, a.last_offset + 1)
            .unwrap(),
        vec![a]
    );
    assert!(log
        .collect_aborted(a.last_offset + 1, c.first_offset)
        .unwrap()
        .is_empty());
    assert_eq!(
        log.collect_aborted(c.first_offset + 3, c.first_offset + 4)
            .unwrap(),
        vec![c]
    );
    // Each entry lives in the segment of its marker.
    let files = txnindex_files(dir.path());
    assert_eq!(files.len(), 2);
    for (t, (name, bytes)) in expected.iter().zip(&files) {
        let base: i64 = name.trim_end_matches(".txnindex").parse().unwrap();
        assert!(
            base <= t.last_offset && t.first_offset < base,
            "{name}: {t:?}"
        );
        assert_eq!(
            bytes,
            &kafka_entry(1, t.first_offset, t.last_offset, t.last_stable_offset)
        );
    }
    // A READ_COMMITTED fetch of a few batches gets the aborts it overlaps.
    let (read, txns) = log.read_committed(a.first_offset, 200).unwrap();
    assert!(read.records.len > 0);
    assert_eq!(txns, vec![a]);
}

#[test]
fn an_unclean_restart_restores_ongoing_transactions_the_lso_and_the_aborted_index() {
    for lose_index in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (expected, lso, ongoing) = {
            let (m, log) = open_cfg(dir.path(), &small_segments());
            let expected = fill_across_segments(&log);
            log.append(&txn_batch(2, 0, 2)).unwrap(); // ongoing across the crash
            log.append(&txn_batch(1, 18, 1)).unwrap();
            log.set_high_watermark(log.log_end_offset());
            m.checkpoint().unwrap();
            let lso = log.last_stable_offset();
            (expected, lso, log.ongoing_transactions())
            // dropped without shutdown: unclean
        };
        assert_eq!(ongoing.len(), 2);
        if lose_index {
            // As if the crash lost every index entry written after the last snapshot.
            for (name, _) in txnindex_files(dir.path()) {
                std::fs::remove_file(dir.path().join("t-0").join(name)).unwrap();
            }
        }
        let (m, log) = open_cfg(dir.path(), &small_segments());
        assert!(!m.was_clean_shutdown());
        assert_eq!(log.ongoing_transactions(), ongoing);
        assert_eq!(log.last_stable_offset(), lso);
        let all = log.collect_aborted(0, log.log_end_offset()).unwrap();
        if lose_index {
            // Entries below the newest snapshot are trusted to be durable; those above it are
            // rebuilt.
            assert!(all.iter().all(|t| expected.contains(t)));
        } else {
            assert_eq!(all, expected);
        }
        // The ongoing transactions complete after the restart: producer 2's abort records
        // producer 1's ongoing transaction as the last stable offset.
        let first_of = |pid: i64| ongoing.iter().find(|o| o.0 == pid).unwrap().1;
        let r = log.append_txn_marker(&marker(2, TxnResult::Abort)).unwrap();
        assert_eq!(
            log.collect_aborted(r.base_offset, r.base_offset + 1)
                .unwrap(),
            vec![aborted(2, first_of(2), r.base_offset, first_of(1))]
        );
    }
}

#[test]
fn replay_from_log_start_rebuilds_every_index_entry_and_snapshots_keep_ongoing_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let (expected, ongoing) = {
        let (m, log) = open_cfg(dir.path(), &small_segments());
        let expected = fill_across_segments(&log);
        log.append(&txn_batch(3, 0, 1)).unwrap();
        m.checkpoint().unwrap();
        (expected, log.ongoing_transactions())
    };
    let part = dir.path().join("t-0");
    for e in std::fs::read_dir(&part).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".txnindex") || name.ends_with(".snapshot") {
            std::fs::remove_file(part.join(name)).unwrap();
        }
    }
    let (_m, log) = open_cfg(dir.path(), &small_segments());
    assert_eq!(
        log.collect_aborted(0, log.log_end_offset()).unwrap(),
        expected
    );
    assert_eq!(log.ongoing_transactions(), ongoing);
    let before: Vec<_> = txnindex_files(dir.path());
    assert_eq!(before.len(), 2);
}

#[test]
fn a_follower_truncated_across_a_marker_reopens_the_transaction_and_drops_its_entry() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_lm, leader) = open(ld.path());
    let (_fm, follower) = open(fd.path());
    leader.append(&txn_batch(4, 0, 2)).unwrap(); // 0..=1
    leader.append(&build_batch(0, 1, &[(None, b"x")])).unwrap(); // 2
    leader
        .append_txn_marker(&marker(4, TxnResult::Abort))
        .unwrap(); // 3
    leader.append(&txn_batch(4, 2, 1)).unwrap(); // 4
    leader.set_high_watermark(leader.log_end_offset());
    let all = leader
        .read(0, 1 << 20, 5)
        .unwrap()
        .records
        .to_bytes()
        .unwrap();
    follower.append_replicated(&all).unwrap();
    follower.set_high_watermark(5);
    assert_eq!(follower.producer_entry(4), leader.producer_entry(4));
    assert_eq!(follower.ongoing_transactions(), vec![(4, 4)]);
    assert_eq!(txnindex_files(fd.path()), txnindex_files(ld.path()));
    assert_eq!(follower.last_stable_offset(), 4);

    follower.truncate_to(3).unwrap();
    assert_eq!(follower.log_end_offset(), 3);
    assert_eq!(follower.ongoing_transactions(), vec![(4, 0)]);
    assert_eq!(follower.last_stable_offset(), 0);
    assert!(follower.collect_aborted(0, 10).unwrap().is_empty());
    assert_eq!(txnindex_files(fd.path())[0].1.len(), 0);

    // Fetching again restores the same state and the same index bytes.
    let rest = leader
        .read(3, 1 << 20, 5)
        .unwrap()
        .records
        .to_bytes()
        .unwrap();
    follower.append_replicated(&rest).unwrap();
    follower.set_high_watermark(5);
    assert_eq!(txnindex_files(fd.path()), txnindex_files(ld.path()));
    assert_eq!(follower.producer_entry(4), leader.producer_entry(4));
    assert_eq!(follower.last_stable_offset(), leader.last_stable_offset());

    follower.truncate_fully_and_start_at(5).unwrap();
    assert!(txnindex_files(fd.path()).is_empty());
    assert!(follower.ongoing_transactions().is_empty());
}

#[test]
fn compaction_removes_aborted_records_keeps_markers_and_never_passes_the_lso() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_segments();
    cfg.set("cleanup.policy", "compact").unwrap();
    let (m, log) = open_cfg(dir.path(), &cfg);
    log.append(&producer_batch(-1, -1, -1, 1, false, Some("k")))
        .unwrap(); // 0: committed "k"
    log.append(&producer_batch(8, 0, 0, 1, true, Some("k")))
        .unwrap(); // 1: aborted "k"
    log.append_txn_marker(&marker(8, TxnResult::Abort)).unwrap(); // 2
    for i in 0..12 {
        log.append(&producer_batch(
            -1,
            -1,
            -1,
            1,
            false,
            Some(&format!("z{i}")),
        ))
        .unwrap(); // 3..=14
    }
    log.append(&producer_batch(9, 0, 0, 1, true, Some("k")))
        .unwrap(); // 15: ongoing
    for i in 0..12 {
        log.append(&producer_batch(
            -1,
            -1,
            -1,
            1,
            false,
            Some(&format!("y{i}")),
        ))
        .unwrap();
    }
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.last_stable_offset(), 15);
    m.run_maintenance().unwrap();
    let bytes = log.read(0, 1 << 20, 3).unwrap().records.to_bytes().unwrap();
    let mut offsets = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let h = BatchHeader::parse(&bytes[pos..]).unwrap();
        offsets.push((h.base_offset, h.attributes & 0x30));
        pos += h.total_len;
    }
    assert_eq!(
        offsets,
        vec![(0, 0), (2, 0x30)],
        "the aborted record is gone, the committed one it would shadow and the marker stay"
    );
    assert_eq!(log.ongoing_transactions(), vec![(9, 15)]);
    let ongoing = log.read(15, 1, 16).unwrap().records.to_bytes().unwrap();
    assert_eq!(
        validate_batch(&ongoing).unwrap().base_offset,
        15,
        "undecided data is not cleaned"
    );
}

/// A coordinator's transactional batches (base sequence -1, Kafka's `AppendOrigin.COORDINATOR`)
/// are appended every time, transaction after transaction; a stale producer epoch is refused.
#[test]
fn coordinator_appends_skip_sequence_checks_but_fence_stale_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, log) = open(dir.path());
    let batch = |epoch: i16| producer_batch(7, epoch, -1, 2, true, Some("k"));
    let first = log.append_as_coordinator(&batch(1)).unwrap();
    log.append_txn_marker(&TxnMarker {
        producer_epoch: 1,
        ..marker(7, TxnResult::Commit)
    })
    .unwrap();
    let second = log.append_as_coordinator(&batch(1)).unwrap();
    assert_eq!((first.base_offset, second.base_offset), (0, 3));
    // The client path takes the same batch for a retry (answered with the cached offsets).
    assert_eq!(log.append(&batch(1)).unwrap().base_offset, 0);
    assert_eq!(log.log_end_offset(), 5);
    assert!(matches!(
        log.append_as_coordinator(&batch(0)),
        Err(LogError::InvalidProducerEpoch(_))
    ));
    assert_eq!(log.log_end_offset(), 5);
}
