//! A bounded cache of open segment `.log` files shared by every partition of a log directory
//! (`log.max.open.files`, a Weir extension): a partition log holds at most the file handles the
//! cache lets it keep, so 10,000 partitions do not need 10,000+ descriptors.
//!
//! * Each segment owns a [`CachedFile`]: a path and a slot that may or may not hold an open file.
//!   [`CachedFile::get`] returns the open file, reopening it (read + append) when it was evicted.
//! * When the cache holds `capacity` files and another must open, the least recently used eighth
//!   is closed (recency is a per-slot tick updated without a global lock).
//! * Eviction only drops the cache's reference: a reader, a fetch response or the group-commit
//!   flusher holding an `Arc<File>` keeps the descriptor open until it is done, so a file is
//!   never closed mid-read or before its pending fdatasync.
//! * When the process limit is truly reached (EMFILE/ENFILE even after evicting), the error is
//!   [`LogError::TooManyOpenFiles`], naming `RLIMIT_NOFILE` and the cache size: never an I/O
//!   error that would take the log directory offline.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::LogError;

/// The process's soft and hard `RLIMIT_NOFILE` (None if unknown).
pub fn nofile_limit() -> Option<(u64, u64)> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return None;
    }
    Some((rl.rlim_cur, rl.rlim_max))
}

/// The default cache size: half of the soft `RLIMIT_NOFILE` (the rest is left to sockets,
/// checkpoints, index writes and the metadata log), at least 64.
pub fn default_max_open_files() -> usize {
    let soft = nofile_limit().map_or(1024, |(soft, _)| soft);
    usize::try_from(soft / 2).unwrap_or(usize::MAX).max(64)
}

/// The size of the last cache created (one per log directory), for error messages about files
/// opened outside the cache.
static CONFIGURED_CAPACITY: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Slot {
    path: PathBuf,
    file: Mutex<Option<Arc<File>>>,
    last_used: AtomicU64,
}

impl Slot {
    fn file(&self) -> MutexGuard<'_, Option<Arc<File>>> {
        // The guarded value is a plain Option: a panic cannot leave it inconsistent.
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The shared cache of open segment files.
#[derive(Debug)]
pub struct FdCache {
    capacity: usize,
    /// Slots that currently hold an open file.
    open: Mutex<Vec<Arc<Slot>>>,
    tick: AtomicU64,
    opens: AtomicU64,
    evictions: AtomicU64,
}

impl FdCache {
    /// A cache keeping at most `capacity` (at least 1) files open.
    pub fn new(capacity: usize) -> Arc<FdCache> {
        CONFIGURED_CAPACITY.store(capacity.max(1), Ordering::Relaxed);
        Arc::new(FdCache {
            capacity: capacity.max(1),
            open: Mutex::new(Vec::new()),
            tick: AtomicU64::new(0),
            opens: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        })
    }

    /// The most files kept open.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Files open in the cache now (readers may hold evicted ones a little longer).
    pub fn open_files(&self) -> usize {
        self.lock_open().len()
    }

    /// Files opened so far (first opens and reopens after an eviction).
    pub fn opens(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }

    /// Files closed by eviction so far.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// A handle on `path`, not opened until first used.
    pub fn file(self: &Arc<Self>, path: PathBuf) -> CachedFile {
        CachedFile {
            cache: self.clone(),
            slot: Arc::new(Slot {
                path,
                file: Mutex::new(None),
                last_used: AtomicU64::new(0),
            }),
        }
    }

    /// Create (or open, if it exists) the file at `path` for read + append, as a handle whose
    /// file is open.
    pub fn create(self: &Arc<Self>, path: PathBuf) -> Result<CachedFile, LogError> {
        let handle = self.file(path);
        self.install(&handle.slot, |p| {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(p)
        })?;
        Ok(handle)
    }

    fn lock_open(&self) -> MutexGuard<'_, Vec<Arc<Slot>>> {
        // A Vec of slots: consistent whatever panicked while holding it.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn touch(&self, slot: &Slot) {
        let t = self.tick.fetch_add(1, Ordering::Relaxed);
        slot.last_used.store(t, Ordering::Relaxed);
    }

