//! Deferred verification (`log.startup.verify=recovery-point`, issue #24 start-up): segments below
//! the recovery point are not read at open; a background pass checks them as the open-time check
//! would (issue #18), reads from them check what they serve until then, and damage found at run
//! time is refused to readers until the replica truncates there.

use std::path::Path;
use std::sync::Arc;

use weir_log::batch::{build_batch, validate_batch};
use weir_log::{
    LogConfig, LogError, LogManager, ManualClock, OpenOptions, PartitionDamage, StartupVerify,
    TopicPartition,
};

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

fn cfg() -> LogConfig {
    let mut cfg = LogConfig::default();
    cfg.set("segment.bytes", "1024").unwrap();
    cfg.set("index.interval.bytes", "100").unwrap();
    cfg
}

/// `batches` single-record batches in segments of 1 KiB, then a clean shutdown.
fn fill_clean(dir: &Path, batches: usize) {
    let m = LogManager::open(dir, Arc::new(ManualClock::new(0))).unwrap();
    let log = m.get_or_create(&tp(), cfg()).unwrap();
    for i in 0..batches {
        let v = format!("value-{i:05}");
        let r = log
            .append(&build_batch(0, i as i64, &[(None, v.as_bytes())]))
            .unwrap();
        if let Some(t) = r.durable {
            m.wait_durable(t).unwrap();
        }
    }
    log.set_high_watermark(batches as i64);
    m.shutdown().unwrap();
}

fn open_deferred(dir: &Path) -> Arc<LogManager> {
    LogManager::open_dirs_with_options(
        &[dir.to_path_buf()],
        Arc::new(ManualClock::new(0)),
        OpenOptions {
            max_open_files: 1000,
            verify: StartupVerify::FromRecoveryPoint,
        },
    )
    .unwrap()
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("t-0"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

fn base(f: &str) -> i64 {
    f.trim_end_matches(".log").parse().unwrap()
}

fn pass(m: &LogManager) -> (weir_log::VerifyPass, Vec<PartitionDamage>) {
    let mut found = Vec::new();
    let p = m.verify_deferred(&mut |d| found.push(d), &|| false);
    (p, found)
}

#[test]
fn a_clean_log_opens_without_reading_old_segments_and_verifies_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    fill_clean(dir.path(), 60);
    let files = segment_files(dir.path());
    assert!(files.len() >= 4, "{files:?}");
    let m = open_deferred(dir.path());
    let log = m.get_or_create(&tp(), cfg()).unwrap();
    assert!(log.has_unverified_segments());
    assert!(m.has_unverified_segments());
    // Reads from unverified segments are checked and served.
    for o in 0..60 {
        let b = log.read(o, 1, 60).unwrap().records.to_bytes().unwrap();
        assert_eq!(validate_batch(&b).unwrap().base_offset, o);
    }
    let (p, found) = pass(&m);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(p.partitions, 1);
    assert_eq!(
        p.segments,
        files.len(),
        "after a clean shutdown: every segment"
    );
    assert!(!log.has_unverified_segments());
    assert_eq!(pass(&m).0.segments, 0, "nothing left for a second pass");
}

#[test]
fn a_flipped_byte_in_an_old_segment_is_refused_on_read_found_by_the_pass_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    fill_clean(dir.path(), 60);
    let files = segment_files(dir.path());
    let (first, second) = (base(&files[0]), base(&files[1]));
    assert_eq!(first, 0);
    let path = dir.path().join("t-0").join(&files[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let per_batch = bytes.len() / second as usize;
    bytes[per_batch * 3 + 40] ^= 0x10; // inside batch 3
    std::fs::write(&path, &bytes).unwrap();

    let m = open_deferred(dir.path());
    assert!(m.damaged_partitions().is_empty(), "not read at open");
    let log = m.get_or_create(&tp(), cfg()).unwrap();
    assert_eq!(log.log_end_offset(), 60);
    // The damaged batch is never served, not even before the pass.
    match log.read(3, 1, 60) {
        Err(LogError::Damaged { reason, .. }) => assert!(reason.contains("CRC"), "{reason}"),
        other => panic!("expected Damaged, got {other:?}"),
    }
    assert!(log.read(2, 1, 60).is_ok());
    let (p, found) = pass(&m);
    assert_eq!(p.damaged, 1);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].truncated_at, 3);
    assert_eq!(found[0].position, (per_batch * 3) as u64);
    assert_eq!(m.runtime_damage().len(), 1);
    // Until repaired: the damaged segment is refused from the damage on, reads before it stop
    // there, later segments are served.
    assert!(matches!(log.read(3, 1, 60), Err(LogError::Damaged { .. })));
    assert!(matches!(
        log.read(second - 1, 1, 60),
        Err(LogError::Damaged { .. })
    ));
    let before = log
        .read(0, 1 << 20, 60)
        .unwrap()
        .records
        .to_bytes()
        .unwrap();
    assert_eq!(before.len(), per_batch * 3, "a read stops at the damage");
    assert!(log.read(second, 1, 60).is_ok());
    let copies: Vec<_> = std::fs::read_dir(dir.path().join("t-0"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().to_string();
            n.contains(".log.corrupt-").then_some(n)
        })
        .collect();
    assert_eq!(copies.len(), 1, "a forensic copy is kept");
    assert_eq!(
        std::fs::read(dir.path().join("t-0").join(&copies[0])).unwrap(),
        bytes
    );

    assert_eq!(log.repair_damage().unwrap(), Some(3));
    assert_eq!(log.log_end_offset(), 3);
    assert!(m.runtime_damage().is_empty());
    assert!(!log.has_unverified_segments());
    for o in 0..3 {
        assert!(log.read(o, 1, 3).is_ok());
    }
    // The copy refetched from a leader continues at the cut.
    let r = log.append_replicated(&build_batch(3, 0, &[(None, b"refetched")]));
    assert_eq!(r.unwrap().log_end_offset, 4);
}

