//! The transactional history workload (`weir-chaos --workload txn`) against a real 3-node
//! cluster with a few `kill -9` / restart faults of brokers: the history checker must find no
//! lost committed write, no aborted read, no torn transaction, no duplicate, no non-monotonic
//! read and no consumer disagreeing with the final read, over a non-trivial number of
//! committed transactions.
//!
//! The `weir` binary is found like the campaign finds it (`WEIR_BIN`, else `target/<profile>/weir`
//! next to this test's executable; `cargo test --workspace` builds it). A missing binary fails
//! the test. The seed is fixed (override with `WEIR_CHAOS_TXN_SEED` to explore).

use weir_chaos::txn_campaign::{assert_clean_kill9_history, kill9_test_config};
use weir_chaos::txn_java::TxnClient;

#[test]
fn transactions_under_kill9_of_brokers_show_no_anomaly() {
    let cfg = kill9_test_config(20_261_206, TxnClient::Rdkafka);
    println!("replay: {}", cfg.replay_command());
    let sum = weir_chaos::txn_campaign::run(&cfg);
    println!("{}", sum.report());
    assert_clean_kill9_history(&sum);
}
