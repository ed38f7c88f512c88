//! The body of a `--workload txn` campaign: create the transactional workload's topics, run
//! the transactional producers and READ_COMMITTED consumers while the seeded faults are
//! injected (the same fault loop as the default workload), then on the settled cluster wait for
//! every last stable offset to reach its high watermark, read every partition back with
//! READ_COMMITTED, and check the history ([`crate::txn_check`]).

use std::time::Duration;

use crate::campaign::{self, Config, Summary, SETTLE};
use crate::check;
use crate::faults::{Cluster, FaultKind};
use crate::node::Node;
use crate::rng::Rng;
use crate::txn_check::{self, History};
use crate::txn_workload::{self, TxnWorkload};

/// How long the last stable offsets may take to catch up, and the final read to finish.
pub const FINAL_TIMEOUT: Duration = Duration::from_secs(120);

/// How many of the workload's notes (unknown outcomes, client errors) go into the summary.
const NOTES: usize = 8;

/// Run one transactional campaign and check it (see [`campaign::run_with`]).
pub fn run(cfg: &Config) -> Summary {
    campaign::run_with(cfg, body)
}

fn body(cfg: &Config, kinds: &[FaultKind], c: &mut Cluster, sum: &mut Summary) {
    let rf = cfg.nodes.min(3);
    if !campaign::create_topics(c, rf, cfg.txn.partitions, sum) {
        return;
    }
    let mut rng = Rng::new(cfg.seed);
    let mut w = TxnWorkload::start(&c.bootstrap(), &cfg.txn, &mut rng.fork());
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
    let txns = w.stop_producers();
    // Checks, on a healed and settled cluster with no writes.
    let views = campaign::cluster_checks(cfg, c, sum);
    let nodes: Vec<String> = c.nodes.iter().map(Node::bootstrap).collect();
    let tps = cfg.txn.partitions();
    let final_read = txn_workload::await_stable(&nodes, &tps, FINAL_TIMEOUT)
        .and_then(|_| txn_workload::final_read(&c.bootstrap(), &tps, FINAL_TIMEOUT));
    let result = match final_read {
        Ok(final_read) => {
            let last = txn_workload::last_offsets(&final_read);
            let (consumers, notes) = w.finish_consumers(&last, Duration::from_secs(30));
            add_notes(sum, notes);
            txn_check::check(&History {
                txns,
                consumers,
                final_read,
            })
        }
        Err(e) => {
            sum.problems.push(format!("transactions: {e}"));
            let (_, notes) = w.finish_consumers(&Default::default(), Duration::ZERO);
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
