//! One entry of `log.dirs`: its checkpoint files, clean-shutdown marker, group-commit flusher,
//! the partitions found in it at open, and whether it is offline (a write or an fsync failed,
//! or it could not be opened).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::checkpoint::{self, fsync_dir};
use crate::damage::{self, PartitionDamage};
use crate::group_commit::GroupCommit;
use crate::partition_log::{CheckpointedOffsets, PartitionLog};
use crate::{LogError, TopicPartition};

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

#[derive(Debug, Default, Clone)]
struct Checkpoints {
    recovery: BTreeMap<TopicPartition, i64>,
    log_start: BTreeMap<TopicPartition, i64>,
    hw: BTreeMap<TopicPartition, i64>,
    cleaner: BTreeMap<TopicPartition, i64>,
}

/// One log directory.
#[derive(Debug)]
pub(crate) struct LogDir {
    pub(crate) path: PathBuf,
    pub(crate) commit: Arc<GroupCommit>,
    pub(crate) clean: bool,
    /// Offsets read at start-up, kept for partitions not opened (yet).
    loaded: Mutex<Checkpoints>,
    /// Serializes checkpoint writes.
    checkpoint_lock: Mutex<()>,
    /// Partitions truncated at open because a segment was damaged.
    pub(crate) damaged: Vec<PartitionDamage>,
    /// Per partition, the base offset below which segments were not checked at open (see
    /// `damage::first_checked_at_open`); absent when every segment was checked.
    unchecked: HashMap<TopicPartition, damage::DeferredCheck>,
    /// Partition directories found at open.
    pub(crate) on_disk: Vec<TopicPartition>,
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

/// `<topic>-<partition>` as a partition (`None` for other names, e.g. `-future`/`-delete` dirs).
pub(crate) fn parse_dir_name(name: &str) -> Option<TopicPartition> {
    let (topic, p) = name.rsplit_once('-')?;
    if topic.is_empty() {
        return None;
    }
    Some(TopicPartition::new(topic, p.parse().ok()?))
}

/// Partition directories (`<topic>-<partition>`) in `dir`, sorted.
pub(crate) fn partitions_in(dir: &Path) -> Vec<TopicPartition> {
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

impl LogDir {
    /// Open (creating if needed) `path`, number `index` of `log.dirs`: consume the clean-shutdown
    /// marker, read the checkpoints and check the segments of every partition directory that
    /// `verify_all` or the recovery points select (`damage/`), truncating a partition at its first
    /// damaged batch; what is left is recorded for the background check (`deferred.rs`).
    pub(crate) fn open(
        path: &Path,
        index: usize,
        failures: tokio::sync::watch::Sender<u64>,
        verify_all: bool,
    ) -> Result<LogDir, LogError> {
        std::fs::create_dir_all(path)?;
        let marker = path.join(CLEAN_SHUTDOWN_FILE);
        let mut clean = marker.exists();
        if clean {
            std::fs::remove_file(&marker)?;
            fsync_dir(path)?;
        }
        let mut corrupt = false;
        let cps = Checkpoints {
            recovery: read_or_warn(&path.join(RECOVERY_POINT_FILE), &mut corrupt),
            log_start: read_or_warn(&path.join(LOG_START_FILE), &mut corrupt),
            hw: read_or_warn(&path.join(REPLICATION_FILE), &mut corrupt),
            cleaner: read_or_warn(&path.join(CLEANER_FILE), &mut corrupt),
        };
        if corrupt {
            clean = false;
        }
        let on_disk: Vec<TopicPartition> = partitions_in(path)
            .into_iter()
            .filter(|tp| tp.topic != "__cluster_metadata")
            .collect();
        if !clean && !on_disk.is_empty() {
            tracing::info!(dir = %path.display(), "no clean-shutdown marker: torn tails past the recovery points are cut");
        } else if !clean {
            tracing::debug!(dir = %path.display(), "no clean-shutdown marker (empty log dir)");
        }
        let started = std::time::Instant::now();
        let checked = crate::parallel::map(
            &on_disk,
            |tp| {
                let dir = path.join(tp.dir_name());
                let recovery_point = cps.recovery.get(tp).copied();
                damage::check_partition(
                    tp,
                    &dir,
                    clean,
                    recovery_point,
                    cps.cleaner.get(tp).copied(),
                    verify_all,
                )
            },
            || {
                Err(LogError::Io(std::io::Error::other(
                    "a segment check thread panicked",
                )))
            },
        );
        let mut damaged = Vec::new();
        let mut unchecked = HashMap::new();
        for (tp, r) in on_disk.iter().zip(checked) {
            let (d, deferred) = r?;
            if let Some(d) = d {
                damaged.push(d);
            }
            if let Some(deferred) = deferred {
                unchecked.insert(tp.clone(), deferred);
            }
        }
        tracing::info!(
            dir = %path.display(),
            partitions = on_disk.len(),
            damaged = damaged.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            deferred = unchecked.len(),
            "checked the segments from the recovery points on (CRC32C); older segments of \
             `deferred` partitions are verified in the background"
        );
        Ok(LogDir {
            path: path.to_path_buf(),
            commit: Arc::new(GroupCommit::start_for(index, Some(failures))?),
            clean,
            loaded: Mutex::new(cps),
            checkpoint_lock: Mutex::new(()),
            damaged,
            unchecked,
            on_disk,
        })
    }

    /// A dir that could not be opened at start: offline from the beginning (as Kafka starts with
    /// a log dir it cannot read offline).
    pub(crate) fn offline(
        path: &Path,
        index: usize,
        failures: tokio::sync::watch::Sender<u64>,
        reason: &str,
    ) -> Result<LogDir, LogError> {
        let commit = GroupCommit::start_for(index, Some(failures))?;
        commit.fail_writes(&format!("cannot open {}: {reason}", path.display()));
        Ok(LogDir {
            path: path.to_path_buf(),
            commit: Arc::new(commit),
            clean: false,
            loaded: Mutex::new(Checkpoints::default()),
            checkpoint_lock: Mutex::new(()),
            damaged: Vec::new(),
            unchecked: HashMap::new(),
            on_disk: Vec::new(),
        })
    }

    /// True once the dir failed: its partitions refuse every write and are offline on this node.
    pub(crate) fn is_offline(&self) -> bool {
        self.commit.is_marked_failed()
    }

    /// The checkpointed offsets of `tp` read at open.
    pub(crate) fn offsets(&self, tp: &TopicPartition) -> CheckpointedOffsets {
        let cps = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        CheckpointedOffsets {
            recovery_point: cps.recovery.get(tp).copied(),
            deferred: self.unchecked.get(tp).copied(),
            cleaned_to: cps.cleaner.get(tp).copied(),
            log_start_offset: cps.log_start.get(tp).copied(),
            high_watermark: cps.hw.get(tp).copied(),
        }
    }

    /// Forget `tp`'s checkpointed offsets (deleted or moved away).
    pub(crate) fn forget(&self, tp: &TopicPartition) {
        let mut cps = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        cps.recovery.remove(tp);
        cps.log_start.remove(tp);
        cps.hw.remove(tp);
        cps.cleaner.remove(tp);
    }

    /// Write the four checkpoint files, with `logs` (the partitions open in this dir) over the
    /// offsets read at open.
    pub(crate) fn checkpoint(&self, logs: &[Arc<PartitionLog>]) -> Result<(), LogError> {
        let _g = self
            .checkpoint_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut cps = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for l in logs {
            let tp = l.topic_partition();
            let (r, s, h, c) = l.checkpoint_offsets();
            cps.recovery.insert(tp.clone(), r);
            cps.log_start.insert(tp.clone(), s);
            cps.hw.insert(tp.clone(), h);
            if let Some(c) = c {
                cps.cleaner.insert(tp.clone(), c);
            }
        }
        for (file, offsets) in [
            (RECOVERY_POINT_FILE, &cps.recovery),
            (LOG_START_FILE, &cps.log_start),
            (REPLICATION_FILE, &cps.hw),
            (CLEANER_FILE, &cps.cleaner),
        ] {
            checkpoint::write_atomic(
                &self.path.join(file),
                checkpoint::render_offsets(offsets).as_bytes(),
            )?;
        }
        Ok(())
    }

    /// Write the clean-shutdown marker (after every partition closed and the checkpoints).
    pub(crate) fn write_clean_marker(&self) -> Result<(), LogError> {
        checkpoint::write_atomic(&self.path.join(CLEAN_SHUTDOWN_FILE), b"")
    }
}
