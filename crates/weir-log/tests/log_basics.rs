//! Append / read / restart / recovery / corruption behaviour of real log directories.

use std::sync::Arc;

use weir_log::batch::{build_batch, build_batch_timed, validate_batch, TimedRecord};
use weir_log::{LogConfig, LogError, LogManager, ManualClock, PartitionLog, TopicPartition};

fn batch(n: usize, tag: &str) -> Vec<u8> {
    let vals: Vec<Vec<u8>> = (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect();
    let recs: Vec<(Option<&[u8]>, &[u8])> = vals.iter().map(|v| (None, v.as_slice())).collect();
    build_batch(0, 1_000, &recs)
}

/// A manager on `dir` with a manual clock at `now_ms`, and partition `t-0` opened with `cfg`.
fn open_t0(
    dir: &std::path::Path,
    now_ms: i64,
    cfg: LogConfig,
) -> (Arc<LogManager>, Arc<PartitionLog>) {
    let m = LogManager::open(dir, Arc::new(ManualClock::new(now_ms))).unwrap();
    let log = m.get_or_create(&TopicPartition::new("t", 0), cfg).unwrap();
    (m, log)
}

fn small_segments() -> LogConfig {
    let mut c = LogConfig::default();
    c.set("segment.bytes", "1024").unwrap();
    c
}

#[test]
fn append_assigns_offsets_and_reads_back_across_restart_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(10_000));
    let tp = TopicPartition::new("t", 0);
    let mut expected = Vec::new();
    {
        let m = LogManager::open(dir.path(), clock.clone()).unwrap();
        let log = m.get_or_create(&tp, small_segments()).unwrap();
        for i in 0..50 {
            let r = log.append(&batch(3, &format!("b{i}"))).unwrap();
            assert_eq!(r.base_offset, i * 3);
            m.wait_durable(r.durable.unwrap()).unwrap();
            log.set_high_watermark(r.last_offset + 1);
            expected.push(r.base_offset);
        }
        assert!(log.segment_count() > 3, "segment.bytes=1024 must roll");
        m.shutdown().unwrap();
    }
    assert!(dir
        .path()
        .join("t-0")
        .join("00000000000000000000.log")
        .exists());
    assert!(dir.path().join(weir_log::CLEAN_SHUTDOWN_FILE).exists());
    let m = LogManager::open(dir.path(), clock).unwrap();
    let log = m.get_or_create(&tp, small_segments()).unwrap();
    assert_eq!(log.log_end_offset(), 150);
    assert_eq!(log.high_watermark(), 150);
    for &off in &expected {
        for o in off..off + 3 {
            let r = log.read(o, 1, 150).unwrap();
            let bytes = r.records.to_bytes().unwrap();
            let h = validate_batch(&bytes).unwrap();
            assert_eq!(h.base_offset, off);
            assert_eq!(
                h.total_len,
                bytes.len(),
                "max_bytes=1 still returns exactly one batch"
            );
        }
    }
    assert!(matches!(
        log.read(151, 100, 150),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.read(150, 100, 150).unwrap().records.len, 0);
}

