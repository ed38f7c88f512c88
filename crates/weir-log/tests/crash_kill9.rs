//! Crash test with real processes: a child appends durable batches and reports each acknowledged
//! offset; the parent SIGKILLs it at random moments (many times), reopens the log (recovery) and
//! checks every acknowledged batch reads back byte-identical and no partial batch is visible.
//! `WEIR_CRASH_ITERATIONS` runs longer (default 50).

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use weir_log::batch::validate_batch;
use weir_log::{LogConfig, LogManager, SystemClock, TopicPartition};

#[test]
fn acknowledged_batches_survive_repeated_sigkill() {
    let iterations: usize = std::env::var("WEIR_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xC0FFEE);
    // acked[(partition)] = base_offset -> expected bytes (with that base offset)
    let mut acked: BTreeMap<i32, BTreeMap<i64, Vec<u8>>> = BTreeMap::new();
    let mut total_acks = 0usize;
    for round in 0..iterations {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir-log-crash-child"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn crash child");
        std::thread::sleep(Duration::from_millis(rng.random_range(5..120)));
        child.kill().expect("SIGKILL child");
        child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        // Each partition restarts its own seq at 0 every run, but base offsets are unique.
        for line in out.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            if parts.len() != 4 || parts[0] != "ACK" {
                continue; // a torn last line
            }
            let p: i32 = parts[1].parse().unwrap();
            let base: i64 = parts[2].parse().unwrap();
            let seq: u64 = parts[3].parse().unwrap();
            let mut b = weir_log::batch::crash_test_batch(seq);
            weir_log::batch::set_base_offset(&mut b, base);
            acked.entry(p).or_default().insert(base, b);
            total_acks += 1;
        }
        // Reopen like a restarted broker (recovery of the unclean shutdown) and verify.
        let mgr = LogManager::open(dir.path(), Arc::new(SystemClock)).unwrap();
        assert!(!mgr.was_clean_shutdown());
        for (p, batches) in &acked {
            let cfg = LogConfig {
                segment_bytes: 16 * 1024,
                ..LogConfig::default()
            };
            let log = mgr
                .get_or_create(&TopicPartition::new("crash", *p), cfg)
                .unwrap();
            let leo = log.log_end_offset();
            for (base, expected) in batches {
                let r = log.read(*base, 1, leo).unwrap_or_else(|e| {
                    panic!("round {round}: acked offset {base} of p{p} unreadable: {e}")
                });
                let got = r.records.to_bytes().unwrap();
                assert_eq!(
                    &got[..],
                    &expected[..],
                    "round {round}: p{p} offset {base} differs"
                );
            }
            // No partial batch anywhere: walk the whole log batch by batch.
            let mut off = log.log_start_offset();
            while off < leo {
                let bytes = log.read(off, 1, leo).unwrap().records.to_bytes().unwrap();
                let h = validate_batch(&bytes)
                    .unwrap_or_else(|e| panic!("round {round}: invalid batch at {off}: {e}"));
                assert_eq!(h.total_len, bytes.len());
                assert_eq!(h.base_offset, off, "offsets are contiguous");
                off = h.next_offset();
            }
        }
        drop(mgr);
    }
    println!("{iterations} SIGKILLs, {total_acks} acknowledged batches verified");
    assert!(
        total_acks > iterations,
        "the child must acknowledge appends between kills"
    );
}
