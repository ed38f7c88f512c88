//! A group-commit pass over many files syncs their filesystem once (`syncfs`) instead of
//! fdatasyncing each; acknowledged appends must still survive a power failure
//! (`--features lazyfs`: every write no completed sync covered is undone).
#![cfg(feature = "lazyfs")]

use std::sync::Arc;

use weir_log::batch::build_batch;
use weir_log::{LogConfig, LogManager, ManualClock, OpenOptions, StartupVerify, TopicPartition};

const PARTITIONS: i32 = 8;

fn open(dir: &std::path::Path) -> Arc<LogManager> {
    LogManager::open_dirs_with_options(
        &[dir.to_path_buf()],
        Arc::new(ManualClock::new(1_000)),
        OpenOptions {
            max_open_files: 1000,
            verify: StartupVerify::All,
        },
    )
    .unwrap()
}

#[test]
fn appends_made_durable_by_one_syncfs_survive_a_power_failure() {
    let journal_dir = tempfile::tempdir().unwrap();
    let journal = journal_dir.path().join("journal");
    // The only test of this binary: the recorder reads the variable once, at its first use.
    std::env::set_var(weir_log::lazyfs::ENV_JOURNAL, &journal);
    let dir = tempfile::tempdir().unwrap();
    let m = open(dir.path());
    let logs: Vec<_> = (0..PARTITIONS)
        .map(|p| {
            m.get_or_create(&TopicPartition::new("t", p), LogConfig::default())
                .unwrap()
        })
        .collect();
    // A slow disk holds the flusher's first pass for a second, so the appends gather into at
    // most two passes: one of them has at least four of the eight files and uses `syncfs`.
    std::fs::write(weir_log::lazyfs::slow_file(&journal), "1000").unwrap();
    let passes_before = m.group_commit_passes();
    let mut tickets = Vec::new();
    for (p, log) in logs.iter().enumerate() {
        let value = format!("record of partition {p}");
        let r = log
            .append(&build_batch(0, 1_000, &[(None, value.as_bytes())]))
            .unwrap();
        tickets.push(r.durable.expect("a durable log hands out tickets"));
    }
    std::fs::remove_file(weir_log::lazyfs::slow_file(&journal)).unwrap();
    for t in tickets {
        m.wait_durable(t).unwrap();
    }
    assert!(
        m.group_commit_passes() - passes_before <= 2,
        "one pass held at least four files (the syncfs path)"
    );
    // Power failure: the process stops (no clean shutdown) and unsynced writes are undone.
    drop(logs);
    drop(m);
    let dropped = weir_log::lazyfs::power_failure_in_process()
        .unwrap()
        .expect("the layer is active");
    let m = open(dir.path());
    for p in 0..PARTITIONS {
        let log = m
            .get_or_create(&TopicPartition::new("t", p), LogConfig::default())
            .unwrap();
        assert_eq!(
            log.log_end_offset(),
            1,
            "partition {p} lost an acknowledged append ({dropped:?})"
        );
    }
}