#[test]
fn invalid_batches_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, log) = open_t0(dir.path(), 0, LogConfig::default());
    let good = batch(2, "g");
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let mut both = good.clone();
    both.extend_from_slice(&bad);
    assert!(matches!(
        log.append(&both),
        Err(LogError::CorruptMessage(_))
    ));
    assert!(matches!(
        log.append(&good[..good.len() - 3]),
        Err(LogError::CorruptMessage(_))
    ));
    let mut cfg = LogConfig::default();
    cfg.set("max.message.bytes", "20").unwrap();
    log.update_config(cfg);
    assert!(matches!(
        log.append(&good),
        Err(LogError::MessageTooLarge { .. })
    ));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn torn_tail_is_truncated_and_garbage_index_rebuilt_after_unclean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let tp = TopicPartition::new("t", 0);
    {
        let m = LogManager::open(dir.path(), Arc::new(ManualClock::new(0))).unwrap();
        let log = m.get_or_create(&tp, LogConfig::default()).unwrap();
        for i in 0..5 {
            let r = log.append(&batch(2, &format!("x{i}"))).unwrap();
            m.wait_durable(r.durable.unwrap()).unwrap();
        }
        // no shutdown: simulate a crash
    }
    let seg = dir.path().join("t-0").join("00000000000000000000.log");
    let len = std::fs::metadata(&seg).unwrap().len();
    // tear the last batch and scribble on the index
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    std::fs::write(
        dir.path().join("t-0").join("00000000000000000000.index"),
        b"not an index at all",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("recovery-point-offset-checkpoint"),
        b"garbage",
    )
    .unwrap();
    let m = LogManager::open(dir.path(), Arc::new(ManualClock::new(0))).unwrap();
    let log = m.get_or_create(&tp, LogConfig::default()).unwrap();
    assert_eq!(
        log.log_end_offset(),
        8,
        "the torn 5th batch is dropped, the first 4 kept"
    );
    for o in 0..8 {
        let b = log.read(o, 1 << 20, 8).unwrap().records.to_bytes().unwrap();
        assert!(validate_batch(&b).is_ok());
    }
    let r = log.append(&batch(1, "after")).unwrap();
    assert_eq!(r.base_offset, 8);
}

#[test]
fn retention_and_delete_records_move_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let m = LogManager::open(dir.path(), clock.clone()).unwrap();
    let mut cfg = small_segments();
    cfg.set("retention.ms", "60000").unwrap();
    let log = m.get_or_create(&TopicPartition::new("t", 0), cfg).unwrap();
    for i in 0..40 {
        let r = log.append(&batch(2, &format!("r{i}"))).unwrap();
        log.set_high_watermark(r.last_offset + 1);
    }
    let before = log.segment_count();
    assert!(before > 2);
    assert_eq!(log.delete_records_before(5).unwrap(), 5);
    assert!(log.read(4, 100, 80).is_err());
    assert!(log.delete_records_before(81).is_err());
    clock.advance(10 * 60_000); // batches have timestamp 1000: all are old now
    m.run_maintenance().unwrap();
    assert_eq!(log.segment_count(), 1, "all but the active segment deleted");
    assert!(log.log_start_offset() > 5);
    let cp = std::fs::read_to_string(dir.path().join("log-start-offset-checkpoint")).unwrap();
    assert!(cp.starts_with("0\n1\nt 0 "), "{cp}");
}

/// Several batches in one append: each gets its own base offset and the leader epoch in its
/// header, the bodies arrive unchanged (CRC still valid), and with LogAppendTime the timestamp
/// type and max timestamp are rewritten (CRC recomputed).
#[test]
fn a_multi_batch_append_patches_every_header_and_keeps_bodies() {
    for append_time in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(77_000));
        let m = LogManager::open(dir.path(), clock).unwrap();
        let mut cfg = LogConfig::default();
        if append_time {
            cfg.set("message.timestamp.type", "LogAppendTime").unwrap();
        }
        let log = m.get_or_create(&TopicPartition::new("t", 0), cfg).unwrap();
        log.assign_epoch(5, 0).unwrap();
        log.append(&batch(2, "first")).unwrap();
        let (a, b) = (batch(3, "a"), batch(4, "b"));
        let both = [a.clone(), b.clone()].concat();
        let r = log.append(&both).unwrap();
        assert_eq!((r.base_offset, r.last_offset), (2, 8));
        m.wait_durable(r.durable.unwrap()).unwrap();
        let read = log.read(2, 1 << 20, 9).unwrap().records.to_bytes().unwrap();
        assert_eq!(read.len(), both.len());
        let ha = validate_batch(&read).unwrap();
        let hb = validate_batch(&read[ha.total_len..]).unwrap();
        assert_eq!((ha.base_offset, hb.base_offset), (2, 5));
        for (h, raw, at) in [(&ha, &a, 0), (&hb, &b, ha.total_len)] {
            assert_eq!(h.partition_leader_epoch, 5);
            assert_eq!(h.attributes & 0x08 != 0, append_time);
            assert_eq!(h.max_timestamp, if append_time { 77_000 } else { 1_000 });
            // Record bodies (after the 61-byte header) are the producer's bytes.
            assert_eq!(&read[at + 61..at + h.total_len], &raw[61..]);
        }
    }
}

