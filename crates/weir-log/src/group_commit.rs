//! Group commit: one flusher thread fdatasyncs every file written since its last pass, so
//! concurrent appends on all partitions share fsyncs. Appends get a ticket; a ticket is durable once
//! the flusher has completed a pass that started after the ticket was issued.

use std::fs::File;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::LogError;

/// Time of one group-commit pass (the fdatasyncs of every file written since the previous pass),
/// in seconds: Kafka's `LogFlushRateAndTimeMs`, recorded through the `metrics` facade.
pub const LOG_FLUSH_TIME: &str = "kafka_log_logflushstats_logflush_seconds";

/// Opaque position in one log dir's group-commit sequence; durable once that dir's flusher has
/// passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurabilityTicket {
    /// Index of the log dir (its flusher) in `log.dirs`.
    pub(crate) dir: usize,
    /// Position in that flusher's sequence.
    pub(crate) seq: u64,
}

#[derive(Debug, Default)]
struct State {
    issued: u64,
    durable: u64,
    /// First ticket whose flush failed: it and every later ticket fail.
    failed_from: Option<u64>,
    dirty: Vec<Arc<File>>,
    /// Addresses of the files in `dirty` (one entry per file however often it is written).
    dirty_ids: std::collections::HashSet<usize>,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the flusher.
    work: Condvar,
    /// Wakes blocking waiters.
    done: Condvar,
    /// Wakes async waiters with the durable ticket.
    watch: tokio::sync::watch::Sender<u64>,
    /// Completed flush passes (for benchmarks and metrics).
    passes: std::sync::atomic::AtomicU64,
    /// Why the log dir failed (a failed write or fsync), once it has: `None` while healthy.
    failure: tokio::sync::watch::Sender<Option<String>>,
    /// Bumped (shared by every log dir of a log manager) when this dir fails.
    failures: Option<tokio::sync::watch::Sender<u64>>,
}

impl Shared {
    /// Record the first failure of the dir; false when it had already failed.
    fn set_failed(&self, reason: String) -> bool {
        let first = self.failure.send_if_modified(|f| {
            if f.is_some() {
                return false;
            }
            *f = Some(reason.clone());
            true
        });
        if first {
            if let Some(tx) = &self.failures {
                tx.send_modify(|n| *n += 1);
            }
        }
        first
    }
}

