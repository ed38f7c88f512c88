//! Unit tests of the segment file cache.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use super::*;

fn write_file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(content)
        .unwrap();
    p
}

fn read_all(f: &File) -> Vec<u8> {
    let len = f.metadata().unwrap().len() as usize;
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, 0).unwrap();
    buf
}

fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

#[test]
fn a_closed_file_is_reopened_and_reads_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = FdCache::new(2);
    let handles: Vec<(CachedFile, Vec<u8>)> = (0..10)
        .map(|i| {
            let content: Vec<u8> = (0..5000u32).map(|b| (b * (i + 1) % 251) as u8).collect();
            let p = write_file(dir.path(), &format!("{i}.log"), &content);
            (cache.file(p), content)
        })
        .collect();
    for round in 0..3 {
        for (h, content) in &handles {
            assert_eq!(&read_all(&h.get().unwrap()), content, "round {round}");
            assert!(cache.open_files() <= 2);
        }
    }
    assert!(cache.evictions() >= 25, "evictions {}", cache.evictions());
    assert_eq!(
        cache.opens(),
        30,
        "every read of an evicted file reopened it"
    );
    // The most recently used file stays open: no reopen.
    let last = &handles[9].0;
    assert!(last.if_open().is_some());
    last.get().unwrap();
    assert_eq!(cache.opens(), 30);
}

#[test]
fn eviction_never_closes_a_file_a_reader_holds() {
    let dir = tempfile::tempdir().unwrap();
    let cache = FdCache::new(1);
    let a = cache.file(write_file(dir.path(), "a.log", b"aaaaaaaaaa"));
    let b = cache.file(write_file(dir.path(), "b.log", b"bbbbbbbbbb"));
    let held = a.get().unwrap();
    let fd = held.as_raw_fd();
    b.get().unwrap(); // evicts a
    assert!(a.if_open().is_none(), "a was evicted");
    assert!(fd_is_open(fd), "the reader's descriptor stays open");
    assert_eq!(read_all(&held), b"aaaaaaaaaa");
    drop(held);
    assert!(!fd_is_open(fd), "closed once the last reader is done");
}

#[test]
fn appends_after_eviction_land_in_the_right_file() {
    let dir = tempfile::tempdir().unwrap();
    let cache = FdCache::new(1);
    let names = ["x", "y", "z"];
    let handles: Vec<CachedFile> = names
        .iter()
        .map(|n| cache.create(dir.path().join(format!("{n}.log"))).unwrap())
        .collect();
    for i in 0..20 {
        for (h, n) in handles.iter().zip(names) {
            (&*h.get().unwrap())
                .write_all(format!("{n}{i};").as_bytes())
                .unwrap();
        }
    }
    for (h, n) in handles.iter().zip(names) {
        let expected: String = (0..20).map(|i| format!("{n}{i};")).collect();
        assert_eq!(
            std::fs::read_to_string(h.path()).unwrap(),
            expected,
            "file {n}"
        );
    }
}

#[test]
fn dropping_a_handle_releases_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let cache = FdCache::new(4);
    let h = cache.create(dir.path().join("gone.log")).unwrap();
    assert_eq!(cache.open_files(), 1);
    drop(h);
    assert_eq!(cache.open_files(), 0);
}

#[test]
fn hitting_the_process_limit_is_a_clear_error_not_an_io_error() {
    let e = std::io::Error::from_raw_os_error(libc::EMFILE);
    let err = open_error(Path::new("/x/00000000000000000000.index"), e);
    assert!(matches!(err, LogError::TooManyOpenFiles { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("RLIMIT_NOFILE") && msg.contains("log.max.open.files"),
        "{msg}"
    );
    let other = open_error(
        Path::new("/x"),
        std::io::Error::from_raw_os_error(libc::EIO),
    );
    assert!(matches!(other, LogError::Io(_)));
}
