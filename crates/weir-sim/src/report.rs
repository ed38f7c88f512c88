//! What a run reports: counters and a one-line [`Summary`] on success, a [`Violation`] (with the
//! seed, the time and, when traced, every event up to it) on failure.

use std::fmt;

/// Counters kept by the world and the models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events processed.
    pub events: u64,
    /// Messages sent.
    pub sent: u64,
    /// Messages lost (randomly or across a partition).
    pub dropped: u64,
    /// Messages delivered twice.
    pub duplicated: u64,
    /// Node crashes.
    pub crashes: u64,
    /// Network partitions started.
    pub partitions: u64,
    /// Records (replication), offset commits (groups) or metadata records (meta) acknowledged.
    pub acked: u64,
    /// Leader elections (meta, replication) or coordinator failovers (groups).
    pub elections: u64,
}

impl Stats {
    /// Add `o` to these counters.
    pub fn add(&mut self, o: &Stats) {
        self.events += o.events;
        self.sent += o.sent;
        self.dropped += o.dropped;
        self.duplicated += o.duplicated;
        self.crashes += o.crashes;
        self.partitions += o.partitions;
        self.acked += o.acked;
        self.elections += o.elections;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "events={} msgs={} dropped={} duplicated={} crashes={} partitions={} elections={} acked={}",
            self.events,
            self.sent,
            self.dropped,
            self.duplicated,
            self.crashes,
            self.partitions,
            self.elections,
            self.acked
        )
    }
}

/// A run that kept every invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The model ("meta", "replication", "groups").
    pub model: &'static str,
    /// The seed.
    pub seed: u64,
    /// The counters.
    pub stats: Stats,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} seed={} {} violations=0",
            self.model, self.seed, self.stats
        )
    }
}

/// An invariant that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The model.
    pub model: &'static str,
    /// The seed that reproduces it.
    pub seed: u64,
    /// Simulated time of the failure (ms).
    pub at_ms: u64,
    /// What failed.
    pub what: String,
    /// Every event up to the failure (only when the run was traced).
    pub trace: Vec<String>,
    /// The counters up to the failure (boxed: a `Result` carrying a violation stays small).
    pub stats: Box<Stats>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} seed={} VIOLATION at {} ms: {}",
            self.model, self.seed, self.at_ms, self.what
        )
    }
}
