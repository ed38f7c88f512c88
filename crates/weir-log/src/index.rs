//! Sparse index files in Kafka's layout, preallocated and trimmed on roll.
//!
//! * `.index`: 8-byte entries (4-byte offset relative to the segment base, 4-byte file position).
//! * `.timeindex`: 12-byte entries (8-byte timestamp, 4-byte relative offset).
//!
//! All integers are big-endian. Entries live in memory; the file is their durable copy. No
//! descriptor is held: the file is opened for a moment to write entries in batches (every
//! [`WRITE_BATCH`] entries, and on flush, trim and truncation) and closed again, so an index costs
//! no file descriptor between writes (10,000 partitions would otherwise hold 20,000). Entries not
//! yet written are lost in a crash; a sparse index missing its tail is still correct (lookups scan
//! forward from the last entry), and the segment's log is the truth.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::LogError;

/// Which of the two index kinds a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// `.index`: key = relative offset (4 bytes), value = position.
    Offset,
    /// `.timeindex`: key = timestamp (8 bytes), value = relative offset.
    Time,
}

impl IndexKind {
    fn key_len(self) -> usize {
        match self {
            IndexKind::Offset => 4,
            IndexKind::Time => 8,
        }
    }
    /// Entry size in bytes.
    pub fn entry_len(self) -> usize {
        self.key_len() + 4
    }
}

/// Entries buffered in memory before they are written to the file.
pub const WRITE_BATCH: usize = 256;

/// One index file with its entries (key, value) in memory, keys ascending.
#[derive(Debug)]
pub struct IndexFile {
    kind: IndexKind,
    path: PathBuf,
    entries: Vec<(i64, u32)>,
    capacity: usize,
    /// Entries `..written` are in the file.
    written: usize,
    /// Entries were written since the last fsync.
    unsynced: bool,
}

fn open_rw(path: &Path, create: bool) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .open(path)
        .map_err(|e: io::Error| crate::fd_cache::open_error(path, e))
}

impl IndexFile {
    /// Create (or reset) an index file preallocated to `max_bytes` (rounded down to whole entries).
    pub fn create(path: &Path, kind: IndexKind, max_bytes: u64) -> Result<IndexFile, LogError> {
        let file = open_rw(path, true)?;
        let capacity = (max_bytes as usize / kind.entry_len()).max(2);
        file.set_len((capacity * kind.entry_len()) as u64)?;
        Ok(IndexFile {
            kind,
            path: path.to_path_buf(),
            entries: Vec::new(),
            capacity,
            written: 0,
            unsynced: false,
        })
    }

    /// Load an existing index. Trailing zero entries (preallocated space) are ignored. Returns
    /// `Ok(None)` when the file is missing or its entries are not sane for a log of `log_size` bytes
    /// (then the caller rebuilds it from the log).
    pub fn load(
        path: &Path,
        kind: IndexKind,
        max_bytes: u64,
        log_size: u64,
    ) -> Result<Option<IndexFile>, LogError> {
        let Some(entries) = Self::read_entries(path, kind, log_size)? else {
            return Ok(None);
        };
        let n = kind.entry_len();
        let file = open_rw(path, false)?;
        let capacity = (max_bytes as usize / n).max(entries.len() + 2);
        file.set_len((capacity * n) as u64)?;
        let written = entries.len();
        Ok(Some(IndexFile {
            kind,
            path: path.to_path_buf(),
            entries,
            capacity,
            written,
            unsynced: false,
        }))
    }

