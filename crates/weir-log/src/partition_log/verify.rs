//! Deferred verification (issue #24, start-up): segments below the recovery point are not read
//! when the log dir is opened (Kafka's recovery), so a start after a crash does not read every
//! byte of every partition. They are still checked exactly as at open (`damage/`: lengths, magic,
//! CRC32C, offsets, leader epochs, gaps between segments), by a background pass
//! ([`crate::LogManager::verify_deferred`]), and until then every read from them checks the
//! batches it returns, so a damaged batch is never served.
//!
//! Damage found at run time is recorded, not cut at once: the broker first takes this replica out
//! of the ISR (and out of the leadership) so the copy never counts toward the high watermark, then
//! calls [`PartitionLog::repair_damage`], which truncates at the damage, and the follower refetches
//! from the leader. Until then reads of the damaged segment are refused (KAFKA_STORAGE_ERROR).

use std::path::PathBuf;

use super::{PartitionLog, RuntimeDamage};
use crate::damage::{self, Search};
use crate::{LogError, PartitionDamage};

/// What one verification of a partition's deferred segments found.
#[derive(Debug)]
pub enum VerifyOutcome {
    /// Nothing was left to verify.
    Nothing,
    /// Every deferred segment passed; `bytes` were read.
    Verified {
        /// Segments checked.
        segments: usize,
        /// Bytes read.
        bytes: u64,
    },
    /// A segment failed its check: reads of it are refused until [`PartitionLog::repair_damage`].
    Damaged(PartitionDamage),
    /// The segments changed while they were read (retention, compaction, a truncation): try again.
    Changed,
}

/// A snapshot of what to verify, taken under the log's lock and checked outside it.
struct Job {
    dir: PathBuf,
    bases: Vec<i64>,
    /// How many of `bases` (from the first) to check: every unverified segment, and the one with
    /// an unverified prefix (checked up to `last`).
    count: usize,
    last: Option<(u64, Option<i64>)>,
    epochs: Vec<(i32, i64)>,
    cleaned_to: Option<i64>,
}

impl PartitionLog {
    /// True while some segment of this log is not verified yet.
    pub fn has_unverified_segments(&self) -> bool {
        self.lock().unverified.is_some()
    }

    /// Verify the segments left unchecked at open (see the module doc). The files are read
    /// without holding the log's lock; appends and reads go on meanwhile. A damaged segment is
    /// copied to `<base>.log.corrupt-<unix ms>` for forensics and reported.
    pub fn verify_deferred(&self) -> Result<VerifyOutcome, LogError> {
        let Some(job) = self.verification_job() else {
            return Ok(VerifyOutcome::Nothing);
        };
        let search = Search {
            tp: &self.tp,
            dir: &job.dir,
            bases: &job.bases,
            epochs: &job.epochs,
            cleaned_to: job.cleaned_to,
            first: None,
            last: job.last,
        };
        let mut bad_indexes = Vec::new();
        let found = match damage::find_damage(&search, 0..job.count, false, &mut bad_indexes) {
            Ok(f) => f,
            // A segment deleted meanwhile (retention): the next pass sees the new segment list.
            Err(LogError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(VerifyOutcome::Changed)
            }
            Err(e) => return Err(e),
        };
        let bytes: u64 = job.bases[..job.count]
            .iter()
            .filter_map(|&b| {
                std::fs::metadata(crate::segment::segment_path(&job.dir, b, "log")).ok()
            })
            .map(|m| m.len())
            .sum();
        let mut inner = self.lock();
        let unchanged = !inner.deleted
            && inner
                .segments
                .keys()
                .take(job.count)
                .eq(job.bases[..job.count].iter());
        if !unchanged {
            return Ok(VerifyOutcome::Changed);
        }
        let Some(found) = found else {
            for b in bad_indexes {
                if let Some(seg) = inner.segments.get_mut(&b) {
                    let size = seg.size();
                    seg.rebuild_indexes(size)?;
                }
            }
            inner.unverified = None;
            return Ok(VerifyOutcome::Verified {
                segments: job.count,
                bytes,
            });
        };
        let base = found.segment_base(&job.bases);
        let at = found.cut_offset();
        let segment = crate::segment::segment_path(&job.dir, base, "log");
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let copy = damage::corrupt_copy_path(&job.dir, base, stamp);
        if let Err(e) = std::fs::copy(&segment, &copy) {
            tracing::warn!(file = %segment.display(), error = %e, "could not keep a copy of a damaged segment");
        }
        let damage = RuntimeDamage {
            at,
            base,
            end: job
                .bases
                .get(found.segment_index() + 1)
                .copied()
                .unwrap_or(i64::MAX),
            segment: segment.clone(),
            position: found.position(),
            reason: found.reason(),
        };
        let previous_log_end = inner.log_end_offset;
        tracing::error!(
            partition = %self.tp.dir_name(),
            file = %segment.display(),
            position = damage.position,
            offset = at,
            reason = %damage.reason,
            kept_copy = %copy.display(),
            "DISK DAMAGE: a segment failed its background verification; reads of it are refused \
             until this replica is out of the ISR and truncated there"
        );
        inner.damage = Some(damage.clone());
        Ok(VerifyOutcome::Damaged(PartitionDamage {
            tp: self.tp.clone(),
            truncated_at: at,
            previous_log_end,
            segment,
            position: damage.position,
            reason: damage.reason,
        }))
    }

