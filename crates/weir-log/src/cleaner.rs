//! Log compaction (`cleanup.policy=compact`): keep the latest record per key in the cleanable
//! (non-active) segments, drop tombstones older than `delete.retention.ms`.
//!
//! Each cleanable segment is rewritten as `<base>.log.cleaned`, fsynced, its indexes removed, then
//! renamed over `<base>.log` and re-indexed: a crash at any point leaves either the old or the new
//! complete segment. Batches keep their base offset and lastOffsetDelta (as Kafka's cleaner does).
//! Compressed batches are kept whole (Weir does not decompress to compact yet).
//!
//! Transactions: the caller cleans only below the last stable offset, so every transaction in
//! the cleaned range is decided. Batches of aborted transactions (per the `.txnindex` entries of
//! the cleaned segments and later ones) are removed whole and never count as a key's latest
//! value, as Kafka's cleaner does. Control batches (markers) are always kept: Kafka drops a
//! marker once its transaction's data is gone and `delete.retention.ms` passed; Weir keeps it,
//! which is never wrong (a marker is never removed while its data is there). `.txnindex` files
//! are left as they are: markers stay, so their entries stay valid.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::batch::{check_integrity, BatchHeader};
use crate::checkpoint::fsync_dir;
use crate::fd_cache::FdCache;
use crate::records::{filter_batch, parse_records};
use crate::segment::{segment_path, Segment};
use crate::txn_marker::{is_control, is_transactional};
use crate::{LogConfig, LogError};

/// What one cleaning pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanStats {
    /// Segments rewritten.
    pub segments_rewritten: usize,
    /// Records removed.
    pub records_removed: u64,
    /// Bytes before and after, over the rewritten segments.
    pub bytes_before: u64,
    /// See `bytes_before`.
    pub bytes_after: u64,
}

/// Aborted transactions as producer id → (first offset, marker offset) ranges.
type Aborted = HashMap<i64, Vec<(i64, i64)>>;

fn aborted_batch(aborted: &Aborted, h: &BatchHeader) -> bool {
    is_transactional(h)
        && !is_control(h)
        && aborted.get(&h.producer_id).is_some_and(|ranges| {
            ranges
                .iter()
                .any(|&(first, last)| first <= h.base_offset && h.base_offset < last)
        })
}

fn batches(bytes: &[u8]) -> Vec<(usize, BatchHeader)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let Ok(h) = check_integrity(&bytes[pos..]) else {
            break;
        };
        out.push((pos, h));
        pos += h.total_len;
    }
    out
}

fn read_segment(seg: &Segment) -> Result<Vec<u8>, LogError> {
    let mut buf = vec![0u8; seg.size() as usize];
    seg.log_file()?.read_exact_at(&mut buf, 0)?;
    Ok(buf)
}

/// Clean every segment that lies wholly below `clean_end` (never the active segment) and whose
/// newest record is older than `min.compaction.lag.ms`.
pub(crate) fn clean(
    dir: &Path,
    segments: &mut BTreeMap<i64, Segment>,
    clean_end: i64,
    cfg: &LogConfig,
    now: i64,
    files: &Arc<FdCache>,
) -> Result<CleanStats, LogError> {
    let bases: Vec<i64> = segments.keys().copied().collect();
    let mut cleanable = Vec::new();
    for w in bases.windows(2) {
        if w[1] > clean_end {
            break;
        }
        let Some(seg) = segments.get_mut(&w[0]) else {
            break;
        };
        let (max_ts, _) = seg.max_timestamp()?;
        if max_ts > now - cfg.min_compaction_lag_ms {
            break;
        }
        cleanable.push(w[0]);
    }
    let mut stats = CleanStats::default();
    if cleanable.is_empty() {
        return Ok(stats);
    }
    let mut aborted: Aborted = HashMap::new();
    for (_, seg) in segments.range_mut(cleanable[0]..) {
        for t in seg.txn_index().entries()? {
            aborted
                .entry(t.producer_id)
                .or_default()
                .push((t.first_offset, t.last_offset));
        }
    }
    // Pass 1: the latest offset of every key in the cleanable range.
    let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
    for b in &cleanable {
        let Some(seg) = segments.get(b) else { continue };
        let bytes = read_segment(seg)?;
        for (pos, h) in batches(&bytes) {
            if h.compression() != 0 || is_control(&h) || aborted_batch(&aborted, &h) {
                continue;
            }
            let body = &bytes[pos..pos + h.total_len];
            for r in parse_records(body, &h)? {
                if let Some(k) = r.key {
                    latest.insert(k.to_vec(), h.base_offset + r.offset_delta);
                }
            }
        }
    }
    // Pass 2: rewrite each segment with only the surviving records.
    let tombstone_horizon = now - cfg.delete_retention_ms;
    for b in cleanable {
        let Some(seg) = segments.get(&b) else {
            continue;
        };
        let bytes = read_segment(seg)?;
        let mut out = Vec::with_capacity(bytes.len());
        let mut removed = 0u64;
        for (pos, h) in batches(&bytes) {
            let body = &bytes[pos..pos + h.total_len];
            if aborted_batch(&aborted, &h) {
                removed += u64::try_from(h.records_count).unwrap_or(0).max(1);
                continue;
            }
            if h.compression() != 0 || is_control(&h) {
                out.extend_from_slice(body);
                continue;
            }
            let recs = parse_records(body, &h)?;
            let keep: Vec<_> = recs
                .iter()
                .filter(|r| match r.key {
                    None => true,
                    Some(k) => {
                        latest.get(k) == Some(&(h.base_offset + r.offset_delta))
                            && !(r.tombstone && h.max_timestamp < tombstone_horizon)
                    }
                })
                .map(|r| r.span.clone())
                .collect();
            removed += (recs.len() - keep.len()) as u64;
            if keep.len() == recs.len() {
                out.extend_from_slice(body);
            } else if !keep.is_empty() {
                out.extend_from_slice(&filter_batch(body, &keep));
            }
        }
        if removed == 0 {
            continue;
        }
        stats.segments_rewritten += 1;
        stats.records_removed += removed;
        stats.bytes_before += bytes.len() as u64;
        stats.bytes_after += out.len() as u64;
        swap_in(dir, b, &out)?;
        let mut fresh = Segment::open(
            dir,
            b,
            cfg.segment_index_bytes,
            cfg.index_interval_bytes,
            now,
            files,
        )?;
        fresh.ensure_loaded()?;
        fresh.seal()?;
        segments.insert(b, fresh);
    }
    Ok(stats)
}

/// Durably replace `<base>.log` with `contents`.
fn swap_in(dir: &Path, base: i64, contents: &[u8]) -> Result<(), LogError> {
    let cleaned = dir.join(format!("{base:020}.log.cleaned"));
    {
        let mut f = std::fs::File::create(&cleaned)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    // Indexes go first: a crash before the rename leaves the old log, whose indexes are rebuilt.
    for ext in ["index", "timeindex"] {
        match std::fs::remove_file(segment_path(dir, base, ext)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    std::fs::rename(&cleaned, segment_path(dir, base, "log"))?;
    fsync_dir(dir)?;
    Ok(())
}