#[test]
fn an_old_segment_cut_at_a_batch_boundary_is_found_by_the_pass() {
    let dir = tempfile::tempdir().unwrap();
    fill_clean(dir.path(), 60);
    let files = segment_files(dir.path());
    let (second, third) = (base(&files[1]), base(&files[2]));
    let path = dir.path().join("t-0").join(&files[1]);
    let len = std::fs::metadata(&path).unwrap().len();
    let per_batch = len / (third - second) as u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(per_batch * (third - second - 2) as u64)
        .unwrap();
    let m = open_deferred(dir.path());
    assert!(m.damaged_partitions().is_empty());
    let log = m.get_or_create(&tp(), cfg()).unwrap();
    let (_, found) = pass(&m);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].truncated_at, third - 2);
    assert!(found[0].reason.contains("missing"), "{}", found[0].reason);
    log.repair_damage().unwrap();
    assert_eq!(log.log_end_offset(), third - 2);
}

/// One segment of 60 batches, as after a crash with the recovery point at 30: the clean-shutdown
/// marker gone and the checkpoint rewritten. Returns the segment's path and its batch length.
fn crashed_with_recovery_point_30(dir: &Path) -> (std::path::PathBuf, usize) {
    let m = LogManager::open(dir, Arc::new(ManualClock::new(0))).unwrap();
    let mut cfg = LogConfig::default();
    cfg.set("index.interval.bytes", "100").unwrap();
    let log = m.get_or_create(&tp(), cfg).unwrap();
    for i in 0..60 {
        let r = log
            .append(&build_batch(
                0,
                i,
                &[(None, format!("v-{i:05}").as_bytes())],
            ))
            .unwrap();
        m.wait_durable(r.durable.unwrap()).unwrap();
    }
    m.shutdown().unwrap();
    std::fs::remove_file(dir.join(weir_log::CLEAN_SHUTDOWN_FILE)).unwrap();
    let rp: std::collections::BTreeMap<_, _> = [(tp(), 30)].into_iter().collect();
    weir_log::checkpoint::write_atomic(
        &dir.join("recovery-point-offset-checkpoint"),
        weir_log::checkpoint::render_offsets(&rp).as_bytes(),
    )
    .unwrap();
    let seg = dir.join("t-0/00000000000000000000.log");
    let len = std::fs::metadata(&seg).unwrap().len() as usize / 60;
    (seg, len)
}

fn flip(seg: &Path, at: usize) {
    let mut bytes = std::fs::read(seg).unwrap();
    bytes[at] ^= 0x10;
    std::fs::write(seg, &bytes).unwrap();
}