    /// The offset of damage found at run time and not repaired yet: a follower fetches from there
    /// (a fetch offset past it would claim the damaged records to the leader).
    pub fn runtime_damage_at(&self) -> Option<i64> {
        self.lock().damage.as_ref().map(|d| d.at)
    }

    /// The damage found at run time and not repaired yet, if any.
    pub fn runtime_damage(&self) -> Option<PartitionDamage> {
        let inner = self.lock();
        inner.damage.as_ref().map(|d| PartitionDamage {
            tp: self.tp.clone(),
            truncated_at: d.at,
            previous_log_end: inner.log_end_offset,
            segment: d.segment.clone(),
            position: d.position,
            reason: d.reason.clone(),
        })
    }

    /// Truncate at the damage found at run time (the caller made sure this replica is out of the
    /// ISR and does not lead, unless it is the only in-sync copy). Every segment left was verified
    /// (the verification checks segments in order and stopped at the damage). A no-op without
    /// damage.
    pub fn repair_damage(&self) -> Result<Option<i64>, LogError> {
        let Some((at, base, position)) = self
            .lock()
            .damage
            .as_ref()
            .map(|d| (d.at, d.base, d.position))
        else {
            return Ok(None);
        };
        {
            // Cut the damaged segment at the damaged batch first: what follows it may not parse
            // (a cut header), and the truncation by offset finds batches by parsing.
            let mut inner = self.lock();
            if let Some(seg) = inner.segments.get_mut(&base) {
                if seg.size() > position {
                    seg.truncate_bytes(position)?;
                }
            }
        }
        self.truncate_to(at)?;
        let mut inner = self.lock();
        inner.damage = None;
        inner.unverified = None;
        Ok(Some(at))
    }

    fn verification_job(&self) -> Option<Job> {
        let inner = self.lock();
        if inner.deleted || inner.damage.is_some() {
            return None;
        }
        let u = inner.unverified?;
        let bases: Vec<i64> = inner.segments.keys().copied().collect();
        let mut count = bases.iter().filter(|&&b| b < u.below).count();
        let mut last = None;
        // The segment with the unverified prefix follows the unverified segments (unless
        // retention or compaction removed it meanwhile: then there is nothing left to check).
        if let Some(p) = u.prefix.filter(|p| bases.get(count) == Some(&p.base)) {
            count += 1;
            last = Some((p.len, p.next));
        }
        Some(Job {
            dir: self.dir.clone(),
            bases,
            count,
            last,
            epochs: inner.epochs.clone(),
            cleaned_to: u.cleaned_to,
        })
    }

    /// Check the batches of `bytes` (read from segment `base` at `position`) as the open-time
    /// check does, for a read from a segment not verified yet: each batch whole and by its CRC,
    /// and offsets never going backwards from one batch to the next (a damaged base offset,
    /// outside the CRC: bug Q). An error names the first bad one.
    pub(super) fn check_read(base: i64, position: u64, bytes: &[u8]) -> Result<(), String> {
        let mut pos = 0usize;
        let mut prev_next: Option<i64> = None;
        while pos < bytes.len() {
            let at = position + pos as u64;
            let h = crate::batch::check_integrity(&bytes[pos..])
                .map_err(|e| format!("{e} (byte {at} of segment {base})"))?;
            if let Some(n) = prev_next.filter(|&n| h.base_offset < n) {
                return Err(format!(
                    "base offset {} at byte {at} of segment {base} is below {n}, where the \
                     previous batch ended (a damaged base offset)",
                    h.base_offset
                ));
            }
            prev_next = Some(h.next_offset());
            pos += h.total_len;
        }
        Ok(())
    }
}
