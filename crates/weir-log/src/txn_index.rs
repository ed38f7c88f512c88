//! The transaction index (`<base>.txnindex`, Kafka's `TransactionIndex`): the aborted
//! transactions whose ABORT marker lies in the segment, in marker order.
//!
//! Each entry is Kafka's `AbortedTxn`, 34 bytes big-endian: `i16 version (0), i64 producer_id,
//! i64 first_offset, i64 last_offset (the marker's offset), i64 last_stable_offset` (the last
//! stable offset right after the marker: the first offset of the earliest other ongoing
//! transaction, else the marker's offset + 1). The file is created on the first entry (segments
//! without aborted transactions have none), appended to without fsync, flushed with its segment,
//! and its entries at or above the replay start are rebuilt from the log when a partition is
//! recovered or truncated. Entries are loaded lazily and kept in memory; no descriptor is held
//! (the file is opened for each append, truncation and fsync: aborts are rare).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::checkpoint::fsync_dir;
use crate::LogError;

/// Bytes per entry.
pub const ABORTED_TXN_LEN: usize = 34;

/// One aborted transaction (Kafka's `AbortedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: i64,
    /// Offset of the transaction's first batch in this partition.
    pub first_offset: i64,
    /// Offset of its ABORT marker.
    pub last_offset: i64,
    /// Last stable offset right after the marker was written.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    /// The 34-byte on-disk form (version 0).
    pub fn to_bytes(&self) -> [u8; ABORTED_TXN_LEN] {
        let mut b = [0u8; ABORTED_TXN_LEN];
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    /// Parse one entry; an unknown version is an error message.
    pub fn parse(b: &[u8; ABORTED_TXN_LEN]) -> Result<AbortedTxn, String> {
        let version = i16::from_be_bytes([b[0], b[1]]);
        if version != 0 {
            return Err(format!(
                "aborted transaction entry version {version} unknown"
            ));
        }
        let at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            i64::from_be_bytes(a)
        };
        Ok(AbortedTxn {
            producer_id: at(2),
            first_offset: at(10),
            last_offset: at(18),
            last_stable_offset: at(26),
        })
    }
}

/// One segment's transaction index.
#[derive(Debug)]
pub struct TxnIndex {
    path: PathBuf,
    entries: Option<Vec<AbortedTxn>>,
    /// Written since the last fsync.
    dirty: bool,
}

impl TxnIndex {
    /// The index at `path` (nothing is read until first use).
    pub fn new(path: PathBuf) -> TxnIndex {
        TxnIndex {
            path,
            entries: None,
            dirty: false,
        }
    }

    fn load(&mut self) -> Result<&mut Vec<AbortedTxn>, LogError> {
        if self.entries.is_none() {
            let bytes = match std::fs::read(&self.path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let whole = bytes.len() - bytes.len() % ABORTED_TXN_LEN;
            if whole != bytes.len() {
                tracing::warn!(file = %self.path.display(), bytes = bytes.len(), "transaction index has a torn entry; cut");
                self.open_file()?.set_len(whole as u64)?;
            }
            let mut entries = Vec::with_capacity(whole / ABORTED_TXN_LEN);
            for chunk in bytes[..whole].chunks_exact(ABORTED_TXN_LEN) {
                let mut a = [0u8; ABORTED_TXN_LEN];
                a.copy_from_slice(chunk);
                entries.push(
                    AbortedTxn::parse(&a).map_err(|reason| LogError::CorruptFile {
                        path: self.path.display().to_string(),
                        reason,
                    })?,
                );
            }
            self.entries = Some(entries);
        }
        Ok(self.entries.get_or_insert_with(Vec::new))
    }

    fn open_file(&mut self) -> Result<File, LogError> {
        let existed = self.path.exists();
        let f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| crate::fd_cache::open_error(&self.path, e))?;
        if !existed {
            if let Some(dir) = self.path.parent() {
                fsync_dir(dir)?;
            }
        }
        Ok(f)
    }

    /// Every entry, in marker order.
    pub fn entries(&mut self) -> Result<Vec<AbortedTxn>, LogError> {
        Ok(self.load()?.clone())
    }

