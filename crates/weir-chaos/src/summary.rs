//! The result of a campaign: what was injected, the workload's counts, the checker's findings,
//! and the one-line summary the binary prints.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::check::{self, NodeView};
use crate::txn_check::TxnCheck;

/// The result of a campaign.
#[derive(Debug, Default)]
pub struct Summary {
    /// The command line that replays it.
    pub replay: String,
    /// Seed.
    pub seed: u64,
    /// Nodes.
    pub nodes: usize,
    /// Faults injected, by kind name.
    pub faults: BTreeMap<&'static str, usize>,
    /// Records acknowledged to the producer.
    pub acked: usize,
    /// The record checker's findings.
    pub records: check::RecordCheck,
    /// Delivery errors the producer reported.
    pub delivery_errors: usize,
    /// Group commits acknowledged.
    pub commits: usize,
    /// Admin operations sent.
    pub admin_ops: usize,
    /// Admin operations answered late or never (target node not faulted).
    pub admin_late: usize,
    /// Ids of nodes whose metadata differs from the others' (or that do not answer).
    pub divergent: Vec<usize>,
    /// Ids of nodes some node does not list as a registered broker.
    pub unregistered: Vec<usize>,
    /// The transactional history checker's findings (for [`WorkloadKind::Txn`]).
    pub txn: Option<TxnCheck>,
    /// The client library of the transactional workload (`rdkafka` or `java`).
    pub client: &'static str,
    /// Every violation, as text (empty = the run passed).
    pub problems: Vec<String>,
    /// Things worth knowing that are not violations.
    pub notes: Vec<String>,
    /// Wall time.
    pub duration: Duration,
}

impl Summary {
    /// True when the checker found nothing.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The one-line summary.
    pub fn line(&self) -> String {
        let kinds: Vec<String> = self
            .faults
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        if let Some(t) = &self.txn {
            return format!(
                "weir-chaos workload=txn client={} seed={} nodes={} faults={} [{}] txns={} committed={} aborted={} unknown={} (unknown_visible={}) writes={} final_reads={} consumer_reads={} {} divergent_nodes={:?} unregistered={:?} problems={} duration={:.0}s => {}",
                self.client,
                self.seed,
                self.nodes,
                self.faults.values().sum::<usize>(),
                kinds.join(" "),
                t.txns,
                t.committed,
                t.aborted,
                t.unknown,
                t.unknown_visible,
                t.writes,
                t.final_reads,
                t.consumer_reads,
                t.counts(),
                self.divergent,
                self.unregistered,
                self.problems.len(),
                self.duration.as_secs_f64(),
                if self.ok() { "OK" } else { "FAILED" }
            );
        }
        let r = &self.records;
        format!(
            "weir-chaos seed={} nodes={} faults={} [{}] acked={} in_log={} lost={} duplicated={} reordered={} misplaced={} commits={} admin_ops={} admin_late={} divergent_nodes={:?} unregistered={:?} problems={} duration={:.0}s => {}",
            self.seed,
            self.nodes,
            self.faults.values().sum::<usize>(),
            kinds.join(" "),
            self.acked,
            r.in_log,
            r.lost,
            r.duplicated,
            r.reordered,
            r.misplaced,
            self.commits,
            self.admin_ops,
            self.admin_late,
            self.divergent,
            self.unregistered,
            self.problems.len(),
            self.duration.as_secs_f64(),
            if self.ok() { "OK" } else { "FAILED" }
        )
    }

    /// The summary line, the problems, the notes and the replay command.
    pub fn report(&self) -> String {
        let mut s = self.line();
        for p in &self.problems {
            s.push_str(&format!("\nPROBLEM: {p}"));
        }
        for n in &self.notes {
            s.push_str(&format!("\nnote: {n}"));
        }
        s.push_str(&format!("\nreplay: {}", self.replay));
        s
    }
}

/// What every node says about the brokers and the partitions of `topics`.
pub fn describe_views(views: &[Result<NodeView, String>], topics: &[String]) -> String {
    views
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Ok(v) => format!(
                "node {}: brokers {:?}, {}",
                i + 1,
                v.brokers.iter().map(|b| b.0).collect::<Vec<_>>(),
                topics
                    .iter()
                    .map(|t| format!("{t}: {:?}", v.topics.get(t).map(|t| &t.partitions)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => format!("node {}: {e}", i + 1),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The message of a caught panic.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// The distinct messages of `errors`, most frequent first, at most `show` of them, each with its
/// count (`"12× message; 3× other"`).
pub fn by_kind(errors: &[String], show: usize) -> String {
    let mut distinct: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in errors {
        *distinct.entry(e.as_str()).or_default() += 1;
    }
    let mut by_count: Vec<(&str, usize)> = distinct.into_iter().collect();
    by_count.sort_by_key(|b| std::cmp::Reverse(b.1));
    let shown: Vec<String> = by_count
        .iter()
        .take(show)
        .map(|(e, n)| format!("{n}× {e}"))
        .collect();
    shown.join("; ")
}
