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

use weir_chaos::txn_campaign::{assert_clean_kill9_history, kill9_test_config};
use weir_chaos::txn_java::{java_binary, java_classpath, TxnClient};

#[test]
fn java_client_transactions_under_kill9_of_brokers_show_no_anomaly() {
    if let Err(e) = java_binary().and_then(|_| java_classpath()) {
        panic!("this test runs the Java client's transactional workload (weir.TxnHistory): {e}");
    }
    let cfg = kill9_test_config(20_261_219, TxnClient::Java);
    println!("replay: {}", cfg.replay_command());
    let sum = weir_chaos::txn_campaign::run(&cfg);
    println!("{}", sum.report());
    assert_eq!(sum.client, "java", "{}", sum.report());
    assert_clean_kill9_history(&sum);
}
