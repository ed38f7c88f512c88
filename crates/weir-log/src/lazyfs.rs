//! A fault-injecting file layer for power-failure tests (in the spirit of Jepsen's LazyFS):
//! what a power failure does to data that was written but not yet fsynced.
//!
//! Built only with the `lazyfs` cargo feature (`cargo build -p weir --features lazyfs`), and
//! active only when [`ENV_JOURNAL`] names a journal file. Without the feature, [`write`] and
//! [`sync`] are inline pass-throughs (the layer is compiled out); the offline
//! [`drop_unsynced`] is always there, for the chaos tool.
//!
//! **How.** Weir's data files are written as usual (reads see everything, as from the page
//! cache). Before each hooked write the layer appends an undo record to the journal: file
//! (device, inode, path), a sequence number, offset, length, the file's size and the bytes the
//! write overwrites. A completed `fsync`/`fdatasync` of a file appends a sync record that makes
//! every earlier write of that file durable (a write is "earlier" when it completed before the
//! sync began: writes and sequence numbers are taken under one lock). The journal is written
//! with plain `write(2)`, so it survives a `kill -9` of the process (the page cache is kept) and
//! is carried on by the next run of the same node. After every node has been killed at once,
//! [`drop_unsynced`] undoes, newest first, every write not made durable: an append is cut off
//! (the file's size reverts), an overwrite gets its old bytes back. That is the file state a
//! power failure leaves when every unsynced write is lost (LazyFS's "clear cache" fault).
//!
//! **Hooked:** segment appends and truncations (`.log`), offset/time index entries, the
//! transaction index, and (with `weir-meta/lazyfs`) the metadata Raft log. Group-commit
//! fdatasyncs and every other fsync of those files count as syncs.
//!
//! **Not modelled:** metadata operations (create, rename, unlink, `ftruncate`) are durable at
//! once; files written atomically (temp file, fsync, rename: checkpoints, snapshots, Raft vote
//! and commit files) are not hooked, as they are fsynced before they become visible; partial
//! loss (some unsynced writes surviving, torn pages, reordering) is not injected; unsynced
//! writes of a file that was renamed or replaced afterwards are reported as skipped, not undone.
//!
//! **Slow disks.** While [`slow_file`] of the journal exists and holds a number of
//! milliseconds, every hooked sync first sleeps that long.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The environment variable naming the journal; the layer records nothing without it.
pub const ENV_JOURNAL: &str = "LAZYFS_JOURNAL";

/// Text that a binary built with the feature carries (it is logged when the layer starts).
pub const MARKER: &str = "weir-lazyfs-layer-active";

/// The slow-disk control file of `journal`: `<journal>.slow`, holding a delay in milliseconds.
pub fn slow_file(journal: &Path) -> PathBuf {
    let mut s = journal.as_os_str().to_owned();
    s.push(".slow");
    PathBuf::from(s)
}

/// Run the write `op` of `len` bytes at `offset` of `file` (`None`: an append at its end).
/// With the layer active the write is journalled first.
#[inline]
pub fn write<R>(
    file: &File,
    offset: Option<u64>,
    len: usize,
    op: impl FnOnce() -> io::Result<R>,
) -> io::Result<R> {
    #[cfg(feature = "lazyfs")]
    if let Some(rec) = active::recorder() {
        return rec.write(file, offset, len, op);
    }
    let _ = (file, offset, len);
    op()
}

/// Run the fsync/fdatasync `op` of `file`. With the layer active it is delayed while the
/// disk is slow, and journalled once it succeeded.
#[inline]
pub fn sync(file: &File, op: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    #[cfg(feature = "lazyfs")]
    if let Some(rec) = active::recorder() {
        return rec.sync(file, op);
    }
    let _ = file;
    op()
}

