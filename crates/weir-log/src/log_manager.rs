//! The log manager: every entry of `log.dirs` (JBOD), the partitions in them, and where a new
//! partition goes. Each dir has its own checkpoints, clean-shutdown marker and group-commit
//! flusher (`log_dir.rs`); a dir whose write or fsync failed goes offline alone: its partitions
//! refuse every write and are reported by [`LogManager::offline_partitions`], the other dirs keep
//! serving. Moving a partition between dirs is in `log_move.rs`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::checkpoint::fsync_dir;
use crate::damage::PartitionDamage;
use crate::fd_cache::FdCache;
use crate::group_commit::DurabilityTicket;
use crate::log_dir::{partitions_in, LogDir};
use crate::partition_log::PartitionLog;
use crate::{Clock, LogConfig, LogError, TopicPartition};

pub use crate::log_dir::CLEAN_SHUTDOWN_FILE;

/// The state of one log dir, as DescribeLogDirs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDirStatus {
    /// The directory as configured.
    pub path: PathBuf,
    /// Why it is offline (a failed write or fsync, or it could not be opened); `None` online.
    pub offline: Option<String>,
    /// Partitions placed in it (open or found on disk).
    pub partitions: Vec<TopicPartition>,
}

/// Which segments are checked (CRC32C, lengths, offsets, epochs) when the log dirs open
/// (`log.startup.verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupVerify {
    /// Every segment of every partition, before the dirs open (the library's default).
    All,
    /// Segments from each partition's recovery point on (Kafka's recovery); the older ones are
    /// verified in the background ([`LogManager::verify_deferred`]) and, until then, by every read
    /// from them. The broker's default: start-up time does not grow with the data held.
    FromRecoveryPoint,
}

/// Options of [`LogManager::open_dirs_with_options`].
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// At most this many segment files open at once (`log.max.open.files`).
    pub max_open_files: usize,
    /// Which segments are checked at open.
    pub verify: StartupVerify,
}

/// Owns every log directory: partitions, checkpoints, clean-shutdown markers, group commits.
pub struct LogManager {
    pub(crate) dirs: Vec<LogDir>,
    clock: Arc<dyn Clock>,
    pub(crate) logs: RwLock<HashMap<TopicPartition, Arc<PartitionLog>>>,
    /// The dir (index into `dirs`) of every partition open or found on disk.
    pub(crate) placed: RwLock<HashMap<TopicPartition, usize>>,
    /// Partitions being moved between dirs (one move at a time per partition).
    pub(crate) moving: Mutex<HashSet<TopicPartition>>,
    /// Held while partitions are opened or created (`open_many.rs`) and while one is deleted,
    /// so that no partition is opened twice or opened while its directory is removed (the
    /// opening itself runs without the `logs` lock, which every read and append takes).
    pub(crate) opening: Mutex<()>,
    /// Bumped whenever a dir goes offline.
    failures: tokio::sync::watch::Sender<u64>,
    /// Open segment files of every partition of every dir (`log.max.open.files`).
    pub(crate) files: Arc<FdCache>,
}

impl std::fmt::Debug for LogManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dirs: Vec<String> = self
            .dirs
            .iter()
            .map(|d| d.path.display().to_string())
            .collect();
        write!(f, "LogManager({})", dirs.join(","))
    }
}

impl LogManager {
    /// [`LogManager::open_dirs`] with one dir.
    pub fn open(log_dir: &Path, clock: Arc<dyn Clock>) -> Result<Arc<LogManager>, LogError> {
        Self::open_dirs(&[log_dir.to_path_buf()], clock)
    }

    /// [`LogManager::open`] keeping at most `max_open_files` segment files open at once.
    pub fn open_with_limit(
        log_dir: &Path,
        clock: Arc<dyn Clock>,
        max_open_files: usize,
    ) -> Result<Arc<LogManager>, LogError> {
        Self::open_dirs_with_limit(&[log_dir.to_path_buf()], clock, max_open_files)
    }

