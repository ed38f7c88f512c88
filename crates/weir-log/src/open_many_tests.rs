//! Opening many partitions at once and starting their epochs (`open_many.rs`).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use crate::{LogConfig, LogManager, ManualClock, TopicPartition};

fn tps(n: i32) -> Vec<(TopicPartition, LogConfig)> {
    (0..n)
        .map(|p| (TopicPartition::new("wide", p), LogConfig::default()))
        .collect()
}

fn inode(path: &Path) -> (u64, i64) {
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.mtime_nsec())
}

#[test]
fn many_partitions_open_in_order_spread_over_dirs_and_a_duplicate_opens_once() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
    let mgr = LogManager::open_dirs(&dirs, Arc::new(ManualClock::new(0))).unwrap();
    let mut items = tps(40);
    items.push(items[7].clone());
    let logs: Vec<_> = mgr
        .get_or_create_many(&items)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for (l, (tp, _)) in logs.iter().zip(&items) {
        assert_eq!(l.topic_partition(), tp);
    }
    assert!(Arc::ptr_eq(&logs[7], &logs[40]), "one log per partition");
    assert!(Arc::ptr_eq(&logs[3], &mgr.get(&items[3].0).unwrap()));
    let in_a = crate::log_dir::partitions_in(a.path()).len();
    let in_b = crate::log_dir::partitions_in(b.path()).len();
    assert_eq!((in_a, in_b), (20, 20), "placed in the least loaded dir");
    // Asked again: the same open logs, nothing created.
    let again = mgr.get_or_create_many(&items[..5]);
    assert!(Arc::ptr_eq(again[0].as_ref().unwrap(), &logs[0]));
    mgr.shutdown().unwrap();
    drop(mgr);
    let mgr = LogManager::open_dirs(&dirs, Arc::new(ManualClock::new(0))).unwrap();
    assert_eq!(mgr.partitions_on_disk().len(), 40);
}

#[test]
fn an_epoch_checkpoint_is_rewritten_only_when_its_content_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mgr = LogManager::open(dir.path(), Arc::new(ManualClock::new(0))).unwrap();
    let logs: Vec<_> = mgr
        .get_or_create_many(&tps(12))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let with = |e: i32| logs.iter().map(|l| (l.clone(), e)).collect::<Vec<_>>();
    assert!(mgr.assign_epochs(&with(3)).iter().all(Result::is_ok));
    let file = |p: i32| dir.path().join(format!("wide-{p}/leader-epoch-checkpoint"));
    let before: Vec<_> = (0..12).map(|p| inode(&file(p))).collect();
    // The same epoch or an older one changes nothing: no file is written.
    assert!(mgr.assign_epochs(&with(3)).iter().all(Result::is_ok));
    assert!(mgr.assign_epochs(&with(2)).iter().all(Result::is_ok));
    let after: Vec<_> = (0..12).map(|p| inode(&file(p))).collect();
    assert_eq!(before, after, "unchanged checkpoints were rewritten");
    // A newer epoch is written (a new file renamed over the old one) before the call returns.
    assert!(mgr.assign_epochs(&with(5)).iter().all(Result::is_ok));
    for p in 0..12 {
        assert_ne!(inode(&file(p)).0, before[p as usize].0);
        assert_eq!(
            crate::checkpoint::read_epochs(&file(p)).unwrap(),
            vec![(5, 0)],
            "epoch 3 had no batch: replaced"
        );
    }
}
