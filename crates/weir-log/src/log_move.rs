//! Moving a partition between log dirs while it is served (AlterReplicaLogDirs), and finishing or
//! undoing a move a crash interrupted.
//!
//! A move copies the partition directory into `<dest>/<topic>-<partition>.weir-future` in two
//! passes. The first runs while the partition keeps serving: every file except the active
//! segment's indexes (preallocated; rebuilt from the log on first use). The second runs under the
//! partition's lock, so no append happens meanwhile, after flushing every segment and writing a
//! producer snapshot: what changed since the first pass (the active segment's new tail, new
//! segments, snapshots, checkpoints) is copied, files gone from the source are removed, every
//! file and the directory are fsynced, the source is renamed to `<topic>-<partition>.weir-delete`,
//! the copy to `<topic>-<partition>` (both directories fsynced), and the log is reopened from the
//! new dir in place of the old one, which from then on refuses every call (a request that held it
//! gets a retriable error). The old directory is deleted last.
//!
//! At start, before anything is opened ([`recover_interrupted_moves`]): a `-delete` directory
//! whose partition exists under its plain name somewhere finished its move and is removed; if
//! instead a complete `-future` copy exists (the copy is fsynced before the source is renamed)
//! the copy is renamed into place; otherwise the `-delete` directory is renamed back. A `-future`
//! directory left without a `-delete` one is an unfinished copy and is removed.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::checkpoint::fsync_dir;
use crate::log_manager::LogManager;
use crate::partition_log::PartitionLog;
use crate::{LogError, TopicPartition};

use crate::log_move_recovery::{DELETE, FUTURE};

fn other(msg: String) -> LogError {
    LogError::Io(std::io::Error::other(msg))
}

/// True for the active segment's `.index`/`.timeindex` (preallocated; rebuilt at open).
fn is_active_index(name: &str, active: i64) -> bool {
    let base = format!("{active:020}");
    name == format!("{base}.index") || name == format!("{base}.timeindex")
}

/// Files (not directories) of `dir` with their lengths.
fn files(dir: &Path) -> Result<HashMap<String, u64>, LogError> {
    let mut out = HashMap::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let meta = e.metadata()?;
        if meta.is_file() {
            out.insert(e.file_name().to_string_lossy().into_owned(), meta.len());
        }
    }
    Ok(out)
}

/// Copy `from[offset..]` to the end of `to` (cut to `offset` first).
fn copy_tail(from: &Path, to: &Path, offset: u64) -> Result<(), LogError> {
    let mut src = fs::File::open(from)?;
    src.seek(SeekFrom::Start(offset))?;
    let mut dst = fs::OpenOptions::new().write(true).open(to)?;
    dst.set_len(offset)?;
    dst.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        dst.write_all(&buf[..n])?;
    }
}

/// Copy a preallocated index file without its zero tail (whole entries of `entry` bytes), so
/// the copy stays small; opening it preallocates again and ignores the zero entries.
fn copy_index(from: &Path, to: &Path, entry: usize) -> Result<(), LogError> {
    let bytes = fs::read(from)?;
    let used = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let len = used.div_ceil(entry) * entry;
    fs::write(to, &bytes[..len.min(bytes.len())])?;
    Ok(())
}

/// First pass (the partition keeps serving): copy every file but the active segment's indexes.
fn first_pass(src: &Path, dst: &Path, active: i64) -> Result<(), LogError> {
    for name in files(src)?.into_keys() {
        if is_active_index(&name, active) || name.ends_with(".tmp") {
            continue;
        }
        fs::copy(src.join(&name), dst.join(&name))?;
    }
    Ok(())
}

/// Second pass (under the partition's lock, segments flushed): bring `dst` level with `src`,
/// fsync it all.
fn second_pass(src: &Path, dst: &Path, active: i64) -> Result<(), LogError> {
    let have = files(dst)?;
    let want = files(src)?;
    for name in have.keys() {
        if !want.contains_key(name) {
            fs::remove_file(dst.join(name))?;
        }
    }
    for (name, &len) in &want {
        if name.ends_with(".tmp") {
            continue;
        }
        if is_active_index(name, active) {
            let entry = if name.ends_with(".timeindex") { 12 } else { 8 };
            copy_index(&src.join(name), &dst.join(name), entry)?;
            continue;
        }
        let (from, to) = (src.join(name), dst.join(name));
        match have.get(name) {
            // Segments only grow at their end: copy the new tail.
            Some(&had) if name.ends_with(".log") && had <= len => copy_tail(&from, &to, had)?,
            _ => {
                fs::copy(&from, &to)?;
            }
        }
    }
    for name in files(dst)?.into_keys() {
        fs::File::open(dst.join(name))?.sync_all()?;
    }
    fsync_dir(dst)
}