    /// Close the least recently used eighth of the open files (at least `min`).
    fn evict(&self, open: &mut Vec<Arc<Slot>>, min: usize) {
        let n = (self.capacity / 8).max(min).min(open.len());
        if n == 0 {
            return;
        }
        if n < open.len() {
            open.select_nth_unstable_by_key(n, |s| s.last_used.load(Ordering::Relaxed));
        }
        for slot in open.drain(..n) {
            // Readers holding the Arc keep the descriptor until they drop it.
            slot.file().take();
        }
        self.evictions.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn install(
        &self,
        slot: &Arc<Slot>,
        opener: impl Fn(&Path) -> std::io::Result<File>,
    ) -> Result<Arc<File>, LogError> {
        let mut open = self.lock_open();
        if let Some(f) = slot.file().as_ref() {
            return Ok(f.clone());
        }
        if open.len() >= self.capacity {
            self.evict(&mut open, 1);
        }
        let file = match opener(&slot.path) {
            Err(e) if is_fd_exhaustion(&e) => {
                // Descriptors are used outside the cache too (sockets): make room and retry.
                let half = open.len() / 2;
                self.evict(&mut open, half.max(1));
                opener(&slot.path).map_err(|e| self.exhausted(&slot.path, e))?
            }
            other => other?,
        };
        let file = Arc::new(file);
        *slot.file() = Some(file.clone());
        self.touch(slot);
        open.push(slot.clone());
        self.opens.fetch_add(1, Ordering::Relaxed);
        Ok(file)
    }

    fn exhausted(&self, path: &Path, e: std::io::Error) -> LogError {
        if !is_fd_exhaustion(&e) {
            return e.into();
        }
        warn_exhausted(path);
        let soft = nofile_limit().map_or(0, |(soft, _)| soft);
        LogError::TooManyOpenFiles {
            path: path.display().to_string(),
            rlimit_nofile: soft,
            max_open_files: self.capacity,
        }
    }

    fn forget(&self, slot: &Arc<Slot>) {
        let mut open = self.lock_open();
        if let Some(i) = open.iter().position(|s| Arc::ptr_eq(s, slot)) {
            open.swap_remove(i);
        }
        slot.file().take();
    }
}

fn open_log(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).append(true).open(path)
}

/// Log that the descriptor limit was hit, at most once every 10 s.
fn warn_exhausted(path: &Path) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 10
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::error!(
            file = %path.display(),
            rlimit_nofile = ?nofile_limit(),
            max_open_files = CONFIGURED_CAPACITY.load(Ordering::Relaxed),
            "too many open files: the process reached its descriptor limit (RLIMIT_NOFILE, \
             ulimit -n); requests needing a file fail until descriptors are free. Raise the \
             limit or lower log.max.open.files"
        );
    }
}

/// True for EMFILE (process limit) and ENFILE (system limit).
pub fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Map an error from opening a file outside the cache (an index, a transaction index) to
/// [`LogError::TooManyOpenFiles`] when the descriptor limit was hit.
pub fn open_error(path: &Path, e: std::io::Error) -> LogError {
    if is_fd_exhaustion(&e) {
        warn_exhausted(path);
        LogError::TooManyOpenFiles {
            path: path.display().to_string(),
            rlimit_nofile: nofile_limit().map_or(0, |(soft, _)| soft),
            max_open_files: CONFIGURED_CAPACITY.load(Ordering::Relaxed),
        }
    } else {
        e.into()
    }
}

/// One segment's `.log` file, opened through the shared [`FdCache`]. Dropping it closes the file
/// (unless a reader still holds it).
#[derive(Debug)]
pub struct CachedFile {
    cache: Arc<FdCache>,
    slot: Arc<Slot>,
}

impl CachedFile {
    /// The open file (opened for read + append), reopened when the cache had evicted it.
    pub fn get(&self) -> Result<Arc<File>, LogError> {
        if let Some(f) = self.slot.file().as_ref() {
            self.cache.touch(&self.slot);
            return Ok(f.clone());
        }
        self.cache.install(&self.slot, open_log)
    }

    /// The file if it is open now (never opens it).
    pub fn if_open(&self) -> Option<Arc<File>> {
        self.slot.file().clone()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.slot.path
    }
}

impl Drop for CachedFile {
    fn drop(&mut self) {
        self.cache.forget(&self.slot);
    }
}

#[cfg(test)]
#[path = "fd_cache_tests.rs"]
mod tests;