/// Run `op`, one sync that covers every file of `files` (e.g. a `syncfs` of their filesystem).
/// With the layer active the writes journalled before `op` started are durable once it
/// succeeded (writes racing with it are not), and a slow disk delays it once.
#[inline]
pub fn sync_files<F: std::borrow::Borrow<File>>(
    files: &[F],
    op: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    #[cfg(feature = "lazyfs")]
    if let Some(rec) = active::recorder() {
        return rec.sync_files(files, op);
    }
    let _ = files;
    op()
}

/// Test builds: a power failure inside this process. Every write of the journal named by
/// [`ENV_JOURNAL`] that no sync covered is undone (as [`drop_unsynced`] does between a kill of
/// every node and their restart) and the journal starts over empty. The caller must have closed
/// the logs first (nothing may write meanwhile). `None` when the layer is not active.
#[cfg(feature = "lazyfs")]
pub fn power_failure_in_process() -> io::Result<Option<Dropped>> {
    active::recorder().map(|r| r.power_cycle()).transpose()
}

/// One journalled write not yet made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WriteRec {
    seq: u64,
    offset: u64,
    len: u64,
    /// The file's size before the write.
    old_size: u64,
    /// The bytes the write overwrote, without trailing zeros (the rest up to `len` was zeros or
    /// past the end).
    old: Vec<u8>,
}

impl WriteRec {
    #[cfg_attr(not(feature = "lazyfs"), allow(dead_code))]
    fn render(&self, id: u32) -> String {
        let hex = if self.old.is_empty() {
            "-".to_string()
        } else {
            self.old.iter().map(|b| format!("{b:02x}")).collect()
        };
        format!(
            "W {id} {} {} {} {} {hex}\n",
            self.seq, self.offset, self.len, self.old_size
        )
    }
}

/// A file the journal knows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileRec {
    dev: u64,
    ino: u64,
    path: PathBuf,
}

impl FileRec {
    #[cfg_attr(not(feature = "lazyfs"), allow(dead_code))]
    fn render(&self, id: u32) -> String {
        format!("F {id} {} {} {}\n", self.dev, self.ino, self.path.display())
    }
}

/// A parsed journal: files, and per file the writes no sync covers (oldest first).
#[derive(Debug, Default)]
struct Parsed {
    files: BTreeMap<u32, FileRec>,
    pending: BTreeMap<u32, Vec<WriteRec>>,
    max_seq: u64,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s == "-" {
        return Some(Vec::new());
    }
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parse a journal; malformed lines (a torn last line) are ignored.
fn parse(text: &str) -> Parsed {
    let mut p = Parsed::default();
    for line in text.lines() {
        let mut it = line.splitn(7, ' ');
        let (kind, id) = match (it.next(), it.next().and_then(|s| s.parse::<u32>().ok())) {
            (Some(k), Some(id)) => (k, id),
            _ => continue,
        };
        let nums: Vec<&str> = it.collect();
        let num = |i: usize| nums.get(i).and_then(|s| s.parse::<u64>().ok());
        match kind {
            "F" => {
                // The path may hold spaces: everything after the inode.
                let rest = line.splitn(5, ' ').nth(4);
                if let (Some(dev), Some(ino), Some(path)) = (num(0), num(1), rest) {
                    p.files.insert(
                        id,
                        FileRec {
                            dev,
                            ino,
                            path: PathBuf::from(path),
                        },
                    );
                }
            }
            "W" => {
                let old = nums.get(4).and_then(|s| unhex(s));
                if let (Some(seq), Some(offset), Some(len), Some(old_size), Some(old)) =
                    (num(0), num(1), num(2), num(3), old)
                {
                    p.max_seq = p.max_seq.max(seq);
                    p.pending.entry(id).or_default().push(WriteRec {
                        seq,
                        offset,
                        len,
                        old_size,
                        old,
                    });
                }
            }
            "S" => {
                if let (Some(seq), Some(recs)) = (num(0), p.pending.get_mut(&id)) {
                    recs.retain(|r| r.seq > seq);
                }
            }
            _ => {}
        }
    }
    p.pending.retain(|_, v| !v.is_empty());
    p
}

/// What [`drop_unsynced`] undid.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Files changed.
    pub files: usize,
    /// Unsynced writes undone.
    pub writes: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Files whose unsynced writes could not be undone (gone, renamed or replaced), and why.
    pub skipped: Vec<String>,
}

