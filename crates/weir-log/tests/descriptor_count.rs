//! Alone in its test binary (the count of the process's descriptors must not see other tests):
//! many partitions hold no more descriptors than `log.max.open.files` allows.

use std::sync::Arc;

use weir_log::batch::build_batch;
use weir_log::{LogConfig, LogManager, ManualClock, TopicPartition};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_hundred_and_twenty_partitions_fit_in_sixteen_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let m = LogManager::open_with_limit(dir.path(), Arc::new(ManualClock::new(1_000)), 16).unwrap();
    let before = open_fds();
    let mut cfg = LogConfig::default();
    cfg.set("segment.bytes", "100").unwrap();
    for p in 0..120 {
        let log = m
            .get_or_create(&TopicPartition::new("wide", p), cfg.clone())
            .unwrap();
        for i in 0..2 {
            let r = log
                .append(&build_batch(
                    0,
                    1_000,
                    &[(None, format!("{p}-{i}").as_bytes())],
                ))
                .unwrap();
            m.wait_durable(r.durable.unwrap()).unwrap();
        }
        assert!(log.segment_count() >= 2);
    }
    let after = open_fds();
    // The cache's 16 plus a little slack (the group-commit flusher may hold the last files
    // written until its pass ends); the old layout held ≥ 3 per partition (400+).
    assert!(after <= before + 16 + 4, "{before} → {after} descriptors");
    m.run_maintenance().unwrap();
    m.shutdown().unwrap();
    assert!(open_fds() <= before + 16 + 4);
}
