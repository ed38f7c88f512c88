//! One segment: `<base>.log` plus its lazily loaded `.index`, `.timeindex` and `.txnindex`.
//!
//! The `.log` file is opened through the log directory's [`FdCache`] (closed when evicted,
//! reopened on the next read or append); the index files hold no descriptor (see `index.rs`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{self, BatchHeader, HEADER_LEN};
use crate::fd_cache::{CachedFile, FdCache};
use crate::index::{IndexFile, IndexKind};
use crate::txn_index::TxnIndex;
use crate::LogError;

/// `<dir>/<20-digit base offset>.<ext>`.
pub fn segment_path(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{ext}"))
}

/// A segment of a partition log.
#[derive(Debug)]
pub struct Segment {
    /// Offset of the first batch (also the file name).
    pub base_offset: i64,
    dir: PathBuf,
    log: CachedFile,
    /// The `.log` was written or truncated since the last [`Segment::flush`].
    log_dirty: bool,
    size: u64,
    index_max_bytes: u64,
    index_interval: u64,
    index: Option<IndexFile>,
    time_index: Option<IndexFile>,
    bytes_since_index: u64,
    /// Largest batch max timestamp seen (-1 = none/unknown yet).
    max_timestamp: i64,
    /// Offset of the batch holding `max_timestamp`.
    offset_of_max_timestamp: i64,
    /// Offset after the last batch (known once loaded).
    next_offset: i64,
    /// Wall-clock ms when the first batch was appended in this process (for `segment.ms`).
    pub created_ms: i64,
    /// Aborted transactions whose marker is in this segment.
    txn_index: TxnIndex,
}

/// A batch found by scanning a segment.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    /// File position of the batch.
    pub position: u64,
    /// Its header.
    pub header: BatchHeader,
}