    /// Append an entry; its marker must come after the last entry's (as Kafka checks).
    pub fn append(&mut self, txn: AbortedTxn) -> Result<(), LogError> {
        if let Some(last) = self.load()?.last().copied() {
            if last.last_offset >= txn.last_offset {
                return Err(LogError::CorruptFile {
                    path: self.path.display().to_string(),
                    reason: format!(
                        "aborted transaction at {} does not follow the last one at {}",
                        txn.last_offset, last.last_offset
                    ),
                });
            }
        }
        let bytes = txn.to_bytes();
        let f = self.open_file()?;
        crate::lazyfs::write(&f, None, bytes.len(), || (&mut &f).write_all(&bytes))?;
        self.dirty = true;
        self.load()?.push(txn);
        Ok(())
    }

    /// Remove every entry whose marker is at or above `offset` (Kafka's `truncateTo`).
    pub fn truncate_from(&mut self, offset: i64) -> Result<(), LogError> {
        let entries = self.load()?;
        let keep = entries
            .iter()
            .take_while(|t| t.last_offset < offset)
            .count();
        if keep == entries.len() {
            return Ok(());
        }
        entries.truncate(keep);
        self.open_file()?.set_len((keep * ABORTED_TXN_LEN) as u64)?;
        self.dirty = true;
        Ok(())
    }

    /// Kafka's `collectAbortedTxns`: entries overlapping `[fetch_offset, upper_bound)` (marker at
    /// or after `fetch_offset`, first offset below `upper_bound`), and whether the search is
    /// complete: an entry whose last stable offset reaches `upper_bound` proves that no later
    /// segment holds a transaction starting below it.
    pub fn collect(
        &mut self,
        fetch_offset: i64,
        upper_bound: i64,
    ) -> Result<(Vec<AbortedTxn>, bool), LogError> {
        let mut out = Vec::new();
        for t in self.load()?.iter() {
            if t.last_offset >= fetch_offset && t.first_offset < upper_bound {
                out.push(*t);
            }
            if t.last_stable_offset >= upper_bound {
                return Ok((out, true));
            }
        }
        Ok((out, false))
    }

    /// Fsync the file if it was written since the last flush.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if self.dirty {
            let f = self.open_file()?;
            crate::lazyfs::sync(&f, || f.sync_data())?;
            self.dirty = false;
        }
        Ok(())
    }

    /// For a flush outside the partition's lock: the file opened for the caller to fsync when
    /// it changed since its last sync (marked synced now; [`TxnIndex::mark_unsynced`] if that
    /// sync fails).
    pub fn take_unsynced(&mut self) -> Result<Option<File>, LogError> {
        if !self.dirty {
            return Ok(None);
        }
        let f = self.open_file()?;
        self.dirty = false;
        Ok(Some(f))
    }

    /// A sync of this file failed: the next flush syncs it again (if it exists).
    pub fn mark_unsynced(&mut self) {
        if self.path.exists() {
            self.dirty = true;
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entries_are_kafkas_34_bytes_and_survive_reopen_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.txnindex");
        let mut idx = TxnIndex::new(path.clone());
        assert!(idx.entries().unwrap().is_empty());
        assert!(!path.exists(), "created on the first entry only");
        idx.append(txn(7, 0, 5, 6)).unwrap();
        idx.append(txn(8, 2, 9, 10)).unwrap();
        assert!(idx.append(txn(9, 3, 9, 10)).is_err());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 68);
        let mut expected = vec![0, 0];
        for v in [7i64, 0, 5, 6] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(&bytes[..34], &expected[..]);
        let mut again = TxnIndex::new(path.clone());
        assert_eq!(
            again.entries().unwrap(),
            vec![txn(7, 0, 5, 6), txn(8, 2, 9, 10)]
        );
        again.truncate_from(9).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 34);
        // A torn entry is cut at load.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&[0; 10])
            .unwrap();
        let mut torn = TxnIndex::new(path.clone());
        assert_eq!(torn.entries().unwrap(), vec![txn(7, 0, 5, 6)]);
        assert_eq!(std::fs::read(&path).unwrap().len(), 34);
    }

    #[test]
    fn collect_stops_once_the_last_stable_offset_covers_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = TxnIndex::new(dir.path().join("x.txnindex"));
        idx.append(txn(1, 0, 10, 5)).unwrap();
        idx.append(txn(2, 5, 20, 21)).unwrap();
        idx.append(txn(3, 21, 30, 31)).unwrap();
        let (found, complete) = idx.collect(11, 15).unwrap();
        assert_eq!(found, vec![txn(2, 5, 20, 21)]);
        assert!(complete);
        let (found, complete) = idx.collect(0, 100).unwrap();
        assert_eq!(found.len(), 3);
        assert!(!complete);
    }
}
