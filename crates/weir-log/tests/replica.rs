//! The follower side of replication: copying a leader's log with `append_replicated`, the
//! leader-epoch cache, `truncate_to` / `truncate_fully_and_start_at`, and reopening afterwards.

use std::path::Path;
use std::sync::Arc;

use weir_log::batch::{build_batch, set_partition_leader_epoch, validate_batch};
use weir_log::{LogConfig, LogError, LogManager, ManualClock, PartitionLog, TopicPartition};

fn batch(n: usize, tag: &str) -> Vec<u8> {
    let vals: Vec<Vec<u8>> = (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect();
    let recs: Vec<(Option<&[u8]>, &[u8])> = vals.iter().map(|v| (None, v.as_slice())).collect();
    build_batch(0, 1_000, &recs)
}

/// A batch as a leader stores it: `base` offset, stamped with `epoch`.
fn stored(base: i64, n: usize, epoch: i32) -> Vec<u8> {
    let mut b = batch(n, &format!("s{base}"));
    b[0..8].copy_from_slice(&base.to_be_bytes());
    set_partition_leader_epoch(&mut b, epoch);
    b
}

/// Make `b` an idempotent batch of producer `pid` (the CRC is recomputed).
fn idempotent(mut b: Vec<u8>, pid: i64, epoch: i16, first_seq: i32) -> Vec<u8> {
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&first_seq.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn small_segments() -> LogConfig {
    let mut c = LogConfig::default();
    c.set("segment.bytes", "1024").unwrap();
    c
}

fn open(dir: &Path, cfg: &LogConfig) -> (Arc<LogManager>, Arc<PartitionLog>) {
    let m = LogManager::open(dir, Arc::new(ManualClock::new(10_000))).unwrap();
    let l = m
        .get_or_create(&TopicPartition::new("t", 0), cfg.clone())
        .unwrap();
    (m, l)
}

/// Every file in the partition directory with a given extension, by name, with its bytes.
fn files(dir: &Path, ext: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("t-0"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(ext))
        .map(|n| {
            let bytes = std::fs::read(dir.join("t-0").join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    out.sort();
    out
}

/// Copy the leader's log from the follower's end offset on, `max_bytes` per "fetch", as a
/// fetcher would; `tail` extra bytes of the next batch are appended to each fetch (a partial
/// trailing batch, as a Fetch response may carry).
fn replicate(leader: &PartitionLog, follower: &PartitionLog, max_bytes: usize, tail: usize) {
    loop {
        let from = follower.log_end_offset();
        let end = leader.log_end_offset();
        if from >= end {
            return;
        }
        let mut bytes = leader
            .read(from, max_bytes, end)
            .unwrap()
            .records
            .to_bytes()
            .unwrap()
            .to_vec();
        let last = validate_last(&bytes);
        if last + 1 < end {
            let next = leader
                .read(last + 1, 1, end)
                .unwrap()
                .records
                .to_bytes()
                .unwrap();
            bytes.extend_from_slice(&next[..tail.min(next.len() - 1)]);
        }
        let r = follower.append_replicated(&bytes).unwrap();
        assert_eq!(r.last_offset, Some(last));
        assert_eq!(r.log_end_offset, last + 1);
        assert!(
            r.durable.is_some(),
            "flush.messages=1: the follower must wait for durability"
        );
    }
}

/// Last offset of the last whole batch in `bytes` (all whole).
fn validate_last(bytes: &[u8]) -> i64 {
    let mut pos = 0;
    let mut last = -1;
    while pos < bytes.len() {
        let h = weir_log::batch::check_integrity(&bytes[pos..]).unwrap();
        last = h.last_offset();
        pos += h.total_len;
    }
    last
}

/// Fill a leader: plain batches across epochs 0, 3 and 7, and two idempotent producers.
fn fill_leader(leader: &PartitionLog) {
    leader.assign_epoch(0, 0).unwrap();
    for i in 0..10 {
        leader.append(&batch(1 + i % 3, &format!("a{i}"))).unwrap();
    }
    leader.assign_epoch(3, leader.log_end_offset()).unwrap();
    for i in 0..12 {
        leader
            .append(&idempotent(batch(2, &format!("p{i}")), 42, 1, i * 2))
            .unwrap();
        leader.append(&batch(1, &format!("b{i}"))).unwrap();
    }
    leader.assign_epoch(7, leader.log_end_offset()).unwrap();
    for i in 0..8 {
        leader
            .append(&idempotent(batch(3, &format!("q{i}")), 43, 0, i * 3))
            .unwrap();
    }
    leader.set_high_watermark(leader.log_end_offset());
}

#[test]
fn a_follower_copy_is_byte_identical_with_epochs_and_producer_state() {
    for (max_bytes, tail) in [(1, 0), (300, 5), (700, 30), (1 << 20, 70)] {
        let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (lm, leader) = open(ld.path(), &small_segments());
        let (fm, follower) = open(fd.path(), &small_segments());
        fill_leader(&leader);
        replicate(&leader, &follower, max_bytes, tail);
        assert!(leader.segment_count() > 3);
        assert_eq!(follower.log_end_offset(), leader.log_end_offset());
        assert_eq!(follower.segment_count(), leader.segment_count());
        assert_eq!(files(fd.path(), ".log"), files(ld.path(), ".log"));
        assert_eq!(files(fd.path(), "index"), files(ld.path(), "index"));
        assert_eq!(follower.epoch_entries(), leader.epoch_entries());
        assert_eq!(follower.epoch_entries().len(), 3);
        for pid in [42, 43] {
            assert!(leader.producer_entry(pid).is_some());
            assert_eq!(follower.producer_entry(pid), leader.producer_entry(pid));
        }
        for e in [0, 3, 7, 5, 9, -1] {
            assert_eq!(
                follower.end_offset_for_epoch(e),
                leader.end_offset_for_epoch(e)
            );
        }
        // The copy survives a restart, clean or not, with its epochs and producers: every cached
        // batch (a snapshot keeps them all, where Kafka's keeps the last), so a producer's retry
        // of any of its last five batches is still answered as a duplicate.
        let last = |l: &PartitionLog| {
            let e = l.producer_entry(43).unwrap();
            assert_eq!(e.batches.len(), 5);
            (l.epoch_entries(), e)
        };
        let before = last(&follower);
        drop(follower);
        fm.shutdown().unwrap();
        drop(fm);
        let (fm, follower) = open(fd.path(), &small_segments());
        assert_eq!(follower.log_end_offset(), leader.log_end_offset());
        assert_eq!(last(&follower), before);
        drop(follower);
        drop(fm); // no shutdown: unclean
        let (_fm, follower) = open(fd.path(), &small_segments());
        assert_eq!(follower.log_end_offset(), leader.log_end_offset());
        assert_eq!(last(&follower), before);
        assert_eq!(files(fd.path(), ".log"), files(ld.path(), ".log"));
        drop(lm);
    }
}

#[test]
fn a_trailing_partial_batch_is_ignored() {
    let d = tempfile::tempdir().unwrap();
    let (m, log) = open(d.path(), &LogConfig::default());
    let mut records = stored(0, 2, 1);
    let next = stored(2, 3, 1);
    let r = log.append_replicated(&next[..7]).unwrap();
    assert_eq!((r.last_offset, r.log_end_offset), (None, 0));
    assert!(r.durable.is_none());
    assert!(log.append_replicated(&[]).unwrap().last_offset.is_none());
    records.extend_from_slice(&next[..next.len() - 1]);
    let r = log.append_replicated(&records).unwrap();
    assert_eq!((r.last_offset, r.log_end_offset), (Some(1), 2));
    m.wait_durable(r.durable.unwrap()).unwrap();
    let stored_bytes = log.read(0, 1 << 20, 2).unwrap().records.to_bytes().unwrap();
    assert_eq!(&stored_bytes[..], &stored(0, 2, 1)[..]);
    assert_eq!(validate_last(&stored_bytes), 1);
    let r = log.append_replicated(&next).unwrap();
    assert_eq!((r.last_offset, r.log_end_offset), (Some(4), 5));
}

#[test]
fn a_corrupt_batch_rejects_the_whole_append() {
    let d = tempfile::tempdir().unwrap();
    let (_m, log) = open(d.path(), &LogConfig::default());
    let mut records = stored(0, 2, 4);
    let mut bad = stored(2, 1, 5);
    let at = bad.len() - 2;
    bad[at] ^= 0x10;
    records.extend_from_slice(&bad);
    assert!(matches!(
        log.append_replicated(&records),
        Err(LogError::CorruptMessage(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
    assert!(log.epoch_entries().is_empty(), "no epoch recorded either");
    // A length field below the header size is corrupt too, not a partial batch.
    let mut short = stored(0, 1, 4);
    short[8..12].copy_from_slice(&20i32.to_be_bytes());
    assert!(matches!(
        log.append_replicated(&short),
        Err(LogError::CorruptMessage(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn batches_below_the_end_offset_or_out_of_order_are_rejected() {
    let d = tempfile::tempdir().unwrap();
    let (_m, log) = open(d.path(), &LogConfig::default());
    log.append_replicated(&stored(0, 5, 0)).unwrap();
    let mut records = stored(5, 1, 0);
    records.extend_from_slice(&stored(2, 2, 0));
    match log.append_replicated(&records) {
        Err(LogError::InvalidRecord(m)) => assert!(m.contains("2..=3"), "{m}"),
        other => panic!("expected InvalidRecord, got {other:?}"),
    }
    match log.append_replicated(&stored(1, 2, 0)) {
        Err(LogError::InvalidRecord(m)) => {
            assert!(m.contains("1..=2") && m.contains("log end offset 5"), "{m}")
        }
        other => panic!("expected InvalidRecord, got {other:?}"),
    }
    // Straddling the end offset of a non-empty log is also refused.
    assert!(log.append_replicated(&stored(4, 3, 0)).is_err());
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(log.size_bytes(), stored(0, 5, 0).len() as u64);
}

#[test]
fn gaps_from_a_compacted_leader_are_accepted() {
    let d = tempfile::tempdir().unwrap();
    let (m, log) = open(d.path(), &small_segments());
    let mut records = stored(0, 2, 0);
    records.extend_from_slice(&stored(100, 1, 0));
    records.extend_from_slice(&stored(150, 2, 1));
    let r = log.append_replicated(&records).unwrap();
    assert_eq!((r.last_offset, r.log_end_offset), (Some(151), 152));
    assert_eq!(log.epoch_entries(), vec![(0, 0), (1, 150)]);
    // A read inside a gap returns the next batch.
    let b = log.read(50, 1, 152).unwrap().records.to_bytes().unwrap();
    assert_eq!(validate_batch(&b).unwrap().base_offset, 100);
    // A gap wider than a segment's relative offsets can hold rolls a segment at the batch.
    let far = 3_000_000_000i64;
    let r = log.append_replicated(&stored(far, 2, 1)).unwrap();
    assert_eq!(r.log_end_offset, far + 2);
    assert_eq!(log.segment_count(), 2);
    assert!(d.path().join("t-0").join(format!("{far:020}.log")).exists());
    let b = log
        .read(200, 1, far + 2)
        .unwrap()
        .records
        .to_bytes()
        .unwrap();
    assert_eq!(validate_batch(&b).unwrap().base_offset, far);
    let b = log
        .read(far + 1, 1, far + 2)
        .unwrap()
        .records
        .to_bytes()
        .unwrap();
    assert_eq!(validate_batch(&b).unwrap().base_offset, far);
    drop(log);
    drop(m);
    let (_m, log) = open(d.path(), &small_segments());
    assert_eq!(log.log_end_offset(), far + 2);
    assert_eq!(log.epoch_entries(), vec![(0, 0), (1, 150)]);
}

#[test]
fn end_offset_for_epoch_follows_kafka() {
    let d = tempfile::tempdir().unwrap();
    let (_m, log) = open(d.path(), &LogConfig::default());
    assert_eq!(log.end_offset_for_epoch(0), (-1, -1), "empty cache");
    assert_eq!(log.end_offset_for_epoch(-1), (-1, -1));
    let mut records = stored(0, 10, 1);
    records.extend_from_slice(&stored(10, 10, 3));
    records.extend_from_slice(&stored(20, 5, 6));
    records.extend_from_slice(&stored(25, 5, 6));
    log.append_replicated(&records).unwrap();
    assert_eq!(log.epoch_entries(), vec![(1, 0), (3, 10), (6, 20)]);
    assert_eq!(log.latest_epoch(), Some(6));
    for (requested, expected) in [
        (-1, (-1, -1)),
        (0, (0, 0)),
        (1, (1, 10)),
        (2, (1, 10)),
        (3, (3, 20)),
        (4, (3, 20)),
        (5, (3, 20)),
        (6, (6, 30)),
        (7, (-1, -1)),
    ] {
        assert_eq!(
            log.end_offset_for_epoch(requested),
            expected,
            "epoch {requested}"
        );
    }
}

#[test]
fn truncate_fully_and_start_at_empties_the_log() {
    let d = tempfile::tempdir().unwrap();
    let (m, log) = open(d.path(), &small_segments());
    let ld = tempfile::tempdir().unwrap();
    let (_lm, leader) = open(ld.path(), &small_segments());
    fill_leader(&leader);
    replicate(&leader, &log, 1 << 20, 0);
    assert!(log.segment_count() > 1);
    log.set_high_watermark(log.log_end_offset());
    log.truncate_fully_and_start_at(500).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.high_watermark(),
            log.recovery_point()
        ),
        (500, 500, 500, 500)
    );
    assert_eq!(log.segment_count(), 1);
    assert!(log.epoch_entries().is_empty());
    assert!(log.producer_entry(42).is_none() && log.producer_entry(43).is_none());
    let names: Vec<String> = files(d.path(), "").into_iter().map(|(n, _)| n).collect();
    assert!(names.iter().all(|n| !n.ends_with(".snapshot")), "{names:?}");
    assert!(names.contains(&format!("{:020}.log", 500)), "{names:?}");
    let cp = std::fs::read_to_string(d.path().join("t-0").join("leader-epoch-checkpoint")).unwrap();
    assert_eq!(cp, "0\n0\n");
    assert!(log.read(499, 1, 500).is_err());
    let r = log
        .append_replicated(&idempotent(stored(500, 2, 9), 42, 1, 500))
        .unwrap();
    assert_eq!(r.log_end_offset, 502);
    assert_eq!(log.epoch_entries(), vec![(9, 500)]);
    assert_eq!(log.producer_entry(42).unwrap().batches.len(), 1);
    assert!(log.truncate_fully_and_start_at(-1).is_err());
    drop(log);
    drop(m);
    let (_m, log) = open(d.path(), &small_segments());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (500, 502));
    assert_eq!(log.epoch_entries(), vec![(9, 500)]);
    assert_eq!(log.producer_entry(42).unwrap().batches.len(), 1);
}

#[test]
fn an_empty_log_started_inside_a_batch_restarts_at_the_batch() {
    let d = tempfile::tempdir().unwrap();
    let (_m, log) = open(d.path(), &LogConfig::default());
    // The leader's log start (12) fell inside its batch 10..=14 (DeleteRecords).
    log.truncate_fully_and_start_at(12).unwrap();
    let r = log.append_replicated(&stored(10, 5, 2)).unwrap();
    assert_eq!((r.last_offset, r.log_end_offset), (Some(14), 15));
    assert_eq!(log.log_start_offset(), 10);
    assert_eq!(log.epoch_entries(), vec![(2, 10)]);
    // Not once the log holds data.
    assert!(log.append_replicated(&stored(13, 5, 2)).is_err());
}

#[test]
fn truncate_to_for_a_follower() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_lm, leader) = open(ld.path(), &small_segments());
    let (fm, log) = open(fd.path(), &small_segments());
    fill_leader(&leader);
    replicate(&leader, &log, 1 << 20, 0);
    let leo = log.log_end_offset();
    log.set_high_watermark(leo);
    // Batch boundaries of the first segment: (base, last).
    let bounds: Vec<(i64, i64)> = {
        let mut v = Vec::new();
        let mut off = 0;
        while off < leo {
            let b = log.read(off, 1, leo).unwrap().records.to_bytes().unwrap();
            let h = validate_batch(&b).unwrap();
            v.push((h.base_offset, h.last_offset()));
            off = h.next_offset();
        }
        v
    };
    let epochs = log.epoch_entries();
    let epoch3_start = epochs[1].1;

    // Into the middle of a batch of the first segment: the batch goes whole.
    let (b, l) = bounds[2];
    assert!(l > b, "batch 2 holds several records");
    log.truncate_to(b + 1).unwrap();
    assert_eq!(log.log_end_offset(), b);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.high_watermark(), b);
    assert_eq!(log.epoch_entries(), vec![(0, 0)]);
    assert!(log.producer_entry(42).is_none());
    assert_eq!(log.end_offset_for_epoch(0), (0, b));
    // Replication continues from there and ends identical to the leader.
    replicate(&leader, &log, 500, 3);
    assert_eq!(files(fd.path(), ".log"), files(ld.path(), ".log"));
    assert_eq!(log.epoch_entries(), epochs);
    assert_eq!(log.producer_entry(42), leader.producer_entry(42));

    // At an epoch boundary: the epoch starting there is dropped.
    log.truncate_to(epoch3_start).unwrap();
    assert_eq!(log.log_end_offset(), epoch3_start);
    assert_eq!(log.epoch_entries(), vec![(0, 0)]);
    replicate(&leader, &log, 1 << 20, 0);
    assert_eq!(log.epoch_entries(), epochs);

    // At or below the log start offset (DeleteRecords moved it inside the first segment).
    log.set_high_watermark(leo);
    let (b5, _) = bounds[5];
    assert_eq!(log.delete_records_before(b5).unwrap(), b5);
    log.truncate_to(b5).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (b5, b5));
    replicate(&leader, &log, 1 << 20, 0);
    log.set_high_watermark(leo);
    assert_eq!(log.delete_records_before(b5 + 1).unwrap(), b5 + 1);
    log.truncate_to(bounds[2].0).unwrap();
    assert!(log.log_start_offset() <= log.log_end_offset());
    assert_eq!(log.log_end_offset(), bounds[2].0);
    replicate(&leader, &log, 1 << 20, 0);
    assert_eq!(log.log_end_offset(), leo);

    // Below the first segment (retention deleted it): the log restarts at the offset.
    log.set_high_watermark(leo);
    let mut seg_bases: Vec<i64> = files(fd.path(), ".log")
        .iter()
        .map(|(n, _)| n.trim_end_matches(".log").parse().unwrap())
        .collect();
    seg_bases.sort();
    let second = seg_bases[1];
    log.delete_records_before(second).unwrap();
    assert_eq!(log.segment_count(), seg_bases.len() - 1);
    let below = bounds.iter().rev().find(|(b, _)| *b < second).unwrap().0;
    log.truncate_to(below).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.segment_count()
        ),
        (below, below, 1)
    );
    assert!(log.epoch_entries().is_empty());
    replicate(&leader, &log, 1 << 20, 0);
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(log.producer_entry(43), leader.producer_entry(43));
    assert!(log.truncate_to(-1).is_err());
    assert!(log.truncate_to(leo + 10).is_ok(), "past the end: no-op");
    assert_eq!(log.log_end_offset(), leo);

    // Reopen after the truncations (unclean): offsets, epochs and producers are kept.
    let epochs_now = log.epoch_entries();
    drop(log);
    drop(fm);
    let (_fm, log) = open(fd.path(), &small_segments());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (below, leo));
    assert_eq!(log.epoch_entries(), epochs_now);
    assert_eq!(log.producer_entry(43), leader.producer_entry(43));
}

#[test]
fn refused_on_a_deleted_partition() {
    let d = tempfile::tempdir().unwrap();
    let (m, log) = open(d.path(), &LogConfig::default());
    m.delete(&TopicPartition::new("t", 0)).unwrap();
    assert!(matches!(
        log.append_replicated(&stored(0, 1, 0)),
        Err(LogError::Deleted(_))
    ));
    assert!(matches!(log.truncate_to(0), Err(LogError::Deleted(_))));
    assert!(matches!(
        log.truncate_fully_and_start_at(5),
        Err(LogError::Deleted(_))
    ));
}

#[test]
fn an_epoch_past_the_recovered_end_is_dropped_at_open() {
    let d = tempfile::tempdir().unwrap();
    {
        let (_m, log) = open(d.path(), &LogConfig::default());
        log.append_replicated(&stored(0, 3, 1)).unwrap();
        log.append_replicated(&stored(3, 3, 2)).unwrap();
        assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 3)]);
    }
    // Simulate a crash that lost the second batch after its epoch was checkpointed.
    let seg = d.path().join("t-0").join("00000000000000000000.log");
    let keep = stored(0, 3, 1).len() as u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(keep + 4)
        .unwrap();
    let (_m, log) = open(d.path(), &LogConfig::default());
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(
        log.epoch_entries(),
        vec![(1, 0), (2, 3)],
        "an epoch starting at the end is kept"
    );
    drop(log);
    drop(_m);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(10)
        .unwrap();
    let (_m, log) = open(d.path(), &LogConfig::default());
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.epoch_entries(), vec![(1, 0)]);
}

/// A broker that led an epoch without writing keeps an epoch entry at its log end; truncating to
/// the log end (what a follower does when the leader says its logs diverge there) must drop it,
/// or the follower keeps reporting that epoch and never gets past the divergence check.
#[test]
fn truncating_to_the_end_drops_epochs_without_batches() {
    let d = tempfile::tempdir().unwrap();
    let (_m, log) = open(d.path(), &LogConfig::default());
    log.assign_epoch(0, 0).unwrap();
    log.append(&batch(3, "a")).unwrap();
    log.assign_epoch(4, 3).unwrap();
    assert_eq!(log.epoch_entries(), vec![(0, 0), (4, 3)]);
    assert_eq!(log.end_offset_for_epoch(0), (0, 3));
    log.truncate_to(3).unwrap();
    assert_eq!(log.log_end_offset(), 3, "no data removed");
    assert_eq!(log.epoch_entries(), vec![(0, 0)]);
    assert_eq!(log.latest_epoch(), Some(0));
}