impl LogManager {
    /// The index in `log.dirs` of `dir` (compared as given and as absolute paths).
    pub fn dir_index(&self, dir: &Path) -> Option<usize> {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let want = abs(dir);
        self.dirs.iter().position(|d| abs(&d.path) == want)
    }

    /// Move `tp`'s log into log dir `dest` (an index of [`LogManager::log_dirs`]) while it is
    /// served, as described in the module doc; `Ok(false)` when it is there already. Errors:
    /// the partition is not hosted here, a dir is offline, another move of it is running, or an
    /// I/O error (the partition then stays where it was, unless the source dir failed).
    pub fn move_partition(&self, tp: &TopicPartition, dest: usize) -> Result<bool, LogError> {
        let src = *self
            .read_placed()
            .get(tp)
            .ok_or_else(|| other(format!("{} is not hosted here", tp.dir_name())))?;
        if src == dest {
            return Ok(false);
        }
        let (from_dir, to_dir) = match (self.dirs.get(src), self.dirs.get(dest)) {
            (Some(a), Some(b)) if !a.is_offline() && !b.is_offline() => (a, b),
            _ => return Err(other("a log dir of the move is offline or unknown".into())),
        };
        if !self
            .moving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tp.clone())
        {
            return Err(other(format!("{} is already being moved", tp.dir_name())));
        }
        let log = self.get(tp);
        let result = match log {
            Some(log) => self.move_open(tp, &log, src, dest),
            None => Err(other(format!("{} is not open", tp.dir_name()))),
        };
        self.moving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tp);
        if result.is_ok() {
            let old = from_dir.path.join(format!("{}{DELETE}", tp.dir_name()));
            if let Err(e) = fs::remove_dir_all(&old).map_err(LogError::from) {
                tracing::warn!(dir = %old.display(), error = %e, "could not delete the moved partition's old directory");
            }
            let _ = fsync_dir(&from_dir.path);
            if let Err(e) = to_dir.checkpoint(&self.logs_in(dest)) {
                tracing::warn!(dir = %to_dir.path.display(), error = %e, "checkpoint after a move failed");
            }
            tracing::info!(partition = %tp.dir_name(), from = %from_dir.path.display(), to = %to_dir.path.display(), "moved a partition between log dirs");
        }
        result.map(|()| true)
    }

    fn move_open(
        &self,
        tp: &TopicPartition,
        log: &PartitionLog,
        src: usize,
        dest: usize,
    ) -> Result<(), LogError> {
        let (from, to) = (&self.dirs[src], &self.dirs[dest]);
        let name = tp.dir_name();
        let future = to.path.join(format!("{name}{FUTURE}"));
        let deleted = from.path.join(format!("{name}{DELETE}"));
        let target = to.path.join(&name);
        if future.exists() {
            fs::remove_dir_all(&future)?;
        }
        fs::create_dir_all(&future)?;
        let source: PathBuf = log.dir().to_path_buf();
        let copied = first_pass(&source, &future, log.active_base());
        if let Err(e) = copied {
            let _ = fs::remove_dir_all(&future);
            return Err(e);
        }
        // From here on no lookup sees the old log until the new one replaces it.
        let mut logs = self.logs.write().unwrap_or_else(|e| e.into_inner());
        let sealed = log.seal_for_move(|active| {
            second_pass(&source, &future, active)?;
            fsync_dir(&to.path)?;
            fs::rename(&source, &deleted)?;
            fsync_dir(&from.path)?;
            if let Err(e) = fs::rename(&future, &target).and_then(|()| {
                fsync_dir(&to.path).map_err(|e| std::io::Error::other(e.to_string()))
            }) {
                let _ = fs::rename(&deleted, &source);
                return Err(e.into());
            }
            Ok(())
        });
        let offsets = match sealed {
            Ok(o) => o,
            Err(e) => {
                drop(logs);
                let _ = fs::remove_dir_all(&future);
                return Err(e);
            }
        };
        let reopened = PartitionLog::open(
            tp.clone(),
            target,
            log.config(),
            to.commit.clone(),
            self.clock(),
            offsets,
            self.files.clone(),
        )?;
        logs.insert(tp.clone(), std::sync::Arc::new(reopened));
        self.placed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tp.clone(), dest);
        from.forget(tp);
        Ok(())
    }
}

#[cfg(test)]
#[path = "log_move_tests.rs"]
mod tests;
