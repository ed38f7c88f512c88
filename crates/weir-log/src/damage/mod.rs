//! Disk-damage detection at open (issue #18): every batch of every segment of a partition is
//! checked (length bounds, magic, CRC32C, offsets increasing and inside the segment) whether or
//! not the last shutdown was clean; indexes that disagree with the log are removed, so they are
//! rebuilt from it when first used.
//!
//! On the first bad batch the partition is truncated there: later segments and a copy of the
//! damaged one are kept as `<base>.log.corrupt-<unix ms>` for forensics (never silently deleted),
//! the damaged segment is cut at the batch, the leader-epoch cache loses the epochs starting at or
//! after the cut, and the damage is reported ([`PartitionDamage`]). The high watermark, recovery
//! point and producer state are clamped when the partition is opened, as after a truncation.
//!
//! After an unclean shutdown a bad tail of the last segment at or past the recovery point is a
//! torn write (never acknowledged, as appends are acknowledged only once fsynced): it is cut as
//! before, with a warning, and not reported as damage.
//!
//! RecordBatch v2's CRC does not cover the base offset, length, partition leader epoch and magic
//! fields. Lengths, magic and offsets are checked for consistency, and a batch's partition leader
//! epoch against the partition's `leader-epoch-checkpoint`: the checkpoint is written (and
//! fsynced) before any batch of a new epoch is appended and after every truncation, so a batch at
//! or past the first checkpointed start offset carries exactly the epoch the checkpoint gives for
//! its base offset (the newest entry starting at or before it). Limit: a batch below the first
//! checkpointed epoch, or any batch of a partition without a readable checkpoint, has its epoch
//! unchecked (found by the 1,000-fault campaign of 2026-12-07: a flipped bit in an epoch
//! went unnoticed and the replica diverged).

mod scan;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::batch::{BatchHeader, HEADER_LEN};
use crate::checkpoint::{self, fsync_dir};
use crate::segment::segment_path;
use crate::{LogError, TopicPartition};

pub(crate) use scan::{find_damage, first_checked_at_open, segment_bases, Found, Search};

/// A partition whose log was truncated at open because a segment was damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDamage {
    /// The partition.
    pub tp: TopicPartition,
    /// New log end offset: the damaged batch's offset (the end of the valid data before it).
    pub truncated_at: i64,
    /// Log end offset before the truncation (best effort: read from the batch headers).
    pub previous_log_end: i64,
    /// The damaged segment file.
    pub segment: PathBuf,
    /// Byte position of the damaged batch in it.
    pub position: u64,
    /// What is wrong.
    pub reason: String,
}

/// Best-effort end offset of segment `base`, walking batch headers from `pos` (no CRC) while
/// lengths and offsets look sane.
fn walk_end(dir: &Path, base: i64, mut pos: u64, mut next: i64) -> i64 {
    let Ok(file) = File::open(segment_path(dir, base, "log")) else {
        return next;
    };
    let Ok(size) = file.metadata().map(|m| m.len()) else {
        return next;
    };
    let mut header = [0u8; HEADER_LEN];
    while pos + HEADER_LEN as u64 <= size {
        if file.read_exact_at(&mut header, pos).is_err() {
            break;
        }
        let Ok(h) = BatchHeader::parse(&header) else {
            break;
        };
        if h.magic != 2 || h.last_offset_delta < 0 || h.base_offset < next {
            break;
        }
        next = h.next_offset();
        pos += h.total_len as u64;
    }
    next
}

fn remove_if_present(path: &Path) -> Result<(), LogError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn remove_indexes(dir: &Path, base: i64) -> Result<(), LogError> {
    for ext in ["index", "timeindex"] {
        remove_if_present(&segment_path(dir, base, ext))?;
    }
    Ok(())
}

/// `<base>.log.corrupt-<stamp>`.
pub fn corrupt_copy_path(dir: &Path, base: i64, stamp: i64) -> PathBuf {
    dir.join(format!("{base:020}.log.corrupt-{stamp}"))
}

/// What the check at open (`check_partition`) left for the background check: the segments below `below`, and the
/// first bytes of one segment (`prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeferredCheck {
    /// Segments with a base offset below this were not checked.
    pub below: i64,
    /// The start of segment `base` up to byte `len` was not checked.
    pub prefix: Option<DeferredPrefix>,
}