/// Undo, newest first, every write that `journal` records as not yet made durable, fsync the
/// files, and remove the journal: the state a power failure leaves when every unsynced write is
/// lost. Call it only while no process uses the files. A missing journal undoes nothing.
pub fn drop_unsynced(journal: &Path) -> io::Result<Dropped> {
    let text = match std::fs::read(journal) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Dropped::default()),
        Err(e) => return Err(e),
    };
    let parsed = parse(&String::from_utf8_lossy(&text));
    let mut out = Dropped::default();
    for (id, recs) in &parsed.pending {
        let Some(f) = parsed.files.get(id) else {
            out.skipped.push(format!("file {id}: not in the journal"));
            continue;
        };
        let file = match OpenOptions::new().read(true).write(true).open(&f.path) {
            Ok(file) => file,
            Err(e) => {
                out.skipped.push(format!("{}: {e}", f.path.display()));
                continue;
            }
        };
        let md = file.metadata()?;
        if (md.dev(), md.ino()) != (f.dev, f.ino) {
            out.skipped
                .push(format!("{}: replaced since written", f.path.display()));
            continue;
        }
        for r in recs.iter().rev() {
            let cur = file.metadata()?.len();
            let end = (r.offset + r.len).min(cur);
            if r.offset < end {
                let mut old = r.old.clone();
                old.resize((end - r.offset) as usize, 0);
                file.write_all_at(&old, r.offset)?;
            }
            if r.old_size < r.offset + r.len && cur > r.old_size {
                file.set_len(r.old_size)?;
            }
            out.writes += 1;
            out.bytes += r.len;
        }
        file.sync_all()?;
        out.files += 1;
    }
    std::fs::remove_file(journal)?;
    Ok(out)
}

#[cfg(feature = "lazyfs")]
mod active {
    //! The recorder of a process with the layer active.

    use std::collections::{BTreeMap, HashMap};
    use std::fs::{File, OpenOptions};
    use std::io::{self, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileExt, MetadataExt};
    use std::path::PathBuf;
    use std::sync::{Mutex, MutexGuard, OnceLock};
    use std::time::Duration;

    use super::{parse, slow_file, FileRec, WriteRec, ENV_JOURNAL, MARKER};

    /// Rewrite the journal (only what is still pending) once it is this long.
    const COMPACT_AT: u64 = 8 << 20;

    /// The process's recorder.
    pub(super) struct Recorder {
        path: PathBuf,
        slow: PathBuf,
        inner: Mutex<Inner>,
    }

    struct Inner {
        out: File,
        bytes: u64,
        next_id: u32,
        seq: u64,
        ids: HashMap<(u64, u64, PathBuf), u32>,
        files: BTreeMap<u32, FileRec>,
        /// Ids whose `F` line is in the current journal file.
        announced: std::collections::HashSet<u32>,
        pending: BTreeMap<u32, Vec<WriteRec>>,
    }

    static RECORDER: OnceLock<Option<Recorder>> = OnceLock::new();

