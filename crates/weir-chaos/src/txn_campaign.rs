//! The body of a `--workload txn` campaign: create the transactional workload's topics, run
//! the transactional producers and READ_COMMITTED consumers while the seeded faults are
//! injected (the same fault loop as the default workload), then on the settled cluster wait for
//! every last stable offset to reach its high watermark, read every partition back with
//! READ_COMMITTED, and check the history ([`crate::txn_check`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::campaign::{self, Config, Summary, SETTLE};
use crate::check;
use crate::faults::{Cluster, FaultKind};
use crate::node::Node;
use crate::rng::Rng;
use crate::txn_check::{self, History, Read, Tp, Txn};
use crate::txn_java::{JavaWorkload, TxnClient};
use crate::txn_workload::{self, TxnWorkload};

/// How long the last stable offsets may take to catch up, and the final read to finish.
pub const FINAL_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the Java workload's producers may take to finish their transactions and stop.
const JAVA_STOP: Duration = Duration::from_secs(180);

/// How many of the workload's notes (unknown outcomes, client errors) go into the summary.
const NOTES: usize = 8;

/// Run one transactional campaign and check it (see [`campaign::run_with`]).
pub fn run(cfg: &Config) -> Summary {
    campaign::run_with(cfg, body)
}

fn body(cfg: &Config, kinds: &[FaultKind], c: &mut Cluster, sum: &mut Summary) {
    sum.client = cfg.client.name();
    let rf = cfg.nodes.min(3);
    if !campaign::create_topics(c, rf, cfg.txn.partitions, sum) {
        return;
    }
    let mut rng = Rng::new(cfg.seed);
    let mut w = match Workload::start(cfg, &c.bootstrap(), &mut rng.fork()) {
        Ok(w) => w,
        Err(e) => {
            sum.problems
                .push(format!("the {} workload: {e}", cfg.client.name()));
            return;
        }
    };
    if !check::eventually(Duration::from_secs(60), || w.committed() > 0) {
        sum.problems
            .push("no transaction committed within 60 s of the start (before any fault)".into());
    }
    let progress = || format!("committed {}", w.committed());
    campaign::inject_faults(cfg, kinds, c, sum, &mut rng, &progress);
    // Liveness: once the cluster has settled, transactions must commit again.
    let before = w.committed();
    if campaign::settle(c, rf, &mut sum.problems, FaultKind::Kill, SETTLE)
        && !check::eventually(Duration::from_secs(60), || w.committed() > before)
    {
        sum.problems.push(format!(
            "no transaction committed within 60 s after the cluster settled (stuck at {before} committed)"
        ));
    }
    let txns = w.stop_producers(sum);
    // Checks, on a healed and settled cluster with no writes.
    let views = campaign::cluster_checks(cfg, c, sum);
    let nodes: Vec<String> = c.nodes.iter().map(Node::bootstrap).collect();
    let tps = cfg.txn.partitions();
    let final_read = txn_workload::await_stable(&nodes, &tps, FINAL_TIMEOUT)
        .and_then(|_| txn_workload::final_read(&c.bootstrap(), &tps, FINAL_TIMEOUT));
    let kept;
    let result = match final_read {
        Ok(final_read) => {
            let last = txn_workload::last_offsets(&final_read);
            let (consumers, notes, k) = w.finish_consumers(&last, Duration::from_secs(30));
            kept = k;
            add_notes(sum, notes);
            txn_check::check(&History {
                txns,
                consumers,
                final_read,
            })
        }
        Err(e) => {
            sum.problems.push(format!("transactions: {e}"));
            sum.problems
                .extend(stuck_evidence(&nodes, &c.bootstrap(), &tps, &txns));
            let (_, notes, k) = w.finish_consumers(&Default::default(), Duration::ZERO);
            kept = k;
            add_notes(sum, notes);
            // Only the outcome counts: without a final read nothing else can be judged.
            let mut r = txn_check::check(&History {
                txns,
                ..History::default()
            });
            r.lost = 0;
            r.torn = 0;
            r.examples.clear();
            r
        }
    };
    for p in result.problems() {
        sum.problems.push(format!("transactions: {p}"));
    }
    if result.committed == 0 {
        sum.problems
            .push("transactions: not one transaction committed".into());
    }
    sum.txn = Some(result);
    if let Some(Ok(view)) = views.first() {
        for topic in &c.topics {
            for m in check::replica_mismatches(c, view, topic) {
                sum.problems.push(format!("replicas differ: {m}"));
            }
        }
    }
    if let (false, Some(dir)) = (sum.ok(), &cfg.keep_logs) {
        kept.keep(dir);
    }
}

