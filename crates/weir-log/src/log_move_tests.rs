use crate::log_move_recovery::recover_interrupted_moves;
use std::sync::Arc;

use super::*;
use crate::{LogConfig, ManualClock};

fn batch(n: usize) -> Vec<u8> {
    let vals: Vec<Vec<u8>> = (0..n).map(|i| format!("value-{i}").into_bytes()).collect();
    let recs: Vec<(Option<&[u8]>, &[u8])> = vals.iter().map(|v| (None, v.as_slice())).collect();
    crate::batch::build_batch(0, 1_000, &recs)
}

#[test]
fn new_partitions_go_to_the_emptiest_dir_and_are_found_there_after_a_restart() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
    let clock = Arc::new(ManualClock::new(1_000));
    let m = LogManager::open_dirs(&dirs, clock.clone()).unwrap();
    for p in 0..4 {
        m.get_or_create(&TopicPartition::new("t", p), LogConfig::default())
            .unwrap();
    }
    let st = m.dir_statuses();
    assert_eq!(st[0].partitions.len(), 2);
    assert_eq!(st[1].partitions.len(), 2);
    let tp = TopicPartition::new("t", 1);
    assert_eq!(m.dir_of(&tp).unwrap(), b.path());
    m.shutdown().unwrap();
    drop(m);
    let m = LogManager::open_dirs(&dirs, clock).unwrap();
    assert_eq!(m.dir_of(&tp).unwrap(), b.path());
    assert!(m.was_clean_shutdown());
}

#[test]
fn a_moved_partition_keeps_its_records_and_takes_appends_in_its_new_dir() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
    let clock = Arc::new(ManualClock::new(1_000));
    let m = LogManager::open_dirs(&dirs, clock.clone()).unwrap();
    let tp = TopicPartition::new("m", 0);
    let cfg = LogConfig {
        segment_bytes: 4096,
        ..LogConfig::default()
    };
    let log = m.get_or_create(&tp, cfg).unwrap();
    for _ in 0..20 {
        let r = log.append(&batch(5)).unwrap();
        m.wait_durable(r.durable.unwrap()).unwrap();
    }
    let leo = log.log_end_offset();
    assert!(m.move_partition(&tp, 1).unwrap());
    assert!(!m.move_partition(&tp, 1).unwrap(), "already there");
    assert!(log.append(&batch(1)).is_err(), "the old log refuses writes");
    assert!(!a.path().join("m-0").exists());
    let moved = m.get(&tp).unwrap();
    assert_eq!(moved.log_end_offset(), leo);
    let r = moved.append(&batch(5)).unwrap();
    m.wait_durable(r.durable.unwrap()).unwrap();
    let read = moved.read(0, 1 << 20, i64::MAX).unwrap();
    assert!(read.records.len > 0);
    m.shutdown().unwrap();
    drop(m);
    let m = LogManager::open_dirs(&dirs, clock).unwrap();
    assert_eq!(m.dir_of(&tp).unwrap(), b.path());
    let l = m.get_or_create(&tp, LogConfig::default()).unwrap();
    assert_eq!(l.log_end_offset(), leo + 5);
}

#[test]
fn an_interrupted_move_is_finished_when_complete_and_undone_otherwise() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Complete copy, source renamed: finish it.
    fs::create_dir_all(a.path().join("x-0.weir-delete")).unwrap();
    fs::create_dir_all(b.path().join("x-0.weir-future")).unwrap();
    // Source renamed, no copy: undo.
    fs::create_dir_all(a.path().join("y-0.weir-delete")).unwrap();
    // Unfinished copy: dropped.
    fs::create_dir_all(a.path().join("z-0")).unwrap();
    fs::create_dir_all(b.path().join("z-0.weir-future")).unwrap();
    recover_interrupted_moves(&[a.path().to_path_buf(), b.path().to_path_buf()]);
    assert!(b.path().join("x-0").exists() && !a.path().join("x-0.weir-delete").exists());
    assert!(a.path().join("y-0").exists());
    assert!(a.path().join("z-0").exists() && !b.path().join("z-0.weir-future").exists());
}

#[test]
fn a_failed_dir_takes_only_its_partitions_offline() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
    let m = LogManager::open_dirs(&dirs, Arc::new(ManualClock::new(1_000))).unwrap();
    let (in_a, in_b) = (TopicPartition::new("f", 0), TopicPartition::new("f", 1));
    let la = m.get_or_create(&in_a, LogConfig::default()).unwrap();
    let lb = m.get_or_create(&in_b, LogConfig::default()).unwrap();
    let failures = m.subscribe_failures();
    // As after an EIO or ENOSPC on a write to dir b.
    m.dirs[1].commit.fail_writes("injected");
    assert!(failures.has_changed().unwrap());
    assert!(
        lb.append(&batch(1)).is_err(),
        "the failed dir refuses writes"
    );
    assert_eq!(m.offline_partitions(), vec![in_b.clone()]);
    assert!(m.get(&in_b).is_none() && m.is_offline(&in_b));
    assert!(m.get_or_create(&in_b, LogConfig::default()).is_err());
    // New partitions avoid the offline dir; the other dir keeps serving.
    m.get_or_create(&TopicPartition::new("f", 2), LogConfig::default())
        .unwrap();
    assert_eq!(m.dir_of(&TopicPartition::new("f", 2)).unwrap(), a.path());
    let r = la.append(&batch(3)).unwrap();
    m.wait_durable(r.durable.unwrap()).unwrap();
    let st = m.dir_statuses();
    assert!(st[0].offline.is_none() && st[1].offline.is_some());
    assert!(
        m.move_partition(&in_a, 1).is_err(),
        "no move into an offline dir"
    );
    m.shutdown().unwrap();
    assert!(a.path().join(crate::CLEAN_SHUTDOWN_FILE).exists());
}
