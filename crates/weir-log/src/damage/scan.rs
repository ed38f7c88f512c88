//! Scanning segment files for damage (see the parent module for what is checked and why).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::batch::{BatchHeader, HEADER_LEN};
use crate::index::{IndexFile, IndexKind};
use crate::segment::segment_path;
use crate::{LogError, TopicPartition};

/// Outcome of checking one segment file.
#[derive(Debug)]
pub(super) struct SegmentScan {
    /// Bytes of whole, valid batches from the start.
    pub(super) valid_len: u64,
    /// Offset after the last valid batch (or the expected first offset when none).
    pub(super) next_offset: i64,
    /// Why the batch at `valid_len` is bad, if it is.
    pub(super) damage: Option<String>,
    /// False when the `.index` or `.timeindex` disagrees with the (valid part of the) log.
    pub(super) indexes_ok: bool,
    /// The valid batches show compaction: an offset gap between batches (or before the first),
    /// or a batch holding fewer records than its offset range.
    pub(super) compacted: bool,
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
pub(crate) fn segment_bases(dir: &Path) -> Result<Vec<i64>, LogError> {
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
    span: Span,
) -> Result<SegmentScan, LogError> {
    let file = File::open(segment_path(dir, base, "log"))?;
    let file_size = file.metadata()?.len();
    let size = span.end.map_or(file_size, |e| e.min(file_size));
    // A scan of part of the segment checks only the index entries it can (see [`Span`]).
    let whole = span.start == 0 && span.end.is_none();
    let offset_index = IndexFile::read_entries(
        &segment_path(dir, base, "index"),
        IndexKind::Offset,
        file_size,
    )?;
    let time_index = if whole {
        IndexFile::read_entries(&segment_path(dir, base, "timeindex"), IndexKind::Time, size)?
    } else {
        None
    };
    // `None` from read_entries: missing (rebuilt lazily, fine) or insane (must be rebuilt).
    // (A partial scan does not read the time index: only the offset index counts then.)
    let checked: &[(&str, &IndexEntries)] = if whole {
        &[("index", &offset_index), ("timeindex", &time_index)]
    } else {
        &[("index", &offset_index)]
    };
    let mut indexes_ok = checked
        .iter()
        .all(|(ext, e)| e.is_some() || !segment_path(dir, base, ext).exists());
    let mut offset_entries = offset_index.unwrap_or_default();
    // A first entry (0, 0) is also what an all-zero preallocated file reads as; it is harmless
    // (position 0 always starts a batch), so it is not checked.
    if offset_entries.first() == Some(&(0, 0)) {
        offset_entries.remove(0);
    }
    let mut next_entry = offset_entries.partition_point(|&(_, p)| u64::from(p) < span.start);
    let mut reader = BufReader::with_capacity(
        1 << 20,
        PosReader {
            file: &file,
            pos: span.start,
        },
    );
    let mut pos = span.start;
    let mut next = expected_first;
    let mut max_ts = i64::MIN;
    let mut header = [0u8; HEADER_LEN];
    let mut damage = None;
    let mut compacted = false;
    // The last batch's position, the offset it should have started at and the one it claims,
    // when it claims a later one (an offset gap).
    let mut jumped: Option<(u64, i64, i64)> = None;
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
            // Offsets going backwards right after a batch that jumped ahead: the jump is the
            // damage (a flipped bit in a base offset, outside the CRC, looks like a compaction
            // gap), and this batch starts where that one should have. Cut before the jump, or the
            // misplaced batch stays and the log goes on from its offsets (bug Q).
            match jumped {
                Some((jpos, jexpected, claimed))
                    if h.base_offset < next && h.base_offset >= jexpected =>
                {
                    damage = Some(format!(
                        "the batch at byte {jpos} claims to start at offset {claimed} where \
                         {jexpected} belongs, and the next one starts at {} (a damaged base \
                         offset): {why}",
                        h.base_offset
                    ));
                    pos = jpos;
                    next = jexpected;
                }
                _ => damage = Some(why),
            }
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
        jumped = (h.base_offset > next).then_some((pos, next, h.base_offset));
        compacted |=
            jumped.is_some() || i64::from(h.records_count) < i64::from(h.last_offset_delta) + 1;
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
    if span.end.is_none() && next_entry < offset_entries.len() {
        indexes_ok = false; // entries past the valid data
    }
    if damage.is_none() && span.end.is_some_and(|e| e > file_size) {
        damage = Some(format!(
            "the segment is {file_size} bytes, shorter than the {} it had at start-up (a cut tail)",
            span.end.unwrap_or(0)
        ));
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

/// The first damage found by [`find_damage`]: the segment (index into the bases), its scan (whose
/// `damage` says why), the offset the previous segment ended at, and whether the segment overlaps
/// the previous one.
pub(crate) struct Found {
    pub(super) i: usize,
    pub(super) scan: SegmentScan,
    pub(super) prev_next: i64,
    pub(super) overlaps: bool,
}

impl Found {
    /// The offset the log must be cut at: after the segment's last valid batch, or where the
    /// previous segment ended when this one has no valid batch (it then goes whole).
    pub(crate) fn cut_offset(&self) -> i64 {
        if self.drops_whole() {
            self.prev_next
        } else {
            self.scan.next_offset
        }
    }

    pub(super) fn drops_whole(&self) -> bool {
        self.scan.valid_len == 0 && self.i > 0
    }

    /// Base offset of the damaged segment, given the bases the search ran over.
    pub(crate) fn segment_base(&self, bases: &[i64]) -> i64 {
        bases[self.i]
    }

    /// Index (into the bases) of the damaged segment.
    pub(crate) fn segment_index(&self) -> usize {
        self.i
    }

    /// Byte position of the damaged batch in its segment.
    pub(crate) fn position(&self) -> u64 {
        self.scan.valid_len
    }

    /// What is wrong.
    pub(crate) fn reason(&self) -> String {
        self.scan.damage.clone().unwrap_or_default()
    }
}

/// Segments checked fully (CRC32C, lengths, offsets, epochs, the gap to the next segment) when a
/// partition is opened: `verify_all` (`log.startup.verify=all`), or only from the segment that holds
/// the recovery point on (Kafka's recovery; a missing recovery point means all of them). The
/// segments below are verified later, in the background and by reads (`verify.rs`). Returns the
/// index of the first segment checked now.
pub(crate) fn first_checked_at_open(
    bases: &[i64],
    recovery_point: Option<i64>,
    verify_all: bool,
) -> usize {
    match recovery_point {
        Some(rp) if !verify_all => bases.partition_point(|&b| b <= rp).saturating_sub(1),
        _ => 0,
    }
}

/// An index file's entries as `IndexFile::read_entries` reads them.
type IndexEntries = Option<Vec<(i64, u32)>>;

/// The bytes of a segment a scan covers: from `start` (a batch boundary) to `end` (the file's end
/// when `None`). A partial scan checks the offset-index entries inside it only, and no time index.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    pub start: u64,
    pub end: Option<u64>,
}

/// One partition's segments as [`find_damage`] searches them.
#[derive(Clone, Copy)]
pub(crate) struct Search<'a> {
    /// The partition (for log lines).
    pub tp: &'a TopicPartition,
    /// Its directory.
    pub dir: &'a Path,
    /// Every segment base offset, ascending (also those outside the searched range: the gap rule
    /// looks at the next one).
    pub bases: &'a [i64],
    /// The leader-epoch checkpoint's entries (ascending).
    pub epochs: &'a [(i32, i64)],
    /// The cleaner's checkpointed offset, if it ran.
    pub cleaned_to: Option<i64>,
    /// The first segment of the searched range is checked from this position, whose batch
    /// starts at this offset (the recovery point's batch; `None`: from its start).
    pub first: Option<(u64, i64)>,
    /// The last segment of the searched range is checked up to this position only, where the
    /// batch at this offset (when known) must follow: the part checked at open (`None`: to its
    /// end, followed by the next segment's base).
    pub last: Option<(u64, Option<i64>)>,
}

/// Check the segments `range` of `bases` in `dir` (every batch: see the module doc) and return
/// the first damage, if any: a bad batch, or (counted only when none of the checked segments shows
/// compaction and the cleaner did not clean past it) a segment that ends before the next one
/// starts. `fix_indexes` removes indexes that disagree with the log (at open; at run time the
/// caller rebuilds them, see `bad_indexes`, which lists the bases whose indexes disagree).
pub(crate) fn find_damage(
    search: &Search<'_>,
    range: std::ops::Range<usize>,
    fix_indexes: bool,
    bad_indexes: &mut Vec<i64>,
) -> Result<Option<Found>, LogError> {
    let Search {
        tp,
        dir,
        bases,
        epochs,
        cleaned_to,
        first,
        last,
    } = *search;
    let range_start = range.start;
    let range_last = range.end.saturating_sub(1);
    let mut prev_next = i64::MIN;
    // Compaction leaves offset gaps, also between segments; without it, a segment must end where
    // the next one starts: a gap there is a tail cut at a batch boundary (no batch is damaged).
    let mut compacted = false;
    let mut gap: Option<Found> = None;
    let mut found: Option<Found> = None;
    for i in range {
        let b = bases[i];
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
            let mut span = Span::default();
            let mut expected = b.max(prev_next);
            if let (true, Some((pos, off))) = (i == range_start, first) {
                span.start = pos;
                expected = off;
            }
            if let (true, Some((end, _))) = (i == range_last, last) {
                span.end = Some(end);
            }
            scan_segment(dir, b, expected, limit, epochs, span)?
        };
        compacted |= scan.compacted;
        if scan.damage.is_some() {
            found = Some(Found {
                i,
                scan,
                prev_next,
                overlaps,
            });
            break;
        }
        if !scan.indexes_ok {
            tracing::warn!(partition = %tp.dir_name(), segment = %segment_path(dir, b, "log").display(), "index disagrees with the log; rebuilding it");
            bad_indexes.push(b);
            if fix_indexes {
                super::remove_indexes(dir, b)?;
            }
        }
        let end = scan.next_offset;
        let next_start = match last {
            Some((_, off)) if i == range_last => off,
            _ => bases.get(i + 1).copied(),
        };
        if next_start.is_some_and(|n| end > n) {
            // Only where the part checked at open starts (segments are checked by `limit`).
            found = Some(Found {
                i,
                scan: SegmentScan {
                    damage: Some(format!(
                        "the checked part ends at offset {end}, past offset {} where the part \
                         checked at start-up begins",
                        next_start.unwrap_or(end)
                    )),
                    ..scan
                },
                prev_next,
                overlaps,
            });
            break;
        }
        if let Some(next_base) = next_start {
            if gap.is_none() && end < next_base {
                let cut = SegmentScan {
                    damage: Some(format!(
                        "the segment ends at offset {end} but the next one starts at {next_base}: \
                         offsets {end}..{next_base} are missing (a tail cut at a batch boundary)"
                    )),
                    ..scan
                };
                gap = Some(Found {
                    i,
                    scan: cut,
                    prev_next,
                    overlaps,
                });
            }
        }
        prev_next = end;
    }
    // A gap counts unless the log shows compaction or was cleaned past it here.
    let gap = gap.filter(|g| !compacted && cleaned_to.is_none_or(|c| c <= g.scan.next_offset));
    Ok(match (gap, found) {
        (Some(g), Some(f)) => Some(if g.i < f.i { g } else { f }),
        (g, f) => g.or(f),
    })
}
