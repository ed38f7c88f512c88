//! The history of a transactional workload ([`History`]: every transaction's writes and
//! outcome, every READ_COMMITTED consumer's reads in order, and a final READ_COMMITTED read of
//! every partition) and the checker over it ([`check`]), after the Kafka workload of Jepsen
//! (the Bufstream analysis): lost committed writes, aborted reads, torn transactions,
//! duplicates, non-monotonic reads per consumer and partition, and consumers that saw another
//! value than the final read at some offset.
//!
//! The checker is pure: it takes a history and returns counts and examples, so it is tested
//! with hand-made histories below.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A topic partition.
pub type Tp = (String, i32);

/// How a transaction ended, as the producer was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `commit_transaction` returned Ok.
    Committed,
    /// `abort_transaction` returned Ok.
    Aborted,
    /// Anything else (a timeout, a fatal error, a commit retried to no end): the reason.
    Unknown(String),
}

/// One record a transaction handed to its producer (the send was accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Where it was sent.
    pub tp: Tp,
    /// Its value, unique over the whole history (`p{producer}-t{txn}-{i}`).
    pub value: String,
}

/// One transaction of one producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// Index of the producer (its `transactional.id` is derived from it).
    pub producer: usize,
    /// Sequence number of the transaction within its producer.
    pub seq: u64,
    /// Its writes, in send order.
    pub writes: Vec<Write>,
    /// How it ended.
    pub outcome: Outcome,
}

/// One record a consumer read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Partition it was read from.
    pub tp: Tp,
    /// Its offset.
    pub offset: i64,
    /// Its value.
    pub value: String,
}

/// Everything the checker looks at.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every transaction of every producer.
    pub txns: Vec<Txn>,
    /// Per live consumer, its reads in the order it got them.
    pub consumers: Vec<Vec<Read>>,
    /// The final READ_COMMITTED read of every partition from the beginning to its high
    /// watermark, after the last stable offsets caught up.
    pub final_read: Vec<Read>,
}

/// How many examples of each anomaly are kept.
pub const EXAMPLES: usize = 5;

/// The checker's findings: counts, and up to [`EXAMPLES`] examples of each anomaly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnCheck {
    /// Transactions in the history.
    pub txns: usize,
    /// Transactions whose commit returned Ok.
    pub committed: usize,
    /// Transactions whose abort returned Ok.
    pub aborted: usize,
    /// Transactions of unknown outcome.
    pub unknown: usize,
    /// Of the unknown ones, those whose writes are all visible in the final read.
    pub unknown_visible: usize,
    /// Writes in the history.
    pub writes: usize,
    /// Records in the final read.
    pub final_reads: usize,
    /// Records the live consumers read (all of them together).
    pub consumer_reads: usize,
    /// Writes of committed transactions missing from the final read.
    pub lost: usize,
    /// Distinct writes of aborted transactions some READ_COMMITTED reader read.
    pub aborted_reads: usize,
    /// Transactions with some writes visible in the final read and some not.
    pub torn: usize,
    /// Distinct values found at two offsets (by the final read or by one consumer).
    pub duplicates: usize,
    /// Reads at an offset not above the reader's previous offset of the same partition.
    pub nonmonotonic: usize,
    /// Consumer reads whose offset holds another value, or nothing, in the final read.
    pub divergent: usize,
    /// Reads of a value no transaction wrote, or in another partition than it was written to.
    pub unexpected: usize,
    /// Examples by anomaly name (`lost`, `aborted_read`, `torn`, ...).
    pub examples: BTreeMap<&'static str, Vec<String>>,
}

impl TxnCheck {
    /// Sum of every anomaly count (0 = the history is clean).
    pub fn anomalies(&self) -> usize {
        self.lost
            + self.aborted_reads
            + self.torn
            + self.duplicates
            + self.nonmonotonic
            + self.divergent
            + self.unexpected
    }

    /// `name=count` of every anomaly, for a summary line.
    pub fn counts(&self) -> String {
        format!(
            "lost={} aborted_reads={} torn={} duplicates={} nonmonotonic={} divergent={} unexpected={}",
            self.lost,
            self.aborted_reads,
            self.torn,
            self.duplicates,
            self.nonmonotonic,
            self.divergent,
            self.unexpected
        )
    }

    /// One line per anomaly kind found, with its examples.
    pub fn problems(&self) -> Vec<String> {
        self.examples
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.join("; ")))
            .collect()
    }

    fn example(&mut self, kind: &'static str, text: String) {
        let v = self.examples.entry(kind).or_default();
        if v.len() < EXAMPLES {
            v.push(text);
        }
    }
}

fn reader_name(i: Option<usize>) -> String {
    i.map_or_else(|| "final read".to_string(), |i| format!("consumer {i}"))
}

fn txn_name(t: &Txn) -> String {
    format!("p{}-t{} ({:?})", t.producer, t.seq, t.outcome)
}

