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

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::batch::{BatchHeader, HEADER_LEN};
use crate::checkpoint::{self, fsync_dir};
use crate::index::{IndexFile, IndexKind};
use crate::segment::segment_path;
use crate::{LogError, TopicPartition};

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

/// Outcome of checking one segment file.
#[derive(Debug)]
struct SegmentScan {
    /// Bytes of whole, valid batches from the start.
    valid_len: u64,
    /// Offset after the last valid batch (or the expected first offset when none).
    next_offset: i64,
    /// Why the batch at `valid_len` is bad, if it is.
    damage: Option<String>,
    /// False when the `.index` or `.timeindex` disagrees with the (valid part of the) log.
    indexes_ok: bool,
    /// The valid batches show compaction: an offset gap between batches (or before the first),
    /// or a batch holding fewer records than its offset range.
    compacted: bool,
}

/// `Read` at a moving position of a shared file (no seek on the shared handle).
struct PosReader<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for PosReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Segment base offsets of `dir` (files `<20 digits>.log`), ascending.
fn segment_bases(dir: &Path) -> Result<Vec<i64>, LogError> {
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
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Check every batch of segment `base` in `dir`: offsets must be at least `expected_first` and
/// below `limit` (the next segment's base). Reads sequentially in 1 MiB chunks; the CRC is
/// computed while streaming, so a damaged length never makes it allocate.
fn scan_segment(
    dir: &Path,
    base: i64,
    expected_first: i64,
    limit: Option<i64>,
    epochs: &[(i32, i64)],
) -> Result<SegmentScan, LogError> {
    let file = File::open(segment_path(dir, base, "log"))?;
    let size = file.metadata()?.len();
    let offset_index =
        IndexFile::read_entries(&segment_path(dir, base, "index"), IndexKind::Offset, size)?;
    let time_index =
        IndexFile::read_entries(&segment_path(dir, base, "timeindex"), IndexKind::Time, size)?;
    // `None` from read_entries: missing (rebuilt lazily, fine) or insane (must be rebuilt).
    let mut indexes_ok = [("index", &offset_index), ("timeindex", &time_index)]
        .iter()
        .all(|(ext, e)| e.is_some() || !segment_path(dir, base, ext).exists());
    let mut offset_entries = offset_index.unwrap_or_default();
    // A first entry (0, 0) is also what an all-zero preallocated file reads as; it is harmless
    // (position 0 always starts a batch), so it is not checked.
    if offset_entries.first() == Some(&(0, 0)) {
        offset_entries.remove(0);
    }
    let mut next_entry = 0usize;
    let mut reader = BufReader::with_capacity(
        1 << 20,
        PosReader {
            file: &file,
            pos: 0,
        },
    );
    let mut pos = 0u64;
    let mut next = expected_first;
    let mut max_ts = i64::MIN;
    let mut header = [0u8; HEADER_LEN];
    let mut damage = None;
    let mut compacted = false;
    while pos < size {
        if size - pos < HEADER_LEN as u64 {
            damage = Some(format!(
                "{} bytes at the end are shorter than a batch header (a cut tail)",
                size - pos
            ));
            break;
        }
        reader.read_exact(&mut header)?;
        let h = match BatchHeader::parse(&header) {
            Ok(h) => h,
            Err(e) => {
                damage = Some(e.to_string());
                break;
            }
        };
        if let Some(why) =
            header_problem(&h, pos, size, next, base, limit).or_else(|| epoch_problem(&h, epochs))
        {
            damage = Some(why);
            break;
        }
        let mut crc = crc32c::crc32c(&header[21..]);
        let mut remaining = h.total_len - HEADER_LEN;
        while remaining > 0 {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len().min(remaining);
            crc = crc32c::crc32c_append(crc, &chunk[..n]);
            reader.consume(n);
            remaining -= n;
        }
        if remaining > 0 {
            damage = Some("the file ended inside the batch (a cut tail)".into());
            break;
        }
        if crc != h.crc {
            damage = Some(format!(
                "CRC32C mismatch: stored {:#010x}, computed {crc:#010x} (flipped bits)",
                h.crc
            ));
            break;
        }
        compacted |=
            h.base_offset > next || i64::from(h.records_count) < i64::from(h.last_offset_delta) + 1;
        // Offset index entries point at batch starts and name that batch's last offset.
        while let Some(&(rel, p)) = offset_entries.get(next_entry) {
            if (p as u64) > pos {
                break;
            }
            if p as u64 != pos || rel != h.last_offset() - base {
                indexes_ok = false;
            }
            next_entry += 1;
        }
        next = h.next_offset();
        max_ts = max_ts.max(h.max_timestamp);
        pos += h.total_len as u64;
    }
    if next_entry < offset_entries.len() {
        indexes_ok = false; // entries past the valid data
    }
    if let Some(entries) = &time_index {
        let last_rel = next - 1 - base;
        if entries
            .iter()
            .any(|&(ts, rel)| rel as i64 > last_rel || ts > max_ts)
        {
            indexes_ok = false;
        }
    }
    Ok(SegmentScan {
        valid_len: pos,
        next_offset: next,
        damage,
        indexes_ok,
        compacted,
    })
}

/// The batch's partition leader epoch disagrees with the leader-epoch checkpoint `epochs`
/// (ascending `(epoch, start offset)`; see the module doc), if it does.
fn epoch_problem(h: &BatchHeader, epochs: &[(i32, i64)]) -> Option<String> {
    let i = epochs.partition_point(|&(_, start)| start <= h.base_offset);
    let (expected, start) = *epochs.get(i.checked_sub(1)?)?;
    (h.partition_leader_epoch != expected).then(|| {
        format!(
            "partition leader epoch {} at offset {}, where the leader-epoch checkpoint has \
             epoch {expected} (from offset {start}): a damaged header",
            h.partition_leader_epoch, h.base_offset
        )
    })
}

/// What is wrong with a parsed header at `pos` (checks the CRC does not cover), if anything.
fn header_problem(
    h: &BatchHeader,
    pos: u64,
    size: u64,
    expected: i64,
    base: i64,
    limit: Option<i64>,
) -> Option<String> {
    if h.magic != 2 {
        return Some(format!("magic byte {} (only 2 is written)", h.magic));
    }
    if pos + h.total_len as u64 > size {
        return Some(format!(
            "the batch claims {} bytes but only {} remain (a cut tail or a damaged length)",
            h.total_len,
            size - pos
        ));
    }
    if h.last_offset_delta < 0 {
        return Some(format!(
            "negative last offset delta {}",
            h.last_offset_delta
        ));
    }
    if h.base_offset < expected {
        return Some(format!(
            "base offset {} is below {expected}, where this batch must start (offsets must increase)",
            h.base_offset
        ));
    }
    if h.base_offset > i64::MAX - 1 - i64::from(i32::MAX)
        || h.last_offset() - base > i64::from(i32::MAX)
        || limit.is_some_and(|l| h.last_offset() >= l)
    {
        return Some(format!(
            "offsets {}..={} do not fit in this segment",
            h.base_offset,
            h.last_offset()
        ));
    }
    None
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

fn remove_indexes(dir: &Path, base: i64) -> Result<(), LogError> {
    for ext in ["index", "timeindex"] {
        remove_if_present(&segment_path(dir, base, ext))?;
    }
    Ok(())
}

/// `<base>.log.corrupt-<stamp>`.
pub fn corrupt_copy_path(dir: &Path, base: i64, stamp: i64) -> PathBuf {
    dir.join(format!("{base:020}.log.corrupt-{stamp}"))
}

/// Check every segment of the partition directory `dir` and truncate at the first damaged batch
/// (see the module doc). `clean` is the clean-shutdown marker; `recovery_point` the checkpointed
/// one. Returns the damage found, if any (a torn tail after an unclean shutdown is not damage).
pub(crate) fn check_partition(
    tp: &TopicPartition,
    dir: &Path,
    clean: bool,
    recovery_point: Option<i64>,
    cleaned_to: Option<i64>,
) -> Result<Option<PartitionDamage>, LogError> {
    let bases = segment_bases(dir)?;
    // Unreadable: epochs go unchecked (lifecycle ignores such a checkpoint too, with a warning).
    let epochs = checkpoint::read_epochs(&dir.join("leader-epoch-checkpoint")).unwrap_or_default();
    let mut prev_next = i64::MIN;
    // Compaction leaves offset gaps, also between segments; without it, a segment must end where
    // the next one starts: a gap there is a tail cut at a batch boundary (no batch is damaged).
    let mut compacted = false;
    let mut gap: Option<(usize, SegmentScan, i64, bool)> = None;
    let mut found: Option<(usize, SegmentScan, i64, bool)> = None;
    for (i, &b) in bases.iter().enumerate() {
        let limit = bases.get(i + 1).copied();
        let overlaps = b < prev_next;
        let scan = if overlaps {
            SegmentScan {
                valid_len: 0,
                next_offset: prev_next,
                damage: Some(format!(
                    "the segment starts at offset {b}, below the end of the previous one ({prev_next})"
                )),
                indexes_ok: false,
                compacted: false,
            }
        } else {
            scan_segment(dir, b, b.max(prev_next), limit, &epochs)?
        };
        compacted |= scan.compacted;
        if scan.damage.is_some() {
            found = Some((i, scan, prev_next, overlaps));
            break;
        }
        if !scan.indexes_ok {
            tracing::warn!(partition = %tp.dir_name(), segment = %segment_path(dir, b, "log").display(), "index disagrees with the log; rebuilding it");
            remove_indexes(dir, b)?;
        }
        let end = scan.next_offset;
        if let Some(&next_base) = bases.get(i + 1) {
            if gap.is_none() && end < next_base {
                let cut = SegmentScan {
                    damage: Some(format!(
                        "the segment ends at offset {end} but the next one starts at {next_base}: \
                         offsets {end}..{next_base} are missing (a tail cut at a batch boundary)"
                    )),
                    ..scan
                };
                gap = Some((i, cut, prev_next, overlaps));
            }
        }
        prev_next = end;
    }
    // A gap counts unless the log shows compaction or was cleaned past it here.
    let gap =
        gap.filter(|(_, g, _, _)| !compacted && cleaned_to.is_none_or(|c| c <= g.next_offset));
    let chosen = match (gap, found) {
        (Some(g), Some(f)) => Some(if g.0 < f.0 { g } else { f }),
        (g, f) => g.or(f),
    };
    let Some((i, scan, prev_next, overlaps)) = chosen else {
        return Ok(None);
    };
    let b = bases[i];
    let reason = scan.damage.clone().unwrap_or_default();
    let last = i + 1 == bases.len();
    // A segment left without a valid batch goes whole (unless it is the first): the log
    // then ends where the previous segment ends.
    let drop_whole = scan.valid_len == 0 && i > 0;
    let at = if drop_whole {
        prev_next
    } else {
        scan.next_offset
    };
    let file = segment_path(dir, b, "log");
    if !clean && last && !overlaps && recovery_point.is_none_or(|rp| at >= rp) {
        // A torn write of the last moments before a crash: never acknowledged.
        let f = std::fs::OpenOptions::new().write(true).open(&file)?;
        let before = f.metadata()?.len();
        f.set_len(scan.valid_len)?;
        f.sync_all()?;
        remove_indexes(dir, b)?;
        tracing::warn!(partition = %tp.dir_name(), file = %file.display(), offset = at, bytes_dropped = before - scan.valid_len, %reason, "recovery truncated a torn tail after an unclean shutdown");
        return Ok(None);
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
    Ok(Some(PartitionDamage {
        tp: tp.clone(),
        truncated_at: at,
        previous_log_end,
        segment: file,
        position: scan.valid_len,
        reason,
    }))
}