/// The unchecked first `len` bytes of segment `base`; the part checked at open starts there, with
/// the batch at offset `next` (unknown after a clean shutdown, when nothing was checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeferredPrefix {
    /// The segment.
    pub base: i64,
    /// Bytes not checked yet.
    pub len: u64,
    /// The offset of the batch at `len`, when the rest was checked.
    pub next: Option<i64>,
}

/// Where the open-time check starts (see the module doc and [`first_checked_at_open`]): the index
/// of the first segment checked, the position and offset it is checked from, and what is left.
fn plan_open(
    dir: &Path,
    bases: &[i64],
    recovery_point: Option<i64>,
    clean: bool,
    verify_all: bool,
) -> (usize, Option<(u64, i64)>, Option<DeferredCheck>) {
    let (Some(rp), false, Some(&last)) = (recovery_point, verify_all, bases.last()) else {
        return (0, None, None);
    };
    if clean {
        // Kafka recovers nothing after a clean shutdown; every segment goes to the background.
        let len = std::fs::metadata(segment_path(dir, last, "log")).map_or(0, |m| m.len());
        let prefix = DeferredPrefix {
            base: last,
            len,
            next: None,
        };
        let deferred = DeferredCheck {
            below: last,
            prefix: Some(prefix),
        };
        return (bases.len(), None, Some(deferred));
    }
    let i = first_checked_at_open(bases, Some(rp), false);
    let first = recovery_start(dir, bases[i], rp);
    let prefix = first.map(|(len, next)| DeferredPrefix {
        base: bases[i],
        len,
        next: Some(next),
    });
    let deferred = (i > 0 || prefix.is_some()).then_some(DeferredCheck {
        below: bases[i],
        prefix,
    });
    (i, first, deferred)
}

/// After an unclean shutdown, what the crashed process wrote past the recovery point may still
/// be only in the page cache (never acknowledged, or fetched by a follower that had not fsynced
/// it yet). This process serves and replicates it, counts it toward the high watermark and
/// snapshots producer state over it, and a clean shutdown later flushes only the segments it
/// wrote itself: so those segments are fsynced here, before the log is opened. Without it, a
/// power failure after a kill -9 and a clean restart lost records below a durable producer
/// snapshot (`tests/producer_state_model.rs`, found with `--features lazyfs`).
fn sync_after_crash(
    dir: &Path,
    bases: &[i64],
    recovery_point: Option<i64>,
) -> Result<(), LogError> {
    let from = first_checked_at_open(bases, recovery_point, false);
    for &b in &bases[from..] {
        let f = File::open(segment_path(dir, b, "log"))?;
        crate::lazyfs::sync(&f, || f.sync_data())?;
    }
    Ok(())
}

/// The position and base offset of a batch at or before the recovery point `rp` in segment
/// `base`, from its offset index (entries below the recovery point were flushed before the
/// recovery point was checkpointed); `None` (check the whole segment) when the index has none or
/// the batch there does not look right.
fn recovery_start(dir: &Path, base: i64, rp: i64) -> Option<(u64, i64)> {
    let file = File::open(segment_path(dir, base, "log")).ok()?;
    let size = file.metadata().ok()?.len();
    let entries = crate::index::IndexFile::read_entries(
        &segment_path(dir, base, "index"),
        crate::index::IndexKind::Offset,
        size,
    )
    .ok()??;
    let k = entries.partition_point(|&(rel, _)| base + rel <= rp);
    let (_, pos) = *entries.get(k.checked_sub(1)?)?;
    let pos = u64::from(pos);
    if pos == 0 || pos + HEADER_LEN as u64 > size {
        return None;
    }
    let mut header = [0u8; HEADER_LEN];
    file.read_exact_at(&mut header, pos).ok()?;
    let h = BatchHeader::parse(&header).ok()?;
    (h.magic == 2 && h.base_offset >= base && h.base_offset <= rp).then_some((pos, h.base_offset))
}