/// The group-commit flusher. Dropping it stops the thread after a final pass.
#[derive(Debug)]
pub struct GroupCommit {
    dir: usize,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding this lock cannot leave State inconsistent (plain counters).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl GroupCommit {
    /// Start the flusher thread (of a lone log dir).
    #[cfg(test)]
    pub fn start() -> Result<GroupCommit, LogError> {
        Self::start_for(0, None)
    }

    /// Start the flusher thread of log dir number `dir`; `failures` is bumped when it fails.
    pub(crate) fn start_for(
        dir: usize,
        failures: Option<tokio::sync::watch::Sender<u64>>,
    ) -> Result<GroupCommit, LogError> {
        let (tx, _rx) = tokio::sync::watch::channel(0);
        let (failure, _) = tokio::sync::watch::channel(None);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            watch: tx,
            passes: std::sync::atomic::AtomicU64::new(0),
            failure,
            failures,
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("weir-group-commit".into())
            .spawn(move || flusher(s))?;
        Ok(GroupCommit {
            dir,
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Register that `file` has unflushed writes; returns the ticket covering them.
    pub fn register(&self, file: &Arc<File>) -> DurabilityTicket {
        let mut st = lock(&self.shared.state);
        st.issued += 1;
        if st.dirty_ids.insert(Arc::as_ptr(file) as usize) {
            st.dirty.push(file.clone());
        }
        let t = st.issued;
        drop(st);
        self.shared.work.notify_one();
        DurabilityTicket {
            dir: self.dir,
            seq: t,
        }
    }

    fn check(st: &State, ticket: DurabilityTicket) -> Option<Result<(), LogError>> {
        if let Some(f) = st.failed_from {
            if ticket.seq >= f {
                return Some(Err(LogError::Io(std::io::Error::other(
                    "fdatasync failed; the write is not durable",
                ))));
            }
        }
        (st.durable >= ticket.seq).then_some(Ok(()))
    }

    /// Block until `ticket` is durable.
    pub fn wait(&self, ticket: DurabilityTicket) -> Result<(), LogError> {
        let mut st = lock(&self.shared.state);
        loop {
            if let Some(r) = Self::check(&st, ticket) {
                return r;
            }
            st = self.shared.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Wait asynchronously until `ticket` is durable.
    pub async fn wait_async(&self, ticket: DurabilityTicket) -> Result<(), LogError> {
        let mut rx = self.shared.watch.subscribe();
        loop {
            if let Some(r) = Self::check(&lock(&self.shared.state), ticket) {
                return r;
            }
            if rx.changed().await.is_err() {
                return Err(LogError::Io(std::io::Error::other("group commit stopped")));
            }
        }
    }

    /// Number of completed flush passes (each pass fdatasyncs every file written since the last).
    pub fn passes(&self) -> u64 {
        self.shared
            .passes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// True once a flush or a write has failed (the log must refuse further appends).
    pub fn failed(&self) -> bool {
        self.shared.failure.borrow().is_some() || lock(&self.shared.state).failed_from.is_some()
    }

    /// Mark the log dir failed after a write to it failed (ENOSPC, EIO): every later append of
    /// every partition in it is refused, as Kafka takes a log dir offline on an IOException.
    /// Writes already acknowledged are untouched; tickets issued before stay valid.
    pub fn fail_writes(&self, reason: &str) {
        if self.shared.set_failed(format!("a write failed: {reason}")) {
            tracing::error!(%reason, "a write to the log dir failed: the log dir is offline and refuses writes");
        }
    }

    /// True once the dir was marked failed (cheaper than [`GroupCommit::failed`]: no lock
    /// shared with the flusher; for lookups on every request).
    pub fn is_marked_failed(&self) -> bool {
        self.shared.failure.borrow().is_some()
    }

    /// Why the dir failed, once it has.
    pub fn failure_reason(&self) -> Option<String> {
        if let Some(r) = self.shared.failure.borrow().clone() {
            return Some(r);
        }
        lock(&self.shared.state)
            .failed_from
            .map(|_| "an fdatasync failed".to_string())
    }

    /// Flush everything registered so far and wait for it.
    pub fn sync_all(&self) -> Result<(), LogError> {
        let t = DurabilityTicket {
            dir: self.dir,
            seq: lock(&self.shared.state).issued,
        };
        self.shared.work.notify_one();
        self.wait(t)
    }

    /// Stop the flusher after a final pass.
    pub fn stop(&self) {
        lock(&self.shared.state).stop = true;
        self.shared.work.notify_one();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.stop();
    }
}

fn flusher(shared: Arc<Shared>) {
    loop {
        let (files, upto) = {
            let mut st = lock(&shared.state);
            while st.dirty.is_empty() && st.durable == st.issued && !st.stop {
                st = shared.work.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.dirty.is_empty() && st.durable == st.issued && st.stop {
                return;
            }
            st.dirty_ids.clear();
            (std::mem::take(&mut st.dirty), st.issued)
        };
        let started = std::time::Instant::now();
        let ok = crate::fs_sync::sync_all_files(&files);
        metrics::histogram!(LOG_FLUSH_TIME).record(started.elapsed().as_secs_f64());
        shared
            .passes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut st = lock(&shared.state);
        if ok && st.failed_from.is_none() {
            st.durable = st.durable.max(upto);
        } else if st.failed_from.is_none() {
            st.failed_from = Some(st.durable + 1);
        }
        let d = st.durable;
        drop(st);
        shared.done.notify_all();
        let _ = shared.watch.send(d);
        if !ok {
            // Wake everyone and keep failing; the log refuses further appends.
            let _ = shared.watch.send(u64::MAX);
            shared.set_failed("an fdatasync failed".to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_become_durable() {
        let dir = tempfile::tempdir().unwrap();
        let f = Arc::new(File::create(dir.path().join("x")).unwrap());
        let gc = GroupCommit::start().unwrap();
        let t1 = gc.register(&f);
        let t2 = gc.register(&f);
        assert!(t2 > t1);
        gc.wait(t2).unwrap();
        gc.wait(t1).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let t3 = gc.register(&f);
        rt.block_on(gc.wait_async(t3)).unwrap();
    }
}
