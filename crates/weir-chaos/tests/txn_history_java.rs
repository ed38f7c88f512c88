//! The transactional history workload with the Java client (`weir-chaos --workload txn
//! --client java`; issue #19: the checker on both protocol generations — the Java client 4.x
//! uses KIP-890 transactions, transaction version 2) against a real 3-node cluster with a few
//! `kill -9` / restart faults of brokers: the history checker must find no lost committed
//! write, no aborted read, no torn transaction, no duplicate, no non-monotonic read and no
//! consumer disagreeing with the final read, over a non-trivial number of committed
//! transactions.
//!
//! Needs `java` (JDK 17+) and the `tests/java` build (`mvn -q -B -f tests/java/pom.xml package
//! -DskipTests`, or `WEIR_JAVA_CLASSPATH`); without them the test FAILS, saying so (CI builds
//! tests/java before `cargo test`). The `weir` binary is found as in `txn_history.rs`. The seed
//! is fixed (override with `WEIR_CHAOS_TXN_SEED` to explore).

use weir_chaos::campaign::{weir_binary, Config, WorkloadKind};
use weir_chaos::faults::FaultKind;
use weir_chaos::txn_java::{java_binary, java_classpath, TxnClient};

#[test]
fn java_client_transactions_under_kill9_of_brokers_show_no_anomaly() {
    if let Err(e) = java_binary().and_then(|_| java_classpath()) {
        panic!("this test runs the Java client's transactional workload (weir.TxnHistory): {e}");
    }
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
        .unwrap_or(20_261_219);
    let mut cfg = Config::new(seed, 4, bin);
    cfg.kinds = vec![FaultKind::Kill];
    cfg.workload = WorkloadKind::Txn;
    cfg.client = TxnClient::Java;
    cfg.verbose = true;
    cfg.txn.verbose = true;
    println!("replay: {}", cfg.replay_command());
    let sum = weir_chaos::txn_campaign::run(&cfg);
    let report = sum.report();
    println!("{report}");
    assert_eq!(sum.client, "java", "{report}");
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
