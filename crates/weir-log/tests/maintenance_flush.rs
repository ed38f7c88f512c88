//! The periodic flush that advances a partition's recovery point fsyncs its files without the
//! partition's lock (`--features lazyfs`, whose slow-disk control makes every sync take 600 ms):
//! appends to the partition go on while it syncs, and the recovery point still reaches the log
//! end it saw.
#![cfg(feature = "lazyfs")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_log::batch::build_batch;
use weir_log::{LogConfig, LogManager, ManualClock, OpenOptions, StartupVerify, TopicPartition};

#[test]
fn appends_do_not_wait_for_the_maintenance_fsyncs() {
    let journal_dir = tempfile::tempdir().unwrap();
    let journal = journal_dir.path().join("journal");
    // The only test of this binary: the recorder reads the variable once, at its first use.
    std::env::set_var(weir_log::lazyfs::ENV_JOURNAL, &journal);
    let dir = tempfile::tempdir().unwrap();
    let m = LogManager::open_dirs_with_options(
        &[dir.path().to_path_buf()],
        Arc::new(ManualClock::new(1_000)),
        OpenOptions {
            max_open_files: 1000,
            verify: StartupVerify::All,
        },
    )
    .unwrap();
    let log = m
        .get_or_create(&TopicPartition::new("t", 0), LogConfig::default())
        .unwrap();
    let append = || {
        log.append(&build_batch(0, 1_000, &[(None, b"v".as_slice())]))
            .unwrap()
    };
    for _ in 0..10 {
        append();
    }
    assert_eq!(log.recovery_point(), 0);
    std::fs::write(weir_log::lazyfs::slow_file(&journal), "600").unwrap();
    let mut slowest = Duration::ZERO;
    let mut appended = 0;
    std::thread::scope(|s| {
        let flush = s.spawn(|| log.maintain().unwrap());
        while !flush.is_finished() {
            let t = Instant::now();
            append();
            slowest = slowest.max(t.elapsed());
            appended += 1;
        }
        flush.join().unwrap();
    });
    std::fs::remove_file(weir_log::lazyfs::slow_file(&journal)).unwrap();
    assert!(appended > 0);
    assert!(
        slowest < Duration::from_millis(300),
        "an append waited {slowest:?} for the maintenance fsyncs (each takes 600 ms)"
    );
    assert!(
        log.recovery_point() >= 10,
        "the recovery point reached the log end the flush saw: {}",
        log.recovery_point()
    );
}