    /// The entries of an index file, read only (no file is changed): `Ok(None)` when the file is
    /// missing or its entries are not sane for a log of `log_size` bytes.
    pub fn read_entries(
        path: &Path,
        kind: IndexKind,
        log_size: u64,
    ) -> Result<Option<Vec<(i64, u32)>>, LogError> {
        // Read in chunks up to the first all-zero entry: an index left preallocated (the active
        // segment's, 10 MiB by default) is mostly a sparse tail of zeros that is never read.
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::fd_cache::open_error(path, e)),
        };
        let len = file.metadata()?.len();
        let n = kind.entry_len();
        if len % n as u64 != 0 {
            return Ok(None);
        }
        let k = kind.key_len();
        let mut entries: Vec<(i64, u32)> = Vec::new();
        let mut buf = vec![0u8; n * 8192];
        let mut pos = 0u64;
        'chunks: while pos < len {
            let want = buf.len().min((len - pos) as usize);
            file.read_exact_at(&mut buf[..want], pos)?;
            pos += want as u64;
            for chunk in buf[..want].chunks_exact(n) {
                let key = match kind {
                    IndexKind::Offset => {
                        i32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as i64
                    }
                    IndexKind::Time => {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(&chunk[..8]);
                        i64::from_be_bytes(a)
                    }
                };
                let value =
                    u32::from_be_bytes([chunk[k], chunk[k + 1], chunk[k + 2], chunk[k + 3]]);
                if key == 0 && value == 0 && !entries.is_empty() {
                    break 'chunks; // preallocated tail
                }
                if key == 0 && value == 0 && kind == IndexKind::Time {
                    break 'chunks;
                }
                if let Some(&(pk, pv)) = entries.last() {
                    let monotonic = match kind {
                        IndexKind::Offset => key > pk && value > pv,
                        IndexKind::Time => key > pk && value >= pv,
                    };
                    if !monotonic {
                        return Ok(None);
                    }
                }
                if kind == IndexKind::Offset && value as u64 >= log_size.max(1) {
                    return Ok(None);
                }
                entries.push((key, value));
            }
        }
        Ok(Some(entries))
    }

    /// True when no more entries fit (the segment must roll).
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// Last entry.
    pub fn last(&self) -> Option<(i64, u32)> {
        self.entries.last().copied()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Append an entry if its key is larger than the last one; ignored otherwise or when full.
    pub fn append(&mut self, key: i64, value: u32) -> Result<(), LogError> {
        if self.is_full() || self.entries.last().is_some_and(|&(k, _)| k >= key) {
            return Ok(());
        }
        self.entries.push((key, value));
        if self.entries.len() - self.written >= WRITE_BATCH {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Entries in memory not yet written to the file.
    pub fn pending(&self) -> usize {
        self.entries.len() - self.written
    }

    /// Write the entries not yet in the file (opened and closed for it; no fsync).
    pub fn write_pending(&mut self) -> Result<(), LogError> {
        if self.written >= self.entries.len() {
            return Ok(());
        }
        let n = self.kind.entry_len();
        let k = self.kind.key_len();
        let mut buf = Vec::with_capacity((self.entries.len() - self.written) * n);
        for &(key, value) in &self.entries[self.written..] {
            match self.kind {
                IndexKind::Offset => buf.extend_from_slice(&(key as i32).to_be_bytes()),
                IndexKind::Time => buf.extend_from_slice(&key.to_be_bytes()),
            }
            buf.extend_from_slice(&value.to_be_bytes());
            debug_assert_eq!(buf.len() % n, 0, "key length {k}");
        }
        let pos = (self.written * n) as u64;
        let file = open_rw(&self.path, false)?;
        crate::lazyfs::write(&file, Some(pos), buf.len(), || file.write_all_at(&buf, pos))?;
        self.written = self.entries.len();
        self.unsynced = true;
        Ok(())
    }

    /// The last entry whose key is <= `key`.
    pub fn floor(&self, key: i64) -> Option<(i64, u32)> {
        let i = self.entries.partition_point(|&(k, _)| k <= key);
        if i == 0 {
            None
        } else {
            Some(self.entries[i - 1])
        }
    }

    /// The first entry whose key is >= `key`.
    pub fn ceiling(&self, key: i64) -> Option<(i64, u32)> {
        let i = self.entries.partition_point(|&(k, _)| k < key);
        self.entries.get(i).copied()
    }

    /// Drop entries whose value (offset index: position; time index: relative offset) is >= `v`.
    pub fn truncate_values_from(&mut self, v: u32) -> Result<(), LogError> {
        let keep = self.entries.iter().take_while(|&&(_, x)| x < v).count();
        self.entries.truncate(keep);
        if keep < self.written {
            // Zero the dropped entries in the file so a reload stops at the right place (past
            // `written` the file is still zero).
            let n = self.kind.entry_len();
            let zero = vec![0u8; (self.written - keep) * n];
            let pos = (keep * n) as u64;
            let file = open_rw(&self.path, false)?;
            crate::lazyfs::write(&file, Some(pos), zero.len(), || {
                file.write_all_at(&zero, pos)
            })?;
            self.written = keep;
            self.unsynced = true;
        }
        Ok(())
    }

    /// Shrink the file to its entries (on roll and shutdown), as Kafka does.
    pub fn trim(&mut self) -> Result<(), LogError> {
        self.write_pending()?;
        let n = self.kind.entry_len();
        open_rw(&self.path, false)?.set_len((self.entries.len() * n) as u64)?;
        self.capacity = self.entries.len();
        Ok(())
    }

    /// Write the pending entries and fsync the file (nothing is done when nothing changed).
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.write_pending()?;
        if self.unsynced {
            let file = open_rw(&self.path, false)?;
            crate::lazyfs::sync(&file, || file.sync_data())?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// For a flush outside the partition's lock: write the pending entries and, when the file
    /// has unsynced entries, return it opened for the caller to fsync (marked synced now; call
    /// [`IndexFile::mark_unsynced`] if that sync fails).
    pub fn take_unsynced(&mut self) -> Result<Option<File>, LogError> {
        self.write_pending()?;
        if !self.unsynced {
            return Ok(None);
        }
        let file = open_rw(&self.path, false)?;
        self.unsynced = false;
        Ok(Some(file))
    }

    /// A sync of this file failed: the next flush syncs it again.
    pub fn mark_unsynced(&mut self) {
        self.unsynced = true;
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_persist_and_garbage_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000000.index");
        let mut idx = IndexFile::create(&p, IndexKind::Offset, 1024).unwrap();
        idx.append(0, 0).unwrap();
        idx.append(10, 4096).unwrap();
        idx.append(25, 9000).unwrap();
        idx.flush().unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 1024);
        let re = IndexFile::load(&p, IndexKind::Offset, 1024, 10_000)
            .unwrap()
            .unwrap();
        assert_eq!(re.len(), 3);
        assert_eq!(re.floor(12), Some((10, 4096)));
        assert_eq!(re.floor(9), Some((0, 0)));
        // positions past the log size mean the index is stale → rebuild
        assert!(IndexFile::load(&p, IndexKind::Offset, 1024, 5000)
            .unwrap()
            .is_none());
        std::fs::write(&p, b"garbage!garbage!x").unwrap();
        assert!(IndexFile::load(&p, IndexKind::Offset, 1024, 10_000)
            .unwrap()
            .is_none());
        std::fs::write(&p, [0xffu8; 16]).unwrap();
        assert!(IndexFile::load(&p, IndexKind::Offset, 1024, 10_000)
            .unwrap()
            .is_none());
    }
}
