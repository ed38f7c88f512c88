//! Partition logs behind a small segment-file cache (`log.max.open.files`): reads, appends and
//! crash recovery while files are evicted and reopened.

use std::sync::Arc;

use weir_log::batch::build_batch;
use weir_log::{LogConfig, LogManager, ManualClock, PartitionLog, TopicPartition};

fn batch(tag: &str) -> Vec<u8> {
    let vals: Vec<Vec<u8>> = (0..3).map(|i| format!("{tag}-{i}").into_bytes()).collect();
    let recs: Vec<(Option<&[u8]>, &[u8])> = vals.iter().map(|v| (None, v.as_slice())).collect();
    build_batch(0, 1_000, &recs)
}

fn small_segments() -> LogConfig {
    let mut c = LogConfig::default();
    c.set("segment.bytes", "1024").unwrap();
    c
}

fn append(m: &LogManager, log: &PartitionLog, tag: &str) -> i64 {
    let r = log.append(&batch(tag)).unwrap();
    m.wait_durable(r.durable.unwrap()).unwrap();
    log.set_high_watermark(r.last_offset + 1);
    r.base_offset
}

/// Every batch of `log` from offset 0, as bytes, one read per batch.
fn read_batches(log: &PartitionLog) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < log.log_end_offset() {
        let r = log.read(off, 1, i64::MAX).unwrap();
        let bytes = r.records.to_bytes().unwrap();
        assert!(!bytes.is_empty(), "offset {off}");
        let h = weir_log::batch::validate_batch(&bytes).unwrap();
        off = h.next_offset();
        out.push(bytes.to_vec());
    }
    out
}

#[test]
fn reads_of_evicted_segments_return_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(10_000));
    let m = LogManager::open_with_limit(dir.path(), clock, 2).unwrap();
    let logs: Vec<_> = (0..4)
        .map(|p| {
            m.get_or_create(&TopicPartition::new("t", p), small_segments())
                .unwrap()
        })
        .collect();
    for i in 0..40 {
        for (p, log) in logs.iter().enumerate() {
            append(&m, log, &format!("p{p}-b{i}"));
        }
    }
    assert!(logs[0].segment_count() > 3);
    let first: Vec<_> = logs.iter().map(|l| read_batches(l)).collect();
    let evictions = m.open_files().evictions();
    let second: Vec<_> = logs.iter().map(|l| read_batches(l)).collect();
    assert_eq!(first, second);
    assert!(
        m.open_files().evictions() > evictions,
        "files were evicted and reopened"
    );
    assert!(m.open_files().open_files() <= 2);
    for (p, batches) in first.iter().enumerate() {
        assert_eq!(batches.len(), 40);
        for (i, b) in batches.iter().enumerate() {
            let needle = format!("p{p}-b{i}-0");
            assert!(
                b.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "partition {p} batch {i} holds its own records"
            );
        }
    }
}

#[test]
fn appends_and_restarts_with_one_open_file() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(10_000));
    let tps: Vec<_> = (0..3).map(|p| TopicPartition::new("t", p)).collect();
    {
        let m = LogManager::open_with_limit(dir.path(), clock.clone(), 1).unwrap();
        for i in 0..30 {
            for tp in &tps {
                let log = m.get_or_create(tp, small_segments()).unwrap();
                assert_eq!(append(&m, &log, &format!("{}-{i}", tp.partition)), i * 3);
            }
        }
        m.shutdown().unwrap();
    }
    let m = LogManager::open_with_limit(dir.path(), clock, 1).unwrap();
    for tp in &tps {
        let log = m.get_or_create(tp, small_segments()).unwrap();
        assert_eq!(log.log_end_offset(), 90);
        let batches = read_batches(&log);
        for (i, b) in batches.iter().enumerate() {
            let needle = format!("{}-{i}-2", tp.partition);
            assert!(b.windows(needle.len()).any(|w| w == needle.as_bytes()));
        }
    }
}

#[test]
fn recovery_after_a_crash_with_evicted_files() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(10_000));
    let tps: Vec<_> = (0..5).map(|p| TopicPartition::new("t", p)).collect();
    let mut expected = Vec::new();
    {
        let m = LogManager::open_with_limit(dir.path(), clock.clone(), 2).unwrap();
        for i in 0..25 {
            for tp in &tps {
                let log = m.get_or_create(tp, small_segments()).unwrap();
                append(&m, &log, &format!("{}-{i}", tp.partition));
            }
        }
        m.checkpoint().unwrap();
        for tp in &tps {
            expected.push(read_batches(&m.get(tp).unwrap()));
        }
        // A crash: no shutdown (no clean marker, index entries still in memory are lost), and a
        // torn write at the end of one partition's active segment.
        drop(m);
    }
    assert!(!dir.path().join(weir_log::CLEAN_SHUTDOWN_FILE).exists());
    let t2 = dir.path().join("t-2");
    let active = std::fs::read_dir(&t2)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max()
        .unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&active)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &[7u8; 40]))
        .unwrap();
    let m = LogManager::open_with_limit(dir.path(), clock, 2).unwrap();
    assert!(m.damaged_partitions().is_empty());
    for (tp, want) in tps.iter().zip(&expected) {
        let log = m.get_or_create(tp, small_segments()).unwrap();
        assert_eq!(log.log_end_offset(), 75, "{tp:?}");
        assert_eq!(&read_batches(&log), want, "{tp:?}");
        assert_eq!(append(&m, &log, "after"), 75);
    }
    assert!(m.open_files().open_files() <= 2);
}
