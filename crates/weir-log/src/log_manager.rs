//! The log manager: one log directory, its partitions, checkpoints, clean-shutdown marker and the
//! shared group-commit flusher.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::checkpoint::{self, fsync_dir};
use crate::damage::{self, PartitionDamage};
use crate::fd_cache::FdCache;
use crate::group_commit::{DurabilityTicket, GroupCommit};
use crate::partition_log::{CheckpointedOffsets, PartitionLog};
use crate::{Clock, LogConfig, LogError, TopicPartition};

/// Name of Kafka's clean-shutdown marker file.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
/// `recovery-point-offset-checkpoint`.
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// `log-start-offset-checkpoint`.
pub const LOG_START_FILE: &str = "log-start-offset-checkpoint";
/// `replication-offset-checkpoint` (high watermarks).
pub const REPLICATION_FILE: &str = "replication-offset-checkpoint";
/// `cleaner-offset-checkpoint`.
pub const CLEANER_FILE: &str = "cleaner-offset-checkpoint";

/// Threads checking partitions at open and closing them at shutdown.
const CLOSE_THREADS: usize = 8;

#[derive(Debug, Default)]
struct Checkpoints {
    recovery: BTreeMap<TopicPartition, i64>,
    log_start: BTreeMap<TopicPartition, i64>,
    hw: BTreeMap<TopicPartition, i64>,
    cleaner: BTreeMap<TopicPartition, i64>,
}

/// Owns one log directory: partitions, checkpoints, clean-shutdown marker, group commit.
pub struct LogManager {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    commit: Arc<GroupCommit>,
    clean: bool,
    logs: RwLock<HashMap<TopicPartition, Arc<PartitionLog>>>,
    /// Offsets read at start-up, kept for partitions not opened (yet).
    loaded: Mutex<Checkpoints>,
    /// Serializes checkpoint writes.
    checkpoint_lock: Mutex<()>,
    /// Partitions truncated at open because a segment was damaged.
    damaged: Vec<PartitionDamage>,
    /// Open segment files of every partition (`log.max.open.files`).
    files: Arc<FdCache>,
}

impl std::fmt::Debug for LogManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogManager({})", self.dir.display())
    }
}

fn read_or_warn(path: &Path, any_corrupt: &mut bool) -> BTreeMap<TopicPartition, i64> {
    match checkpoint::read_offsets(path) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "ignoring unreadable checkpoint; full recovery");
            *any_corrupt = true;
            BTreeMap::new()
        }
    }
}

/// True when `name` looks like `<topic>-<partition>`.
fn parse_dir_name(name: &str) -> Option<TopicPartition> {
    let (topic, p) = name.rsplit_once('-')?;
    if topic.is_empty() {
        return None;
    }
    Some(TopicPartition::new(topic, p.parse().ok()?))
}

/// Partition directories (`<topic>-<partition>`) in `dir`, sorted.
fn partitions_in(dir: &Path) -> Vec<TopicPartition> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                if let Some(tp) = parse_dir_name(&e.file_name().to_string_lossy()) {
                    out.push(tp);
                }
            }
        }
    }
    out.sort();
    out
}

impl LogManager {
    /// Open (creating if needed) `log_dir`. Every segment of every partition directory found
    /// there is checked first, clean shutdown or not (`damage.rs`: CRC32C, lengths, offsets,
    /// indexes), and a partition is truncated at its first damaged batch
    /// ([`LogManager::damaged_partitions`]); the partitions are then opened lazily by
    /// [`LogManager::get_or_create`].
    pub fn open(log_dir: &Path, clock: Arc<dyn Clock>) -> Result<Arc<LogManager>, LogError> {
        Self::open_with_limit(log_dir, clock, crate::fd_cache::default_max_open_files())
    }

