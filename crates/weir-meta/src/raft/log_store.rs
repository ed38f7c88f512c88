//! The Raft log and vote on disk, under `<metadata.log.dir>`:
//!
//! * `raft.log` — appended entries, each framed `u32 length, u32 crc32c, JSON entry`, fsynced
//!   before an append is reported flushed; a torn or corrupt tail is cut off at open.
//! * `vote.json`, `committed.json`, `purged.json` — written atomically (temp, fsync, rename).
//!
//! Truncation and purging rewrite `raft.log` atomically; snapshots keep it short.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{
    Entry, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, StorageError, Vote,
};

use super::{io_err, write_atomic, TypeConfig};

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    vote: Option<Vote<u64>>,
    committed: Option<LogId<u64>>,
    purged: Option<LogId<u64>>,
}

/// The log store (cheap to clone; clones share the state).
#[derive(Debug, Clone)]
pub struct LogStore {
    dir: PathBuf,
    inner: Arc<Mutex<Inner>>,
}

fn frame(e: &Entry<TypeConfig>) -> Vec<u8> {
    let json = serde_json::to_vec(e).unwrap_or_default();
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&json).to_be_bytes());
    out.extend_from_slice(&json);
    out
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> std::io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl LogStore {
    /// Open (or create) the store in `dir`, recovering `raft.log` up to its last whole entry.
    pub fn open(dir: &Path) -> std::io::Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        let mut inner = Inner {
            vote: read_json(&dir.join("vote.json"))?,
            committed: read_json(&dir.join("committed.json"))?,
            purged: read_json(&dir.join("purged.json"))?,
            ..Default::default()
        };
        let path = dir.join("raft.log");
        let mut bytes = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut bytes)?;
        }
        let mut pos = 0usize;
        while pos + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap_or([0; 4])) as usize;
            let crc = u32::from_be_bytes(bytes[pos + 4..pos + 8].try_into().unwrap_or([0; 4]));
            let Some(json) = bytes.get(pos + 8..pos + 8 + len) else {
                break;
            };
            if crc32c::crc32c(json) != crc {
                break;
            }
            let Ok(e) = serde_json::from_slice::<Entry<TypeConfig>>(json) else {
                break;
            };
            inner.entries.insert(e.log_id.index, e);
            pos += 8 + len;
        }
        if pos < bytes.len() {
            tracing::warn!(file = %path.display(), kept = pos, dropped = bytes.len() - pos, "metadata log: cut a torn or corrupt tail");
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(pos as u64)?;
            f.sync_all()?;
        }
        Ok(LogStore {
            dir: dir.to_path_buf(),
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rewrite(&self, inner: &Inner) -> std::io::Result<()> {
        let mut all = Vec::new();
        for e in inner.entries.values() {
            all.extend_from_slice(&frame(e));
        }
        write_atomic(&self.dir.join("raft.log"), &all)
    }

    /// Number of entries held (tests, diagnostics).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        Ok(self
            .lock()
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let inner = self.lock();
        let last = inner
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(inner.purged);
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        let bytes = serde_json::to_vec(vote).unwrap_or_default();
        write_atomic(&self.dir.join("vote.json"), &bytes)
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, &e))?;
        self.lock().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.lock().vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = serde_json::to_vec(&committed).unwrap_or_default();
        write_atomic(&self.dir.join("committed.json"), &bytes)
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, &e))?;
        self.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut inner = self.lock();
        let mut bytes = Vec::new();
        let mut added = Vec::new();
        for e in entries {
            bytes.extend_from_slice(&frame(&e));
            added.push(e);
        }
        let result = (|| {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("raft.log"))?;
            // The power-failure test layer journals the append and its fsync (test builds).
            #[cfg(feature = "lazyfs")]
            return weir_log::lazyfs::write(&f, None, bytes.len(), || (&f).write_all(&bytes))
                .and_then(|()| weir_log::lazyfs::sync(&f, || f.sync_data()));
            #[cfg(not(feature = "lazyfs"))]
            {
                (&f).write_all(&bytes)?;
                f.sync_data()
            }
        })();
        if let Err(e) = &result {
            let err = io_err(ErrorSubject::Logs, ErrorVerb::Write, e);
            callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
            return Err(err);
        }
        for e in added {
            inner.entries.insert(e.log_id.index, e);
        }
        drop(inner);
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut inner = self.lock();
        let doomed: Vec<u64> = inner
            .entries
            .range(log_id.index..)
            .map(|(k, _)| *k)
            .collect();
        for k in doomed {
            inner.entries.remove(&k);
        }
        self.rewrite(&inner)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, &e))
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut inner = self.lock();
        let bytes = serde_json::to_vec(&Some(log_id)).unwrap_or_default();
        write_atomic(&self.dir.join("purged.json"), &bytes)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, &e))?;
        inner.purged = Some(log_id);
        let doomed: Vec<u64> = inner
            .entries
            .range(..=log_id.index)
            .map(|(k, _)| *k)
            .collect();
        for k in doomed {
            inner.entries.remove(&k);
        }
        self.rewrite(&inner)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, &e))
    }
}