/// Check the part of the partition directory `dir` that [`plan_open`] selects and truncate at
/// the first damaged batch (see the module doc). `clean` is the clean-shutdown marker;
/// `recovery_point` the checkpointed one. Returns the damage found, if any (a torn tail after an
/// unclean shutdown is not damage), and what was left unchecked (`None` when nothing was).
pub(crate) fn check_partition(
    tp: &TopicPartition,
    dir: &Path,
    clean: bool,
    recovery_point: Option<i64>,
    cleaned_to: Option<i64>,
    verify_all: bool,
) -> Result<(Option<PartitionDamage>, Option<DeferredCheck>), LogError> {
    let bases = segment_bases(dir)?;
    if !clean {
        sync_after_crash(dir, &bases, recovery_point)?;
    }
    // Unreadable: epochs go unchecked (lifecycle ignores such a checkpoint too, with a warning).
    let epochs = checkpoint::read_epochs(&dir.join("leader-epoch-checkpoint")).unwrap_or_default();
    let (from, first, deferred) = plan_open(dir, &bases, recovery_point, clean, verify_all);
    let search = Search {
        tp,
        dir,
        bases: &bases,
        epochs: &epochs,
        cleaned_to,
        first,
        last: None,
    };
    let chosen = find_damage(&search, from..bases.len(), true, &mut Vec::new())?;
    let Some(found) = chosen else {
        return Ok((None, deferred));
    };
    let at = found.cut_offset();
    let drop_whole = found.drops_whole();
    let Found {
        i,
        scan,
        prev_next: _,
        overlaps,
    } = found;
    let b = bases[i];
    let reason = scan.damage.clone().unwrap_or_default();
    let last = i + 1 == bases.len();
    let file = segment_path(dir, b, "log");
    if !clean && last && !overlaps && recovery_point.is_none_or(|rp| at >= rp) {
        // A torn write of the last moments before a crash: never acknowledged.
        let f = std::fs::OpenOptions::new().write(true).open(&file)?;
        let before = f.metadata()?.len();
        f.set_len(scan.valid_len)?;
        f.sync_all()?;
        remove_indexes(dir, b)?;
        tracing::warn!(partition = %tp.dir_name(), file = %file.display(), offset = at, bytes_dropped = before - scan.valid_len, %reason, "recovery truncated a torn tail after an unclean shutdown");
        return Ok((None, deferred));
    }
    let previous_log_end = {
        let (lb, from_pos, from_off) = if last {
            (b, scan.valid_len, at)
        } else {
            let lb = bases[bases.len() - 1];
            (lb, 0, lb)
        };
        walk_end(dir, lb, from_pos, from_off).max(at)
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    // Crash-safe order: later segments go first (newest first), so a crash part-way leaves a
    // prefix of the log that still holds the damaged segment, and the next open cuts again.
    for &k in bases[i + 1..].iter().rev() {
        std::fs::rename(
            segment_path(dir, k, "log"),
            corrupt_copy_path(dir, k, stamp),
        )?;
        for ext in ["index", "timeindex", "txnindex"] {
            remove_if_present(&segment_path(dir, k, ext))?;
        }
    }
    let keep_copy = corrupt_copy_path(dir, b, stamp);
    if drop_whole {
        std::fs::rename(&file, &keep_copy)?;
        for ext in ["index", "timeindex", "txnindex"] {
            remove_if_present(&segment_path(dir, b, ext))?;
        }
    } else {
        std::fs::copy(&file, &keep_copy)?;
        File::open(&keep_copy)?.sync_all()?;
        let f = std::fs::OpenOptions::new().write(true).open(&file)?;
        f.set_len(scan.valid_len)?;
        f.sync_all()?;
        remove_indexes(dir, b)?;
    }
    fsync_dir(dir)?;
    // Epochs starting at or after the cut never got a batch here any more.
    let epochs_path = dir.join("leader-epoch-checkpoint");
    if let Ok(mut epochs) = checkpoint::read_epochs(&epochs_path) {
        let n = epochs.len();
        epochs.retain(|&(_, start)| start < at);
        if epochs.len() != n {
            checkpoint::write_atomic(&epochs_path, checkpoint::render_epochs(&epochs).as_bytes())?;
        }
    }
    tracing::error!(
        partition = %tp.dir_name(),
        file = %file.display(),
        position = scan.valid_len,
        offset = at,
        previous_log_end,
        %reason,
        kept_copy = %keep_copy.display(),
        later_segments_kept_as_corrupt = bases.len() - i - 1,
        "DISK DAMAGE: segment failed its check at open; log truncated at the damaged batch — \
         records from this offset on are refetched from the leader, or lost to disk damage \
         when no other replica holds them"
    );
    Ok((
        Some(PartitionDamage {
            tp: tp.clone(),
            truncated_at: at,
            previous_log_end,
            segment: file,
            position: scan.valid_len,
            reason,
        }),
        deferred,
    ))
}
