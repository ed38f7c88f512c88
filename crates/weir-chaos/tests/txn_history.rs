//! The transactional history workload (`weir-chaos --workload txn`) against a real 3-node
//! cluster with a few `kill -9` / restart faults of brokers: the history checker must find no
//! lost committed write, no aborted read, no torn transaction, no duplicate, no non-monotonic
//! read and no consumer disagreeing with the final read, over a non-trivial number of
//! committed transactions.
//!
//! The `weir` binary is found like the campaign finds it (`WEIR_BIN`, else `target/<profile>/weir`
//! next to this test's executable; `cargo test --workspace` builds it). A missing binary fails
//! the test. The seed is fixed (override with `WEIR_CHAOS_TXN_SEED` to explore).

use weir_chaos::campaign::{weir_binary, Config, WorkloadKind};
use weir_chaos::faults::FaultKind;

#[test]
fn transactions_under_kill9_of_brokers_show_no_anomaly() {
    let bin = weir_binary().unwrap_or_else(|e| {
        panic!("this test runs real `weir` processes and needs the binary: {e}")
    });
    assert!(
        bin.is_file(),
        "the weir binary {} does not exist (run `cargo build -p weir`, or set WEIR_BIN)",
        bin.display()
    );
    let seed = std::env::var("WEIR_CHAOS_TXN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_206);
    let mut cfg = Config::new(seed, 4, bin);
    cfg.kinds = vec![FaultKind::Kill];
    cfg.workload = WorkloadKind::Txn;
    cfg.verbose = true;
    cfg.txn.verbose = true;
    println!("replay: {}", cfg.replay_command());
    let sum = weir_chaos::txn_campaign::run(&cfg);
    let report = sum.report();
    println!("{report}");
    assert_eq!(sum.faults.get("kill"), Some(&4), "{report}");
    let t = sum
        .txn
        .as_ref()
        .unwrap_or_else(|| panic!("no history checked:\n{report}"));
    assert_eq!(t.anomalies(), 0, "{report}\n{:#?}", t.examples);
    assert!(sum.ok(), "{report}");
    assert!(
        t.committed >= 20,
        "only {} transactions committed:\n{report}",
        t.committed
    );
    assert!(t.aborted > 0, "no transaction was aborted:\n{report}");
    assert!(
        t.final_reads > 0 && t.consumer_reads > 0,
        "nothing read:\n{report}"
    );
}