/// For each partition whose last stable offset is below its high watermark on some node: the
/// first records from the last stable offset on, read with READ_UNCOMMITTED, and the
/// transactions that wrote them (the transaction left open on that partition).
fn stuck_evidence(nodes: &[String], bootstrap: &str, tps: &[Tp], txns: &[Txn]) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use weir_test_support::txn::latest_offset;
    let mut out = Vec::new();
    for tp in tps {
        let stuck = nodes.iter().find_map(|n| {
            let h = latest_offset(n, &tp.0, tp.1, false)?;
            let l = latest_offset(n, &tp.0, tp.1, true)?;
            (l < h).then(|| (n.clone(), l, h))
        });
        let Some((node, lso, hw)) = stuck else {
            continue;
        };
        let Ok(c) = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "weir-chaos-unused")
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_uncommitted")
            .create::<BaseConsumer>()
        else {
            continue;
        };
        let mut tpl = rdkafka::TopicPartitionList::new();
        let _ = tpl.add_partition_offset(&tp.0, tp.1, rdkafka::Offset::Offset(lso));
        if c.assign(&tpl).is_err() {
            continue;
        }
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.len() < 4 && std::time::Instant::now() < deadline {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
                let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                let by = txns
                    .iter()
                    .find(|t| t.writes.iter().any(|w| w.value == v))
                    .map_or("no transaction of the history".into(), |t| {
                        format!("producer {} txn {} ({:?})", t.producer, t.seq, t.outcome)
                    });
                seen.push(format!("offset {} {v:?} by {by}", m.offset()));
            }
        }
        out.push(format!(
            "transactions: {}-{} left open on {node} (lso {lso}, hw {hw}); READ_UNCOMMITTED from the lso: {seen:?}",
            tp.0, tp.1
        ));
    }
    out
}

/// The workload of either client.
enum Workload {
    Rdkafka(TxnWorkload),
    Java(JavaWorkload),
}

/// What the Java workload left to copy after a failed run: its history file and its output.
enum Kept {
    Nothing,
    Java(tempfile::TempDir),
}

impl Kept {
    fn keep(&self, dir: &std::path::Path) {
        if let Kept::Java(d) = self {
            let _ = std::fs::create_dir_all(dir);
            for f in ["java-history.jsonl", "java.stderr"] {
                let _ = std::fs::copy(d.path().join(f), dir.join(f));
            }
        }
    }
}

impl Workload {
    fn start(cfg: &Config, bootstrap: &str, rng: &mut Rng) -> Result<Workload, String> {
        Ok(match cfg.client {
            TxnClient::Rdkafka => Workload::Rdkafka(TxnWorkload::start(bootstrap, &cfg.txn, rng)),
            TxnClient::Java => {
                // Only a bound should this process vanish: the campaign stops it over stdin.
                let max = Duration::from_secs(900 + 150 * cfg.faults as u64);
                Workload::Java(JavaWorkload::start(
                    bootstrap,
                    &cfg.txn,
                    rng.next_u64(),
                    max,
                )?)
            }
        })
    }

    fn committed(&self) -> u64 {
        match self {
            Workload::Rdkafka(w) => w.committed(),
            Workload::Java(w) => w.committed(),
        }
    }

    fn stop_producers(&mut self, sum: &mut Summary) -> Vec<Txn> {
        match self {
            Workload::Rdkafka(w) => w.stop_producers(),
            Workload::Java(w) => {
                let (txns, err) = w.stop_producers(JAVA_STOP);
                sum.problems.extend(err);
                txns
            }
        }
    }

    fn finish_consumers(
        self,
        last: &BTreeMap<Tp, i64>,
        timeout: Duration,
    ) -> (Vec<Vec<Read>>, Vec<String>, Kept) {
        match self {
            Workload::Rdkafka(w) => {
                let (r, n) = w.finish_consumers(last, timeout);
                (r, n, Kept::Nothing)
            }
            Workload::Java(w) => {
                let (r, n, d) = w.finish_consumers(last, timeout);
                (r, n, Kept::Java(d))
            }
        }
    }
}

/// The first [`NOTES`] of the workload's notes, and how many more there were.
fn add_notes(sum: &mut Summary, notes: Vec<String>) {
    let more = notes.len().saturating_sub(NOTES);
    sum.notes.extend(notes.into_iter().take(NOTES));
    if more > 0 {
        sum.notes.push(format!(
            "... and {more} more notes of the transactional workload"
        ));
    }
}

/// The bounded CI run of the transactional history (`tests/txn_history*.rs`): 4 kill -9 /
/// restart faults on 3 nodes with `client`, seed `WEIR_CHAOS_TXN_SEED` or `default_seed`.
/// Panics with a clear message when the `weir` binary is missing.
pub fn kill9_test_config(default_seed: u64, client: TxnClient) -> Config {
    let bin = campaign::weir_binary().unwrap_or_else(|e| {
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
        .unwrap_or(default_seed);
    let mut cfg = Config::new(seed, 4, bin);
    cfg.kinds = vec![FaultKind::Kill];
    cfg.workload = campaign::WorkloadKind::Txn;
    cfg.client = client;
    cfg.verbose = true;
    cfg.txn.verbose = true;
    cfg
}

/// Panics unless `sum` (a run of [`kill9_test_config`]) injected its 4 kills, found no anomaly
/// and no problem, committed at least 20 transactions, aborted at least one, and read data.
pub fn assert_clean_kill9_history(sum: &Summary) {
    let report = sum.report();
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
