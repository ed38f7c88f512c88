//! The power-failure layer end to end (`--features lazyfs`): a write covered by a completed
//! sync survives `drop_unsynced`, a later one does not; overwrites get their old bytes back.
#![cfg(feature = "lazyfs")]

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;

use weir_log::lazyfs;

#[test]
fn unsynced_writes_are_dropped_and_synced_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    // The only test of this binary: the recorder reads the variable once, at its first use.
    std::env::set_var(lazyfs::ENV_JOURNAL, &journal);
    let path = dir.path().join("00000000000000000000.log");
    let f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .unwrap();
    let append = |b: &[u8]| lazyfs::write(&f, None, b.len(), || (&f).write_all(b)).unwrap();
    append(b"durable-");
    lazyfs::sync(&f, || f.sync_data()).unwrap();
    append(b"lost-1-");
    append(b"lost-2");
    let idx_path = dir.path().join("00000000000000000000.index");
    let idx = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&idx_path)
        .unwrap();
    idx.set_len(16).unwrap();
    lazyfs::write(&idx, Some(0), 4, || idx.write_all_at(b"abcd", 0)).unwrap();
    lazyfs::sync(&idx, || idx.sync_data()).unwrap();
    lazyfs::write(&idx, Some(2), 4, || idx.write_all_at(b"XYZW", 2)).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"durable-lost-1-lost-2",
        "reads see every write"
    );
    assert!(journal.exists());

    // Slow disk: a sync waits while the control file holds a delay.
    std::fs::write(lazyfs::slow_file(&journal), "300").unwrap();
    let other = std::fs::File::create(dir.path().join("other")).unwrap();
    let t = std::time::Instant::now();
    lazyfs::sync(&other, || other.sync_data()).unwrap();
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    std::fs::remove_file(lazyfs::slow_file(&journal)).unwrap();

    // The "power failure": the files as the disk holds them, without the unsynced writes.
    let d = lazyfs::drop_unsynced(&journal).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"durable-");
    let mut want = b"abcd".to_vec();
    want.resize(16, 0);
    assert_eq!(std::fs::read(&idx_path).unwrap(), want);
    assert_eq!((d.files, d.writes), (2, 3), "{d:?}");
    assert!(d.skipped.is_empty(), "{d:?}");
    assert!(!journal.exists());
}
