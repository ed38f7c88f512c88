//! Opening a partition log (its segments were checked and cut by `damage/` first), closing it
//! cleanly and deleting it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{CheckpointedOffsets, Inner, PartitionLog};
use crate::checkpoint::{self, fsync_dir};
use crate::fd_cache::FdCache;
use crate::group_commit::GroupCommit;
use crate::producer_state;
use crate::segment::Segment;
use crate::{Clock, LogConfig, LogError, TopicPartition};

fn list_segments(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".log") {
            if stem.len() == 20 {
                if let Ok(b) = stem.parse::<i64>() {
                    bases.push(b);
                }
            }
        } else if name.ends_with(".tmp") || name.ends_with(".deleted") || name.ends_with(".cleaned")
        {
            let _ = std::fs::remove_file(dir.join(&*name));
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

impl PartitionLog {
    /// Open (or create) the partition directory `dir`, whose segments [`LogManager::open`]
    /// already checked (CRC32C, lengths, offsets) and truncated at the first damaged or torn batch
    /// (`damage/`; or only from the recovery point, the rest being verified later:
    /// `verify.rs`); offsets, epochs and producer state are clamped to the log end here.
    ///
    /// [`LogManager::open`]: crate::LogManager::open
    pub(crate) fn open(
        tp: TopicPartition,
        dir: PathBuf,
        config: LogConfig,
        commit: Arc<GroupCommit>,
        clock: Arc<dyn Clock>,
        offsets: CheckpointedOffsets,
        files: Arc<FdCache>,
    ) -> Result<PartitionLog, LogError> {
        let now = clock.now_ms();
        let bases = list_segments(&dir)?;
        let mut segments = BTreeMap::new();
        for &b in &bases {
            segments.insert(
                b,
                Segment::open(
                    &dir,
                    b,
                    config.segment_index_bytes,
                    config.index_interval_bytes,
                    now,
                    &files,
                )?,
            );
        }
        let recovery_point = offsets.recovery_point.unwrap_or(0);
        if segments.is_empty() {
            let base = offsets.log_start_offset.unwrap_or(0).max(0);
            segments.insert(
                base,
                Segment::create(
                    &dir,
                    base,
                    config.segment_index_bytes,
                    config.index_interval_bytes,
                    now,
                    &files,
                )?,
            );
            fsync_dir(&dir)?;
        }
        let (&first, _) = segments
            .iter()
            .next()
            .ok_or_else(|| LogError::Io(std::io::Error::other("no segment")))?;
        let log_end_offset = {
            let (_, last) = segments
                .iter_mut()
                .next_back()
                .ok_or_else(|| LogError::Io(std::io::Error::other("no segment")))?;
            last.next_offset()?
        };
        let log_start_offset = offsets
            .log_start_offset
            .unwrap_or(first)
            .max(first)
            .min(log_end_offset);
        let high_watermark = offsets
            .high_watermark
            .unwrap_or(log_start_offset)
            .clamp(log_start_offset, log_end_offset);
        let mut epochs = match checkpoint::read_epochs(&dir.join("leader-epoch-checkpoint")) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(partition = %tp.dir_name(), error = %e, "ignoring corrupt leader-epoch-checkpoint");
                Vec::new()
            }
        };
        // An epoch recorded before its batches reached the disk (a crash lost them) is dropped.
        epochs.retain(|&(_, start)| start <= log_end_offset);
        let (producers, snapshot_at) = producer_state::load_snapshot(&dir, log_end_offset);
        let log = PartitionLog {
            tp,
            dir,
            commit,
            clock,
            files,
            inner: Mutex::new(Inner {
                segments,
                config,
                log_start_offset,
                log_end_offset,
                high_watermark,
                recovery_point: recovery_point.min(log_end_offset),
                unflushed_messages: 0,
                last_flush_ms: now,
                truncations: 0,
                epochs,
                deleted: false,
                cleaner_offset: None,
                unverified: offsets.deferred.map(|d| super::Unverified {
                    below: d.below,
                    prefix: d.prefix,
                    cleaned_to: offsets.cleaned_to,
                }),
                damage: None,
                producers,
            }),
        };
        log.replay_producer_state(
            snapshot_at
                .unwrap_or(log_start_offset)
                .max(log_start_offset),
        )?;
        Ok(log)
    }

    /// Flush every segment and trim the active segment's indexes (clean shutdown).
    /// A partition deleted meanwhile (its topic deleted while the broker stops) has nothing to
    /// close: its directory is gone, so nothing is written.
    pub(crate) fn close(&self) -> Result<(), LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Ok(());
        }
        for (_, s) in inner.segments.iter_mut() {
            s.flush()?;
        }
        inner.recovery_point = inner.log_end_offset;
        producer_state::write_snapshot(&self.dir, inner.log_end_offset, &inner.producers)?;
        Ok(())
    }

    /// The partition directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Base offset of the active (last) segment.
    pub(crate) fn active_base(&self) -> i64 {
        self.lock()
            .segments
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
    }

    /// For a move to another log dir (`log_move.rs`), under this log's lock so nothing is
    /// appended meanwhile: flush every segment, write the producer snapshot at the log end, run
    /// `finish` (which copies what changed since the first pass and switches directories), and
    /// once it succeeded mark this log moved: every later operation on this object is refused
    /// as on a deleted log (callers fetch the new log again). Returns the offsets the copy
    /// reopens with (its recovery point is the log end: everything was flushed).
    pub(crate) fn seal_for_move(
        &self,
        finish: impl FnOnce(i64) -> Result<(), LogError>,
    ) -> Result<CheckpointedOffsets, LogError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(LogError::Deleted(self.tp.dir_name()));
        }
        for (_, s) in inner.segments.iter_mut() {
            s.flush()?;
        }
        producer_state::write_snapshot(&self.dir, inner.log_end_offset, &inner.producers)?;
        let active = inner.segments.keys().next_back().copied().unwrap_or(0);
        finish(active)?;
        inner.deleted = true;
        Ok(CheckpointedOffsets {
            recovery_point: Some(inner.log_end_offset),
            log_start_offset: Some(inner.log_start_offset),
            high_watermark: Some(inner.high_watermark),
            deferred: inner.unverified.map(|u| crate::damage::DeferredCheck {
                below: u.below,
                prefix: u.prefix,
            }),
            cleaned_to: inner.unverified.and_then(|u| u.cleaned_to),
        })
    }

    /// Mark deleted and remove the directory.
    pub(crate) fn delete_all(&self) -> Result<(), LogError> {
        let mut inner = self.lock();
        inner.deleted = true;
        inner.segments.clear();
        std::fs::remove_dir_all(&self.dir)?;
        if let Some(parent) = self.dir.parent() {
            fsync_dir(parent)?;
        }
        Ok(())
    }
}