    /// [`LogManager::open_dirs_with_limit`] with the default limit (half the soft open-file
    /// limit).
    pub fn open_dirs(
        log_dirs: &[PathBuf],
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<LogManager>, LogError> {
        Self::open_dirs_with_limit(log_dirs, clock, crate::fd_cache::default_max_open_files())
    }

    /// Open (creating if needed) every dir of `log_dirs`. Moves between dirs interrupted by a
    /// crash are finished or undone first (`log_move.rs`); every segment of every partition
    /// directory is then checked, clean shutdown or not (`damage/`: CRC32C, lengths, offsets,
    /// epochs, indexes; with [`LogManager::open_dirs_with_options`] only what was written since
    /// the recovery points), and a partition is truncated at its first damaged batch
    /// ([`LogManager::damaged_partitions`]); the partitions are opened lazily by
    /// [`LogManager::get_or_create`], in the dir that holds them. A dir that cannot be opened is
    /// offline from the start (its error is logged); all of them failing is an error. A partition
    /// found in two dirs (copied by hand) is refused. At most `max_open_files` segment files are
    /// open at once (`log.max.open.files`): the others are closed and reopened when next read or
    /// written.
    pub fn open_dirs_with_limit(
        log_dirs: &[PathBuf],
        clock: Arc<dyn Clock>,
        max_open_files: usize,
    ) -> Result<Arc<LogManager>, LogError> {
        Self::open_dirs_with_options(
            log_dirs,
            clock,
            OpenOptions {
                max_open_files,
                verify: StartupVerify::All,
            },
        )
    }

    /// [`LogManager::open_dirs_with_limit`] with every option: `options.verify` says which
    /// segments are checked before the dirs open ([`StartupVerify`]).
    pub fn open_dirs_with_options(
        log_dirs: &[PathBuf],
        clock: Arc<dyn Clock>,
        options: OpenOptions,
    ) -> Result<Arc<LogManager>, LogError> {
        let OpenOptions {
            max_open_files,
            verify,
        } = options;
        if log_dirs.is_empty() {
            return Err(LogError::Io(std::io::Error::other("log.dirs is empty")));
        }
        crate::log_move_recovery::recover_interrupted_moves(log_dirs);
        let failures = tokio::sync::watch::channel(0).0;
        let mut dirs = Vec::with_capacity(log_dirs.len());
        let mut last_error = None;
        for (i, path) in log_dirs.iter().enumerate() {
            match LogDir::open(path, i, failures.clone(), verify == StartupVerify::All) {
                Ok(d) => dirs.push(d),
                Err(e) if log_dirs.len() > 1 => {
                    tracing::error!(dir = %path.display(), error = %e, "cannot open a log dir: it is offline");
                    dirs.push(LogDir::offline(path, i, failures.clone(), &e.to_string())?);
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if let (true, Some(e)) = (dirs.iter().all(|d| d.is_offline()), last_error) {
            return Err(e);
        }
        let mut placed = HashMap::new();
        for (i, d) in dirs.iter().enumerate() {
            for tp in &d.on_disk {
                if let Some(other) = placed.insert(tp.clone(), i) {
                    return Err(LogError::Io(std::io::Error::other(format!(
                        "partition {} is in two log dirs, {} and {}; remove one copy",
                        tp.dir_name(),
                        dirs[other].path.display(),
                        d.path.display()
                    ))));
                }
            }
        }
        Ok(Arc::new(LogManager {
            dirs,
            clock,
            logs: RwLock::new(HashMap::new()),
            placed: RwLock::new(placed),
            moving: Mutex::new(HashSet::new()),
            opening: Mutex::new(()),
            failures,
            files: FdCache::new(max_open_files),
        }))
    }

    /// Partitions whose log was truncated at open because a segment was damaged (bit flips, a
    /// cut segment): each with the offset it was truncated at and its previous log end. Such a
    /// copy must not lead or count toward the high watermark until it has refetched.
    pub fn damaged_partitions(&self) -> Vec<PartitionDamage> {
        self.dirs
            .iter()
            .flat_map(|d| d.damaged.iter().cloned())
            .collect()
    }

    /// The cache of open segment files shared by the partitions of every dir.
    pub fn open_files(&self) -> &Arc<FdCache> {
        &self.files
    }

    /// The first log dir (where the metadata log and other per-node files go by default).
    pub fn log_dir(&self) -> PathBuf {
        self.dirs[0].path.clone()
    }

    /// Every log dir, in `log.dirs` order.
    pub fn log_dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    /// The dir holding `tp` (open or on disk), if any.
    pub fn dir_of(&self, tp: &TopicPartition) -> Option<PathBuf> {
        let i = *self.read_placed().get(tp)?;
        Some(self.dirs[i].path.clone())
    }

    /// The state of every dir: offline reason and partitions.
    pub fn dir_statuses(&self) -> Vec<LogDirStatus> {
        let placed = self.read_placed();
        self.dirs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut partitions: Vec<TopicPartition> = placed
                    .iter()
                    .filter(|(_, &at)| at == i)
                    .map(|(tp, _)| tp.clone())
                    .collect();
                partitions.sort();
                LogDirStatus {
                    path: d.path.clone(),
                    offline: d.commit.failure_reason(),
                    partitions,
                }
            })
            .collect()
    }

    /// True when every previous shutdown left the clean-shutdown marker in every dir.
    pub fn was_clean_shutdown(&self) -> bool {
        self.dirs.iter().all(|d| d.clean)
    }

    /// Partitions that have a directory in a log dir.
    pub fn partitions_on_disk(&self) -> Vec<TopicPartition> {
        let mut out: Vec<TopicPartition> = self
            .dirs
            .iter()
            .flat_map(|d| partitions_in(&d.path))
            .collect();
        out.sort();
        out
    }

    /// Partitions placed in an offline dir: they refuse every read and write on this node, and
    /// the controller must not keep this node as their leader or in their ISR.
    pub fn offline_partitions(&self) -> Vec<TopicPartition> {
        let placed = self.read_placed();
        let mut out: Vec<TopicPartition> = placed
            .iter()
            .filter(|(_, &i)| self.dirs[i].is_offline())
            .map(|(tp, _)| tp.clone())
            .collect();
        out.sort();
        out
    }

    /// True when `tp` is placed in an offline dir.
    pub fn is_offline(&self, tp: &TopicPartition) -> bool {
        self.read_placed()
            .get(tp)
            .is_some_and(|&i| self.dirs[i].is_offline())
    }

    /// The clock the logs use.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// A receiver whose value changes whenever a dir goes offline.
    pub fn subscribe_failures(&self) -> tokio::sync::watch::Receiver<u64> {
        self.failures.subscribe()
    }

    pub(crate) fn read_logs(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<TopicPartition, Arc<PartitionLog>>> {
        self.logs.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn read_placed(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<TopicPartition, usize>> {
        self.placed.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Open the partition's log (recovering it if needed) in the dir that holds it, creating it
    /// in the online dir with the fewest partitions when it is nowhere. A partition in an offline
    /// dir is an error (KAFKA_STORAGE_ERROR to clients).
    pub fn get_or_create(
        &self,
        tp: &TopicPartition,
        config: LogConfig,
    ) -> Result<Arc<PartitionLog>, LogError> {
        if let Some(l) = self.get(tp) {
            return Ok(l);
        }
        self.get_or_create_many(&[(tp.clone(), config)])
            .pop()
            .unwrap_or_else(|| Err(offline_error(tp)))
    }

    /// An already-open partition log (`None` when its dir is offline).
    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        let l = self.read_logs().get(tp).cloned()?;
        (!self.is_offline(tp)).then_some(l)
    }

    /// Delete a partition's log and directory (whether or not it is open). In an offline dir the
    /// partition is forgotten and its directory removed if the dir lets us.
    pub fn delete(&self, tp: &TopicPartition) -> Result<(), LogError> {
        let _opening = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        let removed = self
            .logs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tp);
        let at = self
            .placed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tp);
        let Some(i) = at else {
            return Ok(());
        };
        let d = &self.dirs[i];
        d.forget(tp);
        let result = match removed {
            Some(l) => l.delete_all(),
            None => {
                let dir = d.path.join(tp.dir_name());
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .map_err(LogError::from)
                        .and_then(|()| fsync_dir(&d.path))
                } else {
                    Ok(())
                }
            }
        };
        match result {
            Err(e) if d.is_offline() => {
                tracing::warn!(partition = %tp.dir_name(), error = %e, "could not remove a partition of an offline log dir");
                Ok(())
            }
            r => r,
        }
    }

    /// Resolves once every log dir failed (a write or an fsync failed in each: every append is
    /// refused from then on), with the reasons. The broker stops then, as Kafka halts when its
    /// last log dir goes offline.
    pub async fn failure(&self) -> String {
        let mut rx = self.failures.subscribe();
        loop {
            if self.dirs.iter().all(|d| d.is_offline()) {
                let reasons: Vec<String> = self
                    .dirs
                    .iter()
                    .filter_map(|d| d.commit.failure_reason())
                    .collect();
                return reasons.join("; ");
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Block until `ticket` is on stable storage (error if the fsync failed).
    pub fn wait_durable(&self, ticket: DurabilityTicket) -> Result<(), LogError> {
        self.dirs
            .get(ticket.dir)
            .ok_or_else(|| LogError::Io(std::io::Error::other("no such log dir")))?
            .commit
            .wait(ticket)
    }

    /// Completed group-commit passes so far, over every dir (each is one round of fdatasyncs).
    pub fn group_commit_passes(&self) -> u64 {
        self.dirs.iter().map(|d| d.commit.passes()).sum()
    }

    /// Async form of [`LogManager::wait_durable`].
    pub async fn wait_durable_async(&self, ticket: DurabilityTicket) -> Result<(), LogError> {
        self.dirs
            .get(ticket.dir)
            .ok_or_else(|| LogError::Io(std::io::Error::other("no such log dir")))?
            .commit
            .wait_async(ticket)
            .await
    }

    /// Open logs of online dirs.
    fn online_logs(&self) -> Vec<Arc<PartitionLog>> {
        let logs: Vec<Arc<PartitionLog>> = self.read_logs().values().cloned().collect();
        logs.into_iter()
            .filter(|l| !self.is_offline(l.topic_partition()))
            .collect()
    }

    /// Periodic work: roll by `segment.ms`, retention, `flush.ms` flushes, and checkpoint
    /// writes. Call every few seconds. Errors of one partition are logged and do not stop others;
    /// offline dirs are skipped.
    pub fn run_maintenance(&self) -> Result<(), LogError> {
        for l in self.online_logs() {
            match l.maintain() {
                Ok(n) if n > 0 => {
                    tracing::info!(partition = %l.topic_partition().dir_name(), segments = n, "retention deleted segments")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(partition = %l.topic_partition().dir_name(), error = %e, "log maintenance failed")
                }
            }
        }
        self.checkpoint()
    }

    /// Forget idempotent producers idle for `expiration_ms` (`producer.id.expiration.ms`) in every
    /// partition; returns how many were forgotten.
    pub fn expire_producers(&self, expiration_ms: i64) -> usize {
        let logs: Vec<Arc<PartitionLog>> = self.read_logs().values().cloned().collect();
        logs.iter().map(|l| l.expire_producers(expiration_ms)).sum()
    }

    /// Every partition open in this process (offline ones included).
    pub fn partitions_open(&self) -> Vec<TopicPartition> {
        self.read_logs().keys().cloned().collect()
    }

    /// The open logs of dir `i`.
    pub(crate) fn logs_in(&self, i: usize) -> Vec<Arc<PartitionLog>> {
        let placed = self.read_placed();
        self.read_logs()
            .iter()
            .filter(|(tp, _)| placed.get(*tp) == Some(&i))
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Write all checkpoint files of every online dir now (the first error is returned after
    /// every dir was tried).
    pub fn checkpoint(&self) -> Result<(), LogError> {
        let mut first = None;
        for (i, d) in self.dirs.iter().enumerate() {
            if d.is_offline() {
                continue;
            }
            if let Err(e) = d.checkpoint(&self.logs_in(i)) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Flush everything, write checkpoints and the clean-shutdown marker of every online dir.
    /// Every partition is closed even when one fails; a dir's marker is written only when all of
    /// its partitions closed (so a failed close means a full recovery at the next start) and the
    /// first error is returned. Offline dirs are left as they are.
    pub fn shutdown(&self) -> Result<(), LogError> {
        let mut first_error = None;
        for (i, d) in self.dirs.iter().enumerate() {
            if d.is_offline() {
                tracing::warn!(dir = %d.path.display(), "log dir offline: not closed cleanly");
                d.commit.stop();
                continue;
            }
            let r = d.commit.sync_all().and_then(|()| {
                let logs = self.logs_in(i);
                // Closing is a few fsyncs per partition: several threads at a time, so that
                // 10,000 partitions stop in seconds rather than minutes.
                let closed = crate::parallel::map(
                    &logs,
                    |l| {
                        l.close().inspect_err(|e| {
                            tracing::error!(partition = %l.topic_partition().dir_name(), error = %e, "cannot close partition log");
                        })
                    },
                    || Err(LogError::Io(std::io::Error::other("a close thread panicked"))),
                );
                match closed.into_iter().find_map(Result::err) {
                    Some(e) => Err(e),
                    None => d.checkpoint(&logs).and_then(|()| d.write_clean_marker()),
                }
            });
            d.commit.stop();
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The error for a partition whose dir is offline.
pub(crate) fn offline_error(tp: &TopicPartition) -> LogError {
    LogError::Io(std::io::Error::other(format!(
        "the log dir of {} is offline",
        tp.dir_name()
    )))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::LogManager;
    use crate::{LogConfig, ManualClock, TopicPartition};

    /// The shutdown race of bug D (issue #18): the metadata applier deleted a topic's partition
    /// after shutdown had listed the open logs; closing it then failed (its directory was gone)
    /// and the broker exited with status 1 on SIGTERM.
    #[test]
    fn closing_a_partition_deleted_meanwhile_succeeds_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(dir.path(), Arc::new(ManualClock::new(1_000))).unwrap();
        let tp = TopicPartition::new("gone", 0);
        let log = m.get_or_create(&tp, LogConfig::default()).unwrap();
        m.delete(&tp).unwrap();
        log.close().unwrap();
        assert!(!dir.path().join(tp.dir_name()).exists());
        m.shutdown().unwrap();
    }
}
