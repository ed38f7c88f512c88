//! Making one group-commit pass's files durable. A pass with few files fdatasyncs each of them
//! (up to [`PARALLEL_SYNCS`] at once); a pass with [`SYNCFS_MIN_FILES`] or more calls `syncfs`
//! once per filesystem holding them instead: one journal commit and one device-cache flush for
//! the lot, where fdatasyncs of many files each pay their own (measured on ext4 here: 1,000
//! appended files took ~70–110 ms of parallel fdatasyncs and ~5–7 ms of one `syncfs`; 16 files
//! 1.4 ms and 0.25 ms). `syncfs` also writes back whatever else on that filesystem is dirty, so a
//! log dir sharing its filesystem with heavy unrelated writers pays for them in such passes
//! (docs/architecture.md, "Durability"). Either way a pass reports success only when every file's
//! data reached stable storage, and any error fails it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

/// How many fdatasyncs of one pass run at once (one per file; files are independent).
const PARALLEL_SYNCS: usize = 4;

/// Passes with at least this many files use `syncfs` instead of one fdatasync per file.
pub(crate) const SYNCFS_MIN_FILES: usize = 4;

/// Make every file of `files` durable; false if any sync failed (the error is logged).
pub(crate) fn sync_all_files(files: &[Arc<File>]) -> bool {
    if files.len() >= SYNCFS_MIN_FILES {
        if let Some(ok) = sync_filesystems(files) {
            return ok;
        }
    }
    fdatasync_each(files)
}

fn failed(what: &str, e: &std::io::Error) -> bool {
    tracing::error!(error = %e, "{what} failed: refusing to acknowledge writes");
    false
}

/// `syncfs` once per filesystem of `files` (one sync of all of them for the test build's
/// power-failure layer). `None` when the kernel has no `syncfs` (the caller fdatasyncs instead).
fn sync_filesystems(files: &[Arc<File>]) -> Option<bool> {
    let mut one_per_fs: Vec<(u64, &Arc<File>)> = Vec::new();
    for f in files {
        let dev = match f.metadata() {
            Ok(m) => m.dev(),
            Err(e) => return Some(failed("fstat before syncfs", &e)),
        };
        if !one_per_fs.iter().any(|(d, _)| *d == dev) {
            one_per_fs.push((dev, f));
        }
    }
    // The test layer journals every file as synced by this one operation (writes racing with it
    // are not covered).
    let res = crate::lazyfs::sync_files(files, || {
        for (_, f) in &one_per_fs {
            // SAFETY: `syncfs` only reads the descriptor, which `f` keeps open for the call.
            if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    });
    match res {
        Ok(()) => Some(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => None,
        Err(e) => Some(failed("syncfs", &e)),
    }
}

/// fdatasync every file, up to [`PARALLEL_SYNCS`] at a time; false if any failed.
fn fdatasync_each(files: &[Arc<File>]) -> bool {
    let sync = |f: &Arc<File>| match crate::lazyfs::sync(f, || f.sync_data()) {
        Ok(()) => true,
        Err(e) => failed("fdatasync", &e),
    };
    if files.len() < 2 {
        return files.iter().all(sync);
    }
    let per = files.len().div_ceil(PARALLEL_SYNCS);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(per)
            .map(|chunk| s.spawn(move || chunk.iter().map(sync).fold(true, |a, b| a & b)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(false))
            .fold(true, |a, b| a & b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize, dir: &std::path::Path) -> Vec<Arc<File>> {
        (0..n)
            .map(|i| {
                use std::io::Write;
                let mut f = File::create(dir.join(format!("f{i}"))).unwrap();
                f.write_all(b"data").unwrap();
                Arc::new(f)
            })
            .collect()
    }

    #[test]
    fn few_and_many_files_sync() {
        let dir = tempfile::tempdir().unwrap();
        assert!(sync_all_files(&[]));
        assert!(sync_all_files(&files(1, dir.path())));
        let many = files(SYNCFS_MIN_FILES + 3, dir.path());
        assert_eq!(
            sync_filesystems(&many),
            Some(true),
            "syncfs is available here"
        );
        assert!(sync_all_files(&many));
        assert!(fdatasync_each(&many));
    }

    #[test]
    fn a_bad_descriptor_fails_the_pass() {
        use std::os::fd::FromRawFd;
        let dir = tempfile::tempdir().unwrap();
        let mut many = files(SYNCFS_MIN_FILES, dir.path());
        // A descriptor that is not open: fstat and sync fail; the pass must not succeed.
        let bogus = unsafe { File::from_raw_fd(1_000_000) };
        many.push(Arc::new(bogus));
        assert!(!sync_all_files(&many));
        assert!(!fdatasync_each(&many));
        // Do not close a descriptor that was never open.
        for f in many.drain(..) {
            if let Ok(f) = Arc::try_unwrap(f) {
                if f.as_raw_fd() == 1_000_000 {
                    std::mem::forget(f);
                }
            }
        }
    }
}