impl Segment {
    /// Create a new empty segment (files created, directory fsynced by the caller).
    pub fn create(
        dir: &Path,
        base_offset: i64,
        index_max_bytes: u64,
        index_interval: u64,
        now_ms: i64,
        files: &Arc<FdCache>,
    ) -> Result<Segment, LogError> {
        let log = files.create(segment_path(dir, base_offset, "log"))?;
        let index = IndexFile::create(
            &segment_path(dir, base_offset, "index"),
            IndexKind::Offset,
            index_max_bytes,
        )?;
        let time_index = IndexFile::create(
            &segment_path(dir, base_offset, "timeindex"),
            IndexKind::Time,
            index_max_bytes,
        )?;
        // A new segment has no aborted transactions: drop a stale file left by a crash while an
        // older segment of the same base was being deleted.
        let txn_path = segment_path(dir, base_offset, "txnindex");
        match std::fs::remove_file(&txn_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log,
            log_dirty: false,
            size: 0,
            index_max_bytes,
            index_interval,
            index: Some(index),
            time_index: Some(time_index),
            bytes_since_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            next_offset: base_offset,
            created_ms: now_ms,
            txn_index: TxnIndex::new(txn_path),
        })
    }

    /// Open an existing segment without opening its file or reading its indexes (they load on
    /// first use).
    pub fn open(
        dir: &Path,
        base_offset: i64,
        index_max_bytes: u64,
        index_interval: u64,
        now_ms: i64,
        files: &Arc<FdCache>,
    ) -> Result<Segment, LogError> {
        let path = segment_path(dir, base_offset, "log");
        let size = std::fs::metadata(&path)?.len();
        Ok(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log: files.file(path),
            log_dirty: false,
            size,
            index_max_bytes,
            index_interval,
            index: None,
            time_index: None,
            bytes_since_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            next_offset: -1,
            created_ms: now_ms,
            txn_index: TxnIndex::new(segment_path(dir, base_offset, "txnindex")),
        })
    }

    /// Bytes in the `.log` file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The `.log` file, opened (again) through the descriptor cache if it is not open. The
    /// returned handle stays valid while held, even if the cache evicts the file meanwhile.
    pub fn log_file(&self) -> Result<Arc<File>, LogError> {
        self.log.get()
    }

    /// The `.log` file if it is open now (never opens it).
    pub fn log_file_if_open(&self) -> Option<Arc<File>> {
        self.log.if_open()
    }

    /// The segment's transaction index.
    pub fn txn_index(&mut self) -> &mut TxnIndex {
        &mut self.txn_index
    }

    /// Read the header of the batch at `pos` (None at end of file or if fewer than 61 bytes remain).
    pub fn header_at(&self, pos: u64) -> Result<Option<BatchHeader>, LogError> {
        if pos + HEADER_LEN as u64 > self.size {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_LEN];
        self.log.get()?.read_exact_at(&mut buf, pos)?;
        Ok(Some(BatchHeader::parse(&buf)?))
    }

    /// Load the indexes if needed, rebuilding them from the log when missing or corrupt.
    pub fn ensure_loaded(&mut self) -> Result<(), LogError> {
        if self.index.is_some() && self.time_index.is_some() && self.next_offset >= 0 {
            return Ok(());
        }
        let ip = segment_path(&self.dir, self.base_offset, "index");
        let tp = segment_path(&self.dir, self.base_offset, "timeindex");
        let idx = IndexFile::load(&ip, IndexKind::Offset, self.index_max_bytes, self.size)?;
        let tidx = IndexFile::load(&tp, IndexKind::Time, self.index_max_bytes, self.size)?;
        match (idx, tidx) {
            (Some(i), Some(t)) => {
                self.index = Some(i);
                self.time_index = Some(t);
                self.finish_load_from_index()?;
            }
            _ => {
                tracing::warn!(segment = %ip.display(), "index missing or corrupt; rebuilding from the log");
                self.rebuild_indexes(self.size)?;
            }
        }
        Ok(())
    }

    /// Compute next offset and max timestamp by scanning forward from the last index entry.
    fn finish_load_from_index(&mut self) -> Result<(), LogError> {
        let start = self
            .index
            .as_ref()
            .and_then(|i| i.last())
            .map(|(_, p)| p as u64)
            .unwrap_or(0);
        if let Some((ts, rel)) = self.time_index.as_ref().and_then(|t| t.last()) {
            self.max_timestamp = ts;
            self.offset_of_max_timestamp = self.base_offset + rel as i64;
        }
        let mut pos = start;
        self.next_offset = self.base_offset;
        while let Some(h) = self.header_at(pos)? {
            if pos + h.total_len as u64 > self.size {
                break;
            }
            self.next_offset = h.next_offset();
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
                self.offset_of_max_timestamp = h.last_offset();
            }
            pos += h.total_len as u64;
        }
        Ok(())
    }

    /// Recreate both indexes by scanning batch headers up to `valid_len` bytes.
    pub fn rebuild_indexes(&mut self, valid_len: u64) -> Result<(), LogError> {
        let ip = segment_path(&self.dir, self.base_offset, "index");
        let tp = segment_path(&self.dir, self.base_offset, "timeindex");
        self.index = Some(IndexFile::create(
            &ip,
            IndexKind::Offset,
            self.index_max_bytes,
        )?);
        self.time_index = Some(IndexFile::create(
            &tp,
            IndexKind::Time,
            self.index_max_bytes,
        )?);
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.next_offset = self.base_offset;
        self.bytes_since_index = u64::MAX; // index the first batch
        let mut pos = 0;
        self.size = valid_len;
        let interval = self.index_interval;
        while let Some(h) = self.header_at(pos)? {
            if pos + h.total_len as u64 > valid_len {
                break;
            }
            self.index_batch(&h, pos, interval)?;
            pos += h.total_len as u64;
        }
        Ok(())
    }

    fn index_batch(&mut self, h: &BatchHeader, pos: u64, interval: u64) -> Result<(), LogError> {
        let rel = h.last_offset() - self.base_offset;
        if self.bytes_since_index >= interval {
            if let Some(i) = self.index.as_mut() {
                i.append(rel, pos as u32)?;
            }
            if let Some(t) = self.time_index.as_mut() {
                if h.max_timestamp > self.max_timestamp {
                    t.append(h.max_timestamp, rel as u32)?;
                }
            }
            self.bytes_since_index = 0;
        }
        self.bytes_since_index = self.bytes_since_index.saturating_add(h.total_len as u64);
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        self.next_offset = h.next_offset();
        Ok(())
    }

    /// True when the indexes cannot take another entry.
    pub fn index_full(&self) -> bool {
        self.index.as_ref().is_some_and(|i| i.is_full())
            || self.time_index.as_ref().is_some_and(|t| t.is_full())
    }

    /// Append already-validated batches: the concatenation of `pieces` (one vectored write, no
    /// copy into one buffer), with `headers` at their positions inside that concatenation.
    pub fn append_pieces(
        &mut self,
        pieces: &[&[u8]],
        headers: &[(usize, BatchHeader)],
        interval: u64,
    ) -> Result<(), LogError> {
        self.ensure_loaded()?;
        let start = self.size;
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        let mut slices: Vec<std::io::IoSlice<'_>> =
            pieces.iter().map(|p| std::io::IoSlice::new(p)).collect();
        let mut rest = &mut slices[..];
        let log = self.log.get()?;
        self.log_dirty = true;
        // O_APPEND write: all bytes land at the end of the file.
        // (std passes at most IOV_MAX buffers per writev; the loop writes the rest.)
        crate::lazyfs::write(&log, None, total, || {
            while !rest.is_empty() {
                let n = std::io::Write::write_vectored(&mut &*log, rest)?;
                if n == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::WriteZero));
                }
                std::io::IoSlice::advance_slices(&mut rest, n);
            }
            Ok(())
        })?;
        for (off, h) in headers {
            self.index_batch(h, start + *off as u64, interval)?;
        }
        self.size = start + total as u64;
        Ok(())
    }

    /// Offset after the last batch.
    pub fn next_offset(&mut self) -> Result<i64, LogError> {
        self.ensure_loaded()?;
        Ok(self.next_offset)
    }

    /// (max timestamp, offset) of this segment; (-1, -1) when empty.
    pub fn max_timestamp(&mut self) -> Result<(i64, i64), LogError> {
        self.ensure_loaded()?;
        Ok((self.max_timestamp, self.offset_of_max_timestamp))
    }

    /// Position of the first batch whose last offset is >= `offset` (None if past the end).
    pub fn find(&mut self, offset: i64) -> Result<Option<Located>, LogError> {
        self.ensure_loaded()?;
        let rel = offset - self.base_offset;
        let mut pos = self
            .index
            .as_ref()
            .and_then(|i| i.floor(rel - 1))
            .map(|(_, p)| p as u64)
            .unwrap_or(0);
        // The floor entry indexes a batch whose last offset < offset; scan forward.
        while let Some(h) = self.header_at(pos)? {
            if pos + h.total_len as u64 > self.size {
                return Ok(None);
            }
            if h.last_offset() >= offset {
                return Ok(Some(Located {
                    position: pos,
                    header: h,
                }));
            }
            pos += h.total_len as u64;
        }
        Ok(None)
    }

    /// First batch whose max timestamp is >= `ts`.
    pub fn find_by_timestamp(&mut self, ts: i64) -> Result<Option<Located>, LogError> {
        self.ensure_loaded()?;
        if self.max_timestamp < ts {
            return Ok(None);
        }
        // Time index entries are (max ts so far, rel offset); start from the batch before the
        // first entry that reaches ts.
        let mut pos = 0;
        while let Some(h) = self.header_at(pos)? {
            if pos + h.total_len as u64 > self.size {
                break;
            }
            if h.max_timestamp >= ts {
                return Ok(Some(Located {
                    position: pos,
                    header: h,
                }));
            }
            pos += h.total_len as u64;
        }
        Ok(None)
    }

    /// Truncate the segment so it ends just before the batch containing `offset` (batches are
    /// atomic). Returns the new size.
    pub fn truncate_to_offset(&mut self, offset: i64) -> Result<u64, LogError> {
        let cut = match self.find(offset)? {
            Some(loc) => loc.position,
            None => return Ok(self.size),
        };
        self.truncate_bytes(cut)?;
        Ok(cut)
    }

    /// Truncate the `.log` to `len` bytes and drop index entries beyond it.
    pub fn truncate_bytes(&mut self, len: u64) -> Result<(), LogError> {
        let log = self.log.get()?;
        log.set_len(len)?;
        crate::lazyfs::sync(&log, || log.sync_data())?;
        self.size = len;
        self.rebuild_indexes(len)?;
        Ok(())
    }

    /// Fsync the log and its indexes (the transaction index included). A file not changed in
    /// this process since its last flush is not opened.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if self.log_dirty {
            let log = self.log.get()?;
            crate::lazyfs::sync(&log, || log.sync_data())?;
            self.log_dirty = false;
        }
        self.txn_index.flush()?;
        if let Some(i) = &mut self.index {
            i.flush()?;
        }
        if let Some(t) = &mut self.time_index {
            t.flush()?;
        }
        Ok(())
    }

    /// The first half of a flush that runs outside the partition's lock: write pending index
    /// entries and return every file with unsynced changes (the `.log`, its indexes, the
    /// transaction index), marked synced now. The caller fsyncs them and, if one fails, calls
    /// [`Segment::mark_unflushed`].
    pub fn prepare_flush(&mut self) -> Result<Vec<Arc<File>>, LogError> {
        let mut files = Vec::new();
        if self.log_dirty {
            files.push(self.log.get()?);
            self.log_dirty = false;
        }
        files.extend(self.txn_index.take_unsynced()?.map(Arc::new));
        if let Some(i) = &mut self.index {
            files.extend(i.take_unsynced()?.map(Arc::new));
        }
        if let Some(t) = &mut self.time_index {
            files.extend(t.take_unsynced()?.map(Arc::new));
        }
        Ok(files)
    }

    /// A sync of a file [`Segment::prepare_flush`] returned failed: flush everything again next
    /// time.
    pub fn mark_unflushed(&mut self) {
        self.log_dirty = true;
        self.txn_index.mark_unsynced();
        if let Some(i) = &mut self.index {
            i.mark_unsynced();
        }
        if let Some(t) = &mut self.time_index {
            t.mark_unsynced();
        }
    }

    /// Write index entries buffered in memory to their files (no fsync), so that a crash loses
    /// few of them.
    pub fn write_pending_index_entries(&mut self) -> Result<(), LogError> {
        if let Some(i) = &mut self.index {
            i.write_pending()?;
        }
        if let Some(t) = &mut self.time_index {
            t.write_pending()?;
        }
        Ok(())
    }

    /// On roll: add the final time index entry and trim both index files to their entries.
    pub fn seal(&mut self) -> Result<(), LogError> {
        self.ensure_loaded()?;
        if self.max_timestamp >= 0 {
            let rel = (self.offset_of_max_timestamp - self.base_offset) as u32;
            if let Some(t) = self.time_index.as_mut() {
                t.append(self.max_timestamp, rel)?;
            }
        }
        if let Some(i) = self.index.as_mut() {
            i.trim()?;
        }
        if let Some(t) = self.time_index.as_mut() {
            t.trim()?;
        }
        self.flush()
    }

    /// Delete the segment's files.
    pub fn delete_files(&self) -> Result<(), LogError> {
        for ext in ["log", "index", "timeindex", "txnindex"] {
            match std::fs::remove_file(segment_path(&self.dir, self.base_offset, ext)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Validate every batch from the start (CRC included); truncate at the first bad one.
    /// Returns the number of bytes dropped.
    pub fn recover(&mut self) -> Result<u64, LogError> {
        let mut pos = 0u64;
        let mut buf = Vec::new();
        while pos < self.size {
            let Ok(Some(h)) = self.header_at(pos) else {
                break;
            };
            if h.magic != 2 || pos + h.total_len as u64 > self.size {
                break;
            }
            buf.resize(h.total_len, 0);
            self.log.get()?.read_exact_at(&mut buf, pos)?;
            if batch::check_integrity(&buf).is_err() {
                break;
            }
            pos += h.total_len as u64;
        }
        let dropped = self.size - pos;
        if dropped > 0 {
            let log = self.log.get()?;
            log.set_len(pos)?;
            crate::lazyfs::sync(&log, || log.sync_data())?;
        }
        self.size = pos;
        self.rebuild_indexes(pos)?;
        Ok(dropped)
    }
}