#[test]
fn after_a_crash_the_active_segment_is_checked_from_the_recovery_point_on() {
    // Past the recovery point: checked at open (a bad batch there is a torn write, cut).
    let dir = tempfile::tempdir().unwrap();
    let (seg, per_batch) = crashed_with_recovery_point_30(dir.path());
    flip(&seg, per_batch * 45 + 40);
    let m = open_deferred(dir.path());
    assert!(!m.was_clean_shutdown());
    assert!(m.damaged_partitions().is_empty(), "a torn tail, not damage");
    let log = m.get_or_create(&tp(), LogConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 45, "cut at open");

    // Below it: not read at open; a read refuses the batch, the background pass finds it.
    let dir = tempfile::tempdir().unwrap();
    let (seg, per_batch) = crashed_with_recovery_point_30(dir.path());
    flip(&seg, per_batch * 10 + 40);
    let m = open_deferred(dir.path());
    assert!(m.damaged_partitions().is_empty());
    let log = m.get_or_create(&tp(), LogConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 60, "not read at open");
    assert!(log.has_unverified_segments());
    assert!(matches!(log.read(10, 1, 60), Err(LogError::Damaged { .. })));
    assert!(log.read(40, 1, 60).is_ok(), "the checked part is served");
    let (_, found) = pass(&m);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].truncated_at, 10);
    log.repair_damage().unwrap();
    assert_eq!(log.log_end_offset(), 10);

    // A clean prefix passes, and nothing is left to check.
    let dir = tempfile::tempdir().unwrap();
    crashed_with_recovery_point_30(dir.path());
    let m = open_deferred(dir.path());
    let log = m.get_or_create(&tp(), LogConfig::default()).unwrap();
    let (p, found) = pass(&m);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(p.partitions, 1);
    assert!(!log.has_unverified_segments());
}

#[test]
fn after_a_clean_shutdown_nothing_is_read_at_open_and_the_active_segment_is_checked_later() {
    let dir = tempfile::tempdir().unwrap();
    fill_clean(dir.path(), 60);
    let files = segment_files(dir.path());
    let last = files.last().unwrap();
    let path = dir.path().join("t-0").join(last);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x01; // inside the last batch of the active segment
    std::fs::write(&path, &bytes).unwrap();
    let m = open_deferred(dir.path());
    assert!(m.damaged_partitions().is_empty(), "not read at open");
    let log = m.get_or_create(&tp(), cfg()).unwrap();
    assert!(matches!(log.read(59, 1, 60), Err(LogError::Damaged { .. })));
    let (_, found) = pass(&m);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].truncated_at, 59);
}

#[test]
fn with_startup_verify_all_damage_in_an_old_segment_is_found_at_open() {
    let dir = tempfile::tempdir().unwrap();
    fill_clean(dir.path(), 60);
    let files = segment_files(dir.path());
    let path = dir.path().join("t-0").join(&files[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[70] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let m = LogManager::open_dirs_with_options(
        &[dir.path().to_path_buf()],
        Arc::new(ManualClock::new(0)),
        OpenOptions {
            max_open_files: 1000,
            verify: StartupVerify::All,
        },
    )
    .unwrap();
    assert_eq!(m.damaged_partitions().len(), 1);
    let log = m.get_or_create(&tp(), cfg()).unwrap();
    assert!(!log.has_unverified_segments());
}

#[test]
fn a_damaged_base_offset_in_an_old_segment_is_cut_before_the_jump() {
    // Bug Q of the campaigns: a flipped bit in a base offset (outside the CRC) made batch 3 claim
    // offset 11, which looks like a compaction gap; the check flagged the next batch (offset 4,
    // going backwards) and the repair kept the misplaced batch, so the replica went on from 12
    // and offsets 4..=11 were gone on every replica that copied it.
    let dir = tempfile::tempdir().unwrap();
    fill_clean(dir.path(), 60);
    let files = segment_files(dir.path());
    let second = base(&files[1]);
    assert!(second > 5, "{files:?}");
    let path = dir.path().join("t-0").join(&files[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let per_batch = bytes.len() / second as usize;
    bytes[per_batch * 3 + 7] ^= 0x08; // base offset 3 -> 11
    std::fs::write(&path, &bytes).unwrap();

    let m = open_deferred(dir.path());
    let log = m.get_or_create(&tp(), cfg()).unwrap();
    // A read across the jump is refused before the pass.
    match log.read(2, 1 << 20, 60) {
        Err(LogError::Damaged { reason, .. }) => {
            assert!(reason.contains("damaged base offset"), "{reason}")
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
    let (p, found) = pass(&m);
    assert_eq!(p.damaged, 1);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].truncated_at, 3, "{found:?}");
    assert_eq!(found[0].position, (per_batch * 3) as u64);
    assert_eq!(log.repair_damage().unwrap(), Some(3));
    assert_eq!(log.log_end_offset(), 3);
    let r = log.append_replicated(&build_batch(3, 0, &[(None, b"refetched")]));
    assert_eq!(r.unwrap().log_end_offset, 4);
}