/// Check `h`; see [`TxnCheck`] for what is counted.
pub fn check(h: &History) -> TxnCheck {
    let mut r = TxnCheck {
        txns: h.txns.len(),
        final_reads: h.final_read.len(),
        consumer_reads: h.consumers.iter().map(Vec::len).sum(),
        ..TxnCheck::default()
    };
    // value -> (transaction index, write index)
    let mut writer: HashMap<&str, (usize, usize)> = HashMap::new();
    for (ti, t) in h.txns.iter().enumerate() {
        match t.outcome {
            Outcome::Committed => r.committed += 1,
            Outcome::Aborted => r.aborted += 1,
            Outcome::Unknown(_) => r.unknown += 1,
        }
        r.writes += t.writes.len();
        for (wi, w) in t.writes.iter().enumerate() {
            writer.insert(&w.value, (ti, wi));
        }
    }
    // The final read: offset -> value per partition, and where each value is.
    let mut at: BTreeMap<(&Tp, i64), &str> = BTreeMap::new();
    let mut places: HashMap<&str, BTreeSet<(&Tp, i64)>> = HashMap::new();
    for x in &h.final_read {
        at.entry((&x.tp, x.offset)).or_insert(&x.value);
        places
            .entry(&x.value)
            .or_default()
            .insert((&x.tp, x.offset));
    }
    let mut dup_values: BTreeSet<&str> = BTreeSet::new();
    for (v, p) in &places {
        if p.len() > 1 && dup_values.insert(v) {
            r.example("duplicate", format!("final read: {v} at {p:?}"));
        }
    }
    // Every reader (the consumers, then the final read as reader None).
    let readers = h
        .consumers
        .iter()
        .enumerate()
        .map(|(i, c)| (Some(i), c))
        .chain(std::iter::once((None, &h.final_read)));
    let mut aborted_read: BTreeSet<&str> = BTreeSet::new();
    let mut unexpected: BTreeSet<&str> = BTreeSet::new();
    for (who, reads) in readers {
        let mut last: HashMap<&Tp, (i64, &str)> = HashMap::new();
        let mut seen: HashMap<&str, (&Tp, i64)> = HashMap::new();
        for x in reads {
            if let Some(&(prev, pv)) = last.get(&x.tp) {
                if x.offset <= prev {
                    r.nonmonotonic += 1;
                    r.example(
                        "nonmonotonic",
                        format!(
                            "{} read {:?} offset {} ({}) after offset {prev} ({pv})",
                            reader_name(who),
                            x.tp,
                            x.offset,
                            x.value
                        ),
                    );
                }
            }
            last.insert(&x.tp, (x.offset, &x.value));
            if who.is_some() {
                if let Some(&(tp, off)) = seen.get(x.value.as_str()) {
                    if (tp, off) != (&x.tp, x.offset) && dup_values.insert(&x.value) {
                        r.example(
                            "duplicate",
                            format!(
                                "{} read {} at {tp:?}@{off} and at {:?}@{}",
                                reader_name(who),
                                x.value,
                                x.tp,
                                x.offset
                            ),
                        );
                    }
                }
                seen.insert(&x.value, (&x.tp, x.offset));
                match at.get(&(&x.tp, x.offset)) {
                    Some(v) if *v == x.value => {}
                    other => {
                        r.divergent += 1;
                        r.example(
                            "divergent",
                            format!(
                                "{} read {} at {:?}@{}, the final read has {}",
                                reader_name(who),
                                x.value,
                                x.tp,
                                x.offset,
                                other.map_or("nothing".to_string(), |v| v.to_string())
                            ),
                        );
                    }
                }
            }
            match writer.get(x.value.as_str()) {
                None => {
                    if unexpected.insert(&x.value) {
                        r.example(
                            "unexpected",
                            format!(
                                "{} read {} at {:?}@{}, which no transaction wrote",
                                reader_name(who),
                                x.value,
                                x.tp,
                                x.offset
                            ),
                        );
                    }
                }
                Some(&(ti, wi)) => {
                    let t = &h.txns[ti];
                    if t.writes[wi].tp != x.tp && unexpected.insert(&x.value) {
                        r.example(
                            "unexpected",
                            format!(
                                "{} read {} at {:?}@{}, written to {:?}",
                                reader_name(who),
                                x.value,
                                x.tp,
                                x.offset,
                                t.writes[wi].tp
                            ),
                        );
                    }
                    if t.outcome == Outcome::Aborted && aborted_read.insert(&x.value) {
                        r.example(
                            "aborted_read",
                            format!(
                                "{} read {} at {:?}@{} of aborted transaction {}",
                                reader_name(who),
                                x.value,
                                x.tp,
                                x.offset,
                                txn_name(t)
                            ),
                        );
                    }
                }
            }
        }
    }
    r.duplicates = dup_values.len();
    r.aborted_reads = aborted_read.len();
    r.unexpected = unexpected.len();
    // Per transaction: which writes the final read holds (in the partition written to).
    for t in &h.txns {
        let visible: Vec<bool> = t
            .writes
            .iter()
            .map(|w| {
                places
                    .get(w.value.as_str())
                    .is_some_and(|p| p.iter().any(|(tp, _)| **tp == w.tp))
            })
            .collect();
        let n = visible.iter().filter(|v| **v).count();
        if t.outcome == Outcome::Committed {
            for (w, _) in t.writes.iter().zip(&visible).filter(|(_, v)| !**v) {
                r.lost += 1;
                r.example(
                    "lost",
                    format!(
                        "{} of committed transaction {} (written to {:?}) is not in the final read{}",
                        w.value,
                        txn_name(t),
                        w.tp,
                        places
                            .get(w.value.as_str())
                            .map_or(String::new(), |p| format!(" (found at {p:?})"))
                    ),
                );
            }
        }
        if let Outcome::Unknown(_) = t.outcome {
            if n == t.writes.len() && n > 0 {
                r.unknown_visible += 1;
            }
        }
        if n > 0 && n < t.writes.len() {
            r.torn += 1;
            let show = |want: bool| -> Vec<String> {
                t.writes
                    .iter()
                    .zip(&visible)
                    .filter(|(_, v)| **v == want)
                    .map(|(w, _)| format!("{}@{:?}", w.value, w.tp))
                    .collect()
            };
            r.example(
                "torn",
                format!(
                    "transaction {}: visible {:?}, missing {:?}",
                    txn_name(t),
                    show(true),
                    show(false)
                ),
            );
        }
    }
    r
}

#[cfg(test)]
#[path = "txn_check_tests.rs"]
mod tests;