    /// [`LogManager::open`] keeping at most `max_open_files` segment files open at once
    /// (`log.max.open.files`): the others are closed and reopened when next read or written.
    pub fn open_with_limit(
        log_dir: &Path,
        clock: Arc<dyn Clock>,
        max_open_files: usize,
    ) -> Result<Arc<LogManager>, LogError> {
        std::fs::create_dir_all(log_dir)?;
        let marker = log_dir.join(CLEAN_SHUTDOWN_FILE);
        let mut clean = marker.exists();
        if clean {
            std::fs::remove_file(&marker)?;
            fsync_dir(log_dir)?;
        }
        let mut corrupt = false;
        let cps = Checkpoints {
            recovery: read_or_warn(&log_dir.join(RECOVERY_POINT_FILE), &mut corrupt),
            log_start: read_or_warn(&log_dir.join(LOG_START_FILE), &mut corrupt),
            hw: read_or_warn(&log_dir.join(REPLICATION_FILE), &mut corrupt),
            cleaner: read_or_warn(&log_dir.join(CLEANER_FILE), &mut corrupt),
        };
        if corrupt {
            clean = false;
        }
        // A fresh dir has no marker either, and nothing to recover: say so only at debug.
        let on_disk = partitions_in(log_dir);
        let has_partitions = on_disk.iter().any(|tp| tp.topic != "__cluster_metadata");
        if !clean && has_partitions {
            tracing::info!(dir = %log_dir.display(), "no clean-shutdown marker: torn tails past the recovery points are cut");
        } else if !clean {
            tracing::debug!(dir = %log_dir.display(), "no clean-shutdown marker (empty log dir)");
        }
        let started = std::time::Instant::now();
        let to_check: Vec<TopicPartition> = on_disk
            .into_iter()
            .filter(|tp| tp.topic != "__cluster_metadata")
            .collect();
        let partitions = to_check.len();
        // Partitions are independent: CLOSE_THREADS check at once (10,000 small partitions
        // took 9 s one by one).
        let per = partitions.div_ceil(CLOSE_THREADS).max(1);
        let results: Vec<Result<Option<PartitionDamage>, LogError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = to_check
                .chunks(per)
                .map(|chunk| {
                    let cps = &cps;
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|tp| {
                                let dir = log_dir.join(tp.dir_name());
                                let recovery_point = cps.recovery.get(tp).copied();
                                damage::check_partition(tp, &dir, clean, recovery_point)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Err(LogError::Io(std::io::Error::other(
                            "a segment check thread panicked",
                        )))]
                    })
                })
                .collect()
        });
        let mut damaged = Vec::new();
        for r in results {
            if let Some(d) = r? {
                damaged.push(d);
            }
        }
        tracing::info!(
            partitions,
            damaged = damaged.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "checked every segment (CRC32C) at open"
        );
        Ok(Arc::new(LogManager {
            dir: log_dir.to_path_buf(),
            clock,
            commit: Arc::new(GroupCommit::start()?),
            clean,
            logs: RwLock::new(HashMap::new()),
            loaded: Mutex::new(cps),
            checkpoint_lock: Mutex::new(()),
            damaged,
            files: FdCache::new(max_open_files),
        }))
    }

    /// Partitions whose log was truncated at open because a segment was damaged (bit flips, a
    /// cut segment): each with the offset it was truncated at and its previous log end. Such a
    /// copy must not lead or count toward the high watermark until it has refetched.
    pub fn damaged_partitions(&self) -> Vec<PartitionDamage> {
        self.damaged.clone()
    }

    /// The cache of open segment files shared by the partitions of this directory.
    pub fn open_files(&self) -> &Arc<FdCache> {
        &self.files
    }

    /// The directory.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// True when the previous shutdown left the clean-shutdown marker.
    pub fn was_clean_shutdown(&self) -> bool {
        self.clean
    }

    /// Partitions that have a directory on disk.
    pub fn partitions_on_disk(&self) -> Vec<TopicPartition> {
        partitions_in(&self.dir)
    }

    fn read_logs(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<TopicPartition, Arc<PartitionLog>>> {
        self.logs.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Open the partition's log (recovering it if needed), creating it when absent.
    pub fn get_or_create(
        &self,
        tp: &TopicPartition,
        config: LogConfig,
    ) -> Result<Arc<PartitionLog>, LogError> {
        if let Some(l) = self.read_logs().get(tp) {
            return Ok(l.clone());
        }
        let mut logs = self.logs.write().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = logs.get(tp) {
            return Ok(l.clone());
        }
        let dir = self.dir.join(tp.dir_name());
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            fsync_dir(&self.dir)?;
        }
        let offsets = {
            let cps = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
            CheckpointedOffsets {
                recovery_point: cps.recovery.get(tp).copied(),
                log_start_offset: cps.log_start.get(tp).copied(),
                high_watermark: cps.hw.get(tp).copied(),
            }
        };
        let log = Arc::new(PartitionLog::open(
            tp.clone(),
            dir,
            config,
            self.commit.clone(),
            self.clock.clone(),
            offsets,
            self.files.clone(),
        )?);
        logs.insert(tp.clone(), log.clone());
        Ok(log)
    }

    /// An already-open partition log.
    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        self.read_logs().get(tp).cloned()
    }

    /// Delete a partition's log and directory (whether or not it is open).
    pub fn delete(&self, tp: &TopicPartition) -> Result<(), LogError> {
        let removed = self
            .logs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tp);
        {
            let mut cps = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
            cps.recovery.remove(tp);
            cps.log_start.remove(tp);
            cps.hw.remove(tp);
            cps.cleaner.remove(tp);
        }
        match removed {
            Some(l) => l.delete_all()?,
            None => {
                let dir = self.dir.join(tp.dir_name());
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                    fsync_dir(&self.dir)?;
                }
            }
        }
        Ok(())
    }

    /// Resolves once the log dir failed (a write or an fsync failed: every append is refused
    /// from then on), with the reason. The broker stops then, as Kafka halts when its last log
    /// dir goes offline.
    pub async fn failure(&self) -> String {
        self.commit.failure().await
    }

    /// Block until `ticket` is on stable storage (error if the fsync failed).
    pub fn wait_durable(&self, ticket: DurabilityTicket) -> Result<(), LogError> {
        self.commit.wait(ticket)
    }

    /// Completed group-commit passes so far (each is one round of fdatasyncs).
    pub fn group_commit_passes(&self) -> u64 {
        self.commit.passes()
    }

    /// Async form of [`LogManager::wait_durable`].
    pub async fn wait_durable_async(&self, ticket: DurabilityTicket) -> Result<(), LogError> {
        self.commit.wait_async(ticket).await
    }

    /// Periodic work: roll by `segment.ms`, retention, `flush.ms` flushes, and checkpoint
    /// writes. Call every few seconds. Errors of one partition are logged and do not stop others.
    pub fn run_maintenance(&self) -> Result<(), LogError> {
        let logs: Vec<Arc<PartitionLog>> = self.read_logs().values().cloned().collect();
        for l in logs {
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

    /// Every partition open in this process.
    pub fn partitions_open(&self) -> Vec<TopicPartition> {
        self.read_logs().keys().cloned().collect()
    }

    /// Write all checkpoint files now.
    pub fn checkpoint(&self) -> Result<(), LogError> {
        let _g = self
            .checkpoint_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (mut rec, mut start, mut hw, mut cleaner) = {
            let cps = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
            (
                cps.recovery.clone(),
                cps.log_start.clone(),
                cps.hw.clone(),
                cps.cleaner.clone(),
            )
        };
        for (tp, l) in self.read_logs().iter() {
            let (r, s, h, c) = l.checkpoint_offsets();
            rec.insert(tp.clone(), r);
            start.insert(tp.clone(), s);
            hw.insert(tp.clone(), h);
            if let Some(c) = c {
                cleaner.insert(tp.clone(), c);
            }
        }
        checkpoint::write_atomic(
            &self.dir.join(RECOVERY_POINT_FILE),
            checkpoint::render_offsets(&rec).as_bytes(),
        )?;
        checkpoint::write_atomic(
            &self.dir.join(LOG_START_FILE),
            checkpoint::render_offsets(&start).as_bytes(),
        )?;
        checkpoint::write_atomic(
            &self.dir.join(REPLICATION_FILE),
            checkpoint::render_offsets(&hw).as_bytes(),
        )?;
        checkpoint::write_atomic(
            &self.dir.join(CLEANER_FILE),
            checkpoint::render_offsets(&cleaner).as_bytes(),
        )?;
        Ok(())
    }

    /// Flush everything, write checkpoints and the clean-shutdown marker. Every partition is
    /// closed even when one fails; the marker is written only when all of them closed (so a
    /// failed close means a full recovery at the next start) and the first error is returned.
    pub fn shutdown(&self) -> Result<(), LogError> {
        self.commit.sync_all()?;
        let logs: Vec<Arc<PartitionLog>> = self.read_logs().values().cloned().collect();
        // Closing is a few fsyncs per partition: CLOSE_THREADS at a time, so that 10,000
        // partitions stop in seconds rather than minutes.
        let per = logs.len().div_ceil(CLOSE_THREADS).max(1);
        let errors: Vec<LogError> = std::thread::scope(|scope| {
            let handles: Vec<_> = logs
                .chunks(per)
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut errors = Vec::new();
                        for l in chunk {
                            if let Err(e) = l.close() {
                                tracing::error!(partition = %l.topic_partition().dir_name(), error = %e, "cannot close partition log");
                                errors.push(e);
                            }
                        }
                        errors
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![LogError::Io(std::io::Error::other(
                            "a close thread panicked",
                        ))]
                    })
                })
                .collect()
        });
        let first_error = errors.into_iter().next();
        if let Some(e) = first_error {
            self.commit.stop();
            return Err(e);
        }
        self.checkpoint()?;
        checkpoint::write_atomic(&self.dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
        self.commit.stop();
        Ok(())
    }
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