/// More batches in one append than one `writev` takes (IOV_MAX = 1024 buffers, two per batch;
/// passing more is EINVAL): all are stored, in order, with consecutive offsets.
#[test]
fn an_append_of_more_batches_than_one_writev_takes_stores_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let (m, log) = open_t0(dir.path(), 5_000, LogConfig::default());
    let many: Vec<u8> = (0..700).flat_map(|i| batch(1, &format!("m{i}"))).collect();
    let r = log.append(&many).unwrap();
    assert_eq!((r.base_offset, r.last_offset), (0, 699));
    m.wait_durable(r.durable.unwrap()).unwrap();
    let read = log
        .read(0, 1 << 24, 700)
        .unwrap()
        .records
        .to_bytes()
        .unwrap();
    assert_eq!(read.len(), many.len());
    let mut pos = 0;
    for i in 0..700 {
        let h = validate_batch(&read[pos..]).unwrap();
        assert_eq!(h.base_offset, i);
        pos += h.total_len;
    }
}

/// An empty `cleanup.policy` (Kafka 4.x): neither time nor size retention deletes anything, but
/// DeleteRecords still moves the log start offset.
#[test]
fn an_empty_cleanup_policy_keeps_everything_retention_would_delete() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let m = LogManager::open(dir.path(), clock.clone()).unwrap();
    let mut cfg = small_segments();
    cfg.set("retention.ms", "60000").unwrap();
    cfg.set("retention.bytes", "1").unwrap();
    cfg.set("cleanup.policy", "").unwrap();
    let log = m.get_or_create(&TopicPartition::new("t", 0), cfg).unwrap();
    for i in 0..40 {
        let r = log.append(&batch(2, &format!("r{i}"))).unwrap();
        log.set_high_watermark(r.last_offset + 1);
    }
    let before = log.segment_count();
    assert!(before > 2);
    clock.advance(10 * 60_000);
    m.run_maintenance().unwrap();
    assert_eq!(log.segment_count(), before, "no retention without delete");
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.delete_records_before(5).unwrap(), 5);
}

/// ListOffsets by timestamp and MAX_TIMESTAMP are exact to the record, as Kafka: the batch is
/// found by its max timestamp, then its records are scanned.
#[test]
fn timestamp_lookups_answer_the_exact_record() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, log) = open_t0(dir.path(), 0, LogConfig::default());
    let rec = |ts| -> TimedRecord<'static> { (ts, Some(&b"k"[..]), Some(&b"v"[..])) };
    // Offsets 0..=3 and 4..=6.
    log.append(&build_batch_timed(
        0,
        &[rec(100), rec(200), rec(500), rec(300)],
    ))
    .unwrap();
    log.append(&build_batch_timed(0, &[rec(400), rec(500), rec(450)]))
        .unwrap();
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 100)));
    assert_eq!(log.offset_for_timestamp(150).unwrap(), Some((1, 200)));
    assert_eq!(log.offset_for_timestamp(201).unwrap(), Some((2, 500)));
    assert_eq!(log.offset_for_timestamp(500).unwrap(), Some((2, 500)));
    assert_eq!(log.offset_for_timestamp(501).unwrap(), None);
    assert_eq!(
        log.max_timestamp().unwrap(),
        Some((500, 2)),
        "the first record holding the max timestamp, not its batch's last offset"
    );
    // Below the log start offset nothing is answered.
    log.set_high_watermark(7);
    log.delete_records_before(2).unwrap();
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((2, 500)));
    assert_eq!(log.offset_for_timestamp(350).unwrap(), Some((2, 500)));
}
