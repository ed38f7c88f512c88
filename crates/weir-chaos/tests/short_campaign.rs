//! The short fault campaign CI runs (issue #18): 50 seeded faults — kill -9, SIGSTOP, SIGTERM,
//! isolation, majority/minority splits, one-way cuts, asymmetric (flapping one-way) loss and
//! coordinated power failures — against a real 3-node cluster under the default workload
//! (idempotent producer, consumer group, admin operations), with zero lost, duplicated or
//! reordered records, no lost group commit, no late admin request, no divergent node and
//! identical replicas required.
//!
//! Network faults need root (network namespaces, `ip`): without them the test fails rather
//! than skipping kinds. The `weir` binary is found like the campaign finds it (`WEIR_BIN`, else
//! `target/<profile>/weir` next to this test's executable; `cargo test --workspace` builds it).
//! The seed is fixed (`WEIR_CHAOS_SHORT_SEED` overrides it, `WEIR_CHAOS_SHORT_FAULTS` the count).
//! Holds and gaps are shorter than the binary's defaults so that it takes a few minutes.

use weir_chaos::campaign::{weir_binary, Config};
use weir_chaos::faults::FaultKind;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn fifty_faults_lose_nothing() {
    let bin = weir_binary().unwrap_or_else(|e| {
        panic!("this test runs real `weir` processes and needs the binary: {e}")
    });
    assert!(
        bin.is_file(),
        "the weir binary {} does not exist (run `cargo build -p weir`, or set WEIR_BIN)",
        bin.display()
    );
    // SAFETY: geteuid(2) has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "the short campaign needs root (network namespaces for isolate/split/oneway/lossy); run it as root"
    );
    let seed = env_u64("WEIR_CHAOS_SHORT_SEED", 20_261_218);
    let faults = env_u64("WEIR_CHAOS_SHORT_FAULTS", 50) as usize;
    let mut cfg = Config::new(seed, faults, bin);
    cfg.kinds = vec![
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Term,
        FaultKind::Isolate,
        FaultKind::Split,
        FaultKind::OneWay,
        FaultKind::Lossy,
        FaultKind::Power,
    ];
    cfg.hold_ms = (300, 1500);
    cfg.gap_ms = (100, 400);
    cfg.verbose = true;
    // A failing run keeps every node's output (WEIR_CHAOS_KEEP_LOGS overrides where).
    cfg.keep_logs = Some(std::env::var_os("WEIR_CHAOS_KEEP_LOGS").map_or_else(
        || std::env::temp_dir().join(format!("weir-chaos-short-{seed}")),
        Into::into,
    ));
    println!("replay: {}", cfg.replay_command());
    let sum = weir_chaos::campaign::run(&cfg);
    let report = sum.report();
    println!("{report}");
    if !sum.ok() {
        println!("node logs kept in {:?}", cfg.keep_logs);
    }
    let skipped: Vec<&String> = sum.notes.iter().filter(|n| n.contains("skipped")).collect();
    assert!(
        skipped.is_empty(),
        "fault kinds were skipped: {skipped:?}\n{report}"
    );
    let injected: usize = sum.faults.values().sum();
    assert_eq!(injected, faults, "not every fault was injected:\n{report}");
    let r = &sum.records;
    assert_eq!(
        (r.lost, r.duplicated, r.reordered, r.misplaced),
        (0, 0, 0, 0),
        "{report}"
    );
    assert_eq!(sum.admin_late, 0, "{report}");
    assert!(sum.divergent.is_empty(), "{report}");
    assert!(sum.ok(), "{report}");
    assert!(
        sum.acked > 1000,
        "only {} records acknowledged:\n{report}",
        sum.acked
    );
}