    /// The recorder, when [`ENV_JOURNAL`] is set. A journal that cannot be opened aborts the
    /// process: a power-failure test would otherwise prove nothing.
    pub(super) fn recorder() -> Option<&'static Recorder> {
        RECORDER
            .get_or_init(|| {
                let path = PathBuf::from(std::env::var_os(ENV_JOURNAL)?);
                match Recorder::open(path.clone()) {
                    Ok(r) => {
                        tracing::warn!(journal = %path.display(), "{MARKER}: unsynced writes are journalled and can be dropped (test build)");
                        Some(r)
                    }
                    Err(e) => {
                        eprintln!("{MARKER}: cannot open the journal {}: {e}", path.display());
                        std::process::abort();
                    }
                }
            })
            .as_ref()
    }

    fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    impl Recorder {
        /// Carry on the journal of an earlier run of this node (its pending writes stay
        /// pending), rewritten compactly.
        fn open(path: PathBuf) -> io::Result<Recorder> {
            let earlier = match std::fs::read(&path) {
                Ok(t) => parse(&String::from_utf8_lossy(&t)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Default::default(),
                Err(e) => return Err(e),
            };
            let mut inner = Inner {
                out: OpenOptions::new().append(true).create(true).open(&path)?,
                bytes: 0,
                next_id: earlier.files.keys().max().copied().unwrap_or(0),
                seq: earlier.max_seq,
                ids: earlier
                    .files
                    .iter()
                    .map(|(id, f)| ((f.dev, f.ino, f.path.clone()), *id))
                    .collect(),
                files: earlier.files,
                announced: Default::default(),
                pending: earlier.pending,
            };
            inner.compact(&path)?;
            Ok(Recorder {
                slow: slow_file(&path),
                path,
                inner: Mutex::new(inner),
            })
        }

        pub(super) fn write<R>(
            &self,
            file: &File,
            offset: Option<u64>,
            len: usize,
            op: impl FnOnce() -> io::Result<R>,
        ) -> io::Result<R> {
            // The lock is held across the write, so a sync that starts later covers it.
            let mut g = lock(&self.inner);
            let Some((id, size)) = g.lookup(file, true)? else {
                return op();
            };
            let offset = offset.unwrap_or(size);
            let mut old = Vec::new();
            if offset < size && len > 0 {
                old.resize((size - offset).min(len as u64) as usize, 0);
                file.read_exact_at(&mut old, offset)?;
                let keep = old.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
                old.truncate(keep);
            }
            g.seq += 1;
            let rec = WriteRec {
                seq: g.seq,
                offset,
                len: len as u64,
                old_size: size,
                old,
            };
            if !g.announced.contains(&id) {
                let line = g.files[&id].render(id);
                g.emit(&line)?;
                g.announced.insert(id);
            }
            g.emit(&rec.render(id))?;
            g.pending.entry(id).or_default().push(rec);
            let r = op();
            if g.bytes > COMPACT_AT {
                g.compact(&self.path)?;
            }
            r
        }

        pub(super) fn sync(
            &self,
            file: &File,
            op: impl FnOnce() -> io::Result<()>,
        ) -> io::Result<()> {
            self.sync_files(std::slice::from_ref(file), op)
        }

        /// One sync `op` covering every file of `files` (a `syncfs`): the writes journalled
        /// before it started become durable once it succeeded.
        pub(super) fn sync_files<F: std::borrow::Borrow<File>>(
            &self,
            files: &[F],
            op: impl FnOnce() -> io::Result<()>,
        ) -> io::Result<()> {
            if let Some(ms) = std::fs::read_to_string(&self.slow)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
            {
                // The slow-disk fault: the injected latency is the experiment.
                std::thread::sleep(Duration::from_millis(ms));
            }
            let tokens = {
                let mut g = lock(&self.inner);
                let mut tokens = Vec::new();
                for f in files {
                    let id = g.lookup(f.borrow(), false)?.map(|(id, _)| id);
                    tokens.extend(
                        id.filter(|id| g.pending.contains_key(id))
                            .map(|id| (id, g.seq)),
                    );
                }
                tokens
            };
            op()?;
            let mut g = lock(&self.inner);
            for (id, seq) in tokens {
                g.emit(&format!("S {id} {seq}\n"))?;
                if let Some(recs) = g.pending.get_mut(&id) {
                    recs.retain(|r| r.seq > seq);
                    if recs.is_empty() {
                        g.pending.remove(&id);
                    }
                }
            }
            Ok(())
        }
    }

    impl Recorder {
        /// See [`super::power_failure_in_process`].
        pub(super) fn power_cycle(&self) -> io::Result<super::Dropped> {
            let mut g = lock(&self.inner);
            g.compact(&self.path)?;
            let dropped = super::drop_unsynced(&self.path)?;
            g.pending.clear();
            g.out = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.path)?;
            g.bytes = 0;
            g.announced.clear();
            Ok(dropped)
        }
    }

    impl Inner {
        /// The id and current size of `file` (a new id when `create`); None for a deleted file.
        fn lookup(&mut self, file: &File, create: bool) -> io::Result<Option<(u32, u64)>> {
            let md = file.metadata()?;
            let path = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
            if path.to_string_lossy().ends_with(" (deleted)") {
                return Ok(None);
            }
            let key = (md.dev(), md.ino(), path);
            if let Some(id) = self.ids.get(&key) {
                return Ok(Some((*id, md.len())));
            }
            if !create {
                return Ok(None);
            }
            self.next_id += 1;
            let id = self.next_id;
            self.files.insert(
                id,
                FileRec {
                    dev: key.0,
                    ino: key.1,
                    path: key.2.clone(),
                },
            );
            self.ids.insert(key, id);
            Ok(Some((id, md.len())))
        }

        fn emit(&mut self, line: &str) -> io::Result<()> {
            self.out.write_all(line.as_bytes())?;
            self.bytes += line.len() as u64;
            Ok(())
        }

        /// Rewrite the journal with only the pending writes (temp file, rename: a kill at any
        /// point leaves the old or the new journal).
        fn compact(&mut self, path: &std::path::Path) -> io::Result<()> {
            let mut text = String::new();
            for (id, recs) in &self.pending {
                if let Some(f) = self.files.get(id) {
                    text.push_str(&f.render(*id));
                }
                for r in recs {
                    text.push_str(&r.render(*id));
                }
            }
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".tmp");
            std::fs::write(&tmp, &text)?;
            std::fs::rename(&tmp, path)?;
            self.out = OpenOptions::new().append(true).open(path)?;
            self.bytes = text.len() as u64;
            self.announced = self.pending.keys().copied().collect();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_undoes_unsynced_writes_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // Durable: "hello" + 3 zero bytes. Unsynced: an overwrite of "el", two appends.
        std::fs::write(&data, b"hELlo\0\0\0abcdefgh").unwrap();
        let j = dir.path().join("journal");
        let md = std::fs::metadata(&data).unwrap();
        let text = format!(
            "F 1 {} {} {}\nW 1 1 1 2 8 656c\nW 1 2 8 4 8 -\nS 1 0\nW 1 3 12 4 12 -\nF 2 0 0 /nonexistent\nW 2 4 0 1 0 -\nW 1 9 0",
            md.dev(),
            md.ino(),
            data.display()
        );
        std::fs::write(&j, text).unwrap();
        let d = drop_unsynced(&j).unwrap();
        assert_eq!(std::fs::read(&data).unwrap(), b"hello\0\0\0");
        assert_eq!((d.files, d.writes, d.bytes), (1, 3, 10));
        assert_eq!(d.skipped.len(), 1, "{:?}", d.skipped);
        assert!(!j.exists());
        assert_eq!(drop_unsynced(&j).unwrap(), Dropped::default());
    }

    #[test]
    fn a_sync_makes_earlier_writes_durable() {
        let p = parse("F 1 1 2 /a b\nW 1 1 0 4 0 -\nW 1 2 4 4 4 -\nS 1 1\nW 1 3 8 1 8 00ff\n");
        assert_eq!(p.files[&1].path, PathBuf::from("/a b"));
        let seqs: Vec<u64> = p.pending[&1].iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [2, 3]);
        assert_eq!(p.pending[&1][1].old, [0, 0xff]);
    }
}
