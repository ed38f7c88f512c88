//! Corrupt files on disk: flipped bytes in a segment, deleted indexes. Each recovers (truncating at
//! the first bad batch, rebuilding indexes) and never panics.

use std::sync::Arc;

use weir_log::batch::{build_batch, validate_batch};
use weir_log::{LogConfig, LogManager, ManualClock, TopicPartition};

fn fill(dir: &std::path::Path, batches: usize) -> Vec<i64> {
    let m = LogManager::open(dir, Arc::new(ManualClock::new(0))).unwrap();
    let log = m
        .get_or_create(&TopicPartition::new("t", 0), LogConfig::default())
        .unwrap();
    let mut bases = Vec::new();
    for i in 0..batches {
        let v = format!("value-{i}");
        let r = log
            .append(&build_batch(0, 0, &[(None, v.as_bytes())]))
            .unwrap();
        m.wait_durable(r.durable.unwrap()).unwrap();
        bases.push(r.base_offset);
    }
    bases // dropped without shutdown: the next open recovers
}

#[test]
fn a_flipped_byte_truncates_from_that_batch_on() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 20);
    let seg = dir.path().join("t-0/00000000000000000000.log");
    let mut bytes = std::fs::read(&seg).unwrap();
    let batch_len = bytes.len() / 20;
    bytes[batch_len * 12 + 40] ^= 0xff; // inside batch 12
    std::fs::write(&seg, &bytes).unwrap();
    let m = LogManager::open(dir.path(), Arc::new(ManualClock::new(0))).unwrap();
    let log = m
        .get_or_create(&TopicPartition::new("t", 0), LogConfig::default())
        .unwrap();
    assert_eq!(
        log.log_end_offset(),
        12,
        "batches 0..12 kept, the corrupt one and later dropped"
    );
    for o in 0..12 {
        assert!(validate_batch(&log.read(o, 1, 12).unwrap().records.to_bytes().unwrap()).is_ok());
    }
}

#[test]
fn deleted_indexes_are_rebuilt_even_after_a_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    {
        let m = LogManager::open(dir.path(), Arc::new(ManualClock::new(0))).unwrap();
        let mut cfg = LogConfig::default();
        cfg.set("index.interval.bytes", "100").unwrap();
        let log = m.get_or_create(&TopicPartition::new("t", 0), cfg).unwrap();
        for i in 0..200 {
            let v = format!("value-{i}");
            log.append(&build_batch(0, i, &[(None, v.as_bytes())]))
                .unwrap();
        }
        m.shutdown().unwrap();
    }
    std::fs::remove_file(dir.path().join("t-0/00000000000000000000.index")).unwrap();
    std::fs::remove_file(dir.path().join("t-0/00000000000000000000.timeindex")).unwrap();
    let m = LogManager::open(dir.path(), Arc::new(ManualClock::new(0))).unwrap();
    assert!(m.was_clean_shutdown());
    let log = m
        .get_or_create(&TopicPartition::new("t", 0), LogConfig::default())
        .unwrap();
    assert_eq!(log.log_end_offset(), 200);
    let b = log.read(150, 1, 200).unwrap().records.to_bytes().unwrap();
    assert_eq!(validate_batch(&b).unwrap().base_offset, 150);
    assert_eq!(
        log.offset_for_timestamp(120).unwrap().map(|(o, _)| o),
        Some(120)
    );
    assert!(
        dir.path().join("t-0/00000000000000000000.index").exists(),
        "index rebuilt on disk"
    );
}
