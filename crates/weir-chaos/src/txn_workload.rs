//! The transactional workload (Jepsen's Kafka workload, as in the Bufstream analysis): P
//! transactional librdkafka producers, each with its own `transactional.id`, run transactions
//! writing unique values to random partitions of several topics, committing most and aborting
//! some (seeded); C READ_COMMITTED consumers, assigned to every partition without a group, record
//! every record they read in order. At the end, once every partition's last stable offset has
//! caught up with its high watermark, a final READ_COMMITTED read of every partition from the
//! beginning. Together that is a [`crate::txn_check::History`] for [`crate::txn_check::check`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use weir_test_support::txn::latest_offset;
use weir_test_support::wait_until;

use crate::rng::Rng;
use crate::txn_check::{Outcome, Read, Tp, Txn, Write};
use crate::workload::lock;

/// The shape of the transactional workload.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// The topics written (created by the campaign with RF 3, min.insync.replicas 2).
    pub topics: Vec<String>,
    /// Partitions of each topic.
    pub partitions: i32,
    /// Concurrent transactional producers.
    pub producers: usize,
    /// Concurrent READ_COMMITTED consumers.
    pub consumers: usize,
    /// `transaction.timeout.ms` of the producers (also their `message.timeout.ms`).
    pub txn_timeout: Duration,
    /// Writes per transaction: 1 to this many.
    pub max_writes: u64,
    /// Percentage of the transactions the producer aborts on purpose.
    pub abort_percent: u64,
    /// Pause between two transactions of one producer.
    pub pace: Duration,
    /// Print the workload's notes (unknown outcomes, client errors) as they happen.
    pub verbose: bool,
}

impl Default for TxnConfig {
    fn default() -> TxnConfig {
        TxnConfig {
            topics: vec!["txn-a".into(), "txn-b".into()],
            partitions: 3,
            producers: 3,
            consumers: 2,
            txn_timeout: Duration::from_secs(10),
            max_writes: 6,
            abort_percent: 20,
            pace: Duration::from_millis(20),
            verbose: false,
        }
    }
}

impl TxnConfig {
    /// Every partition of every topic.
    pub fn partitions(&self) -> Vec<Tp> {
        self.topics
            .iter()
            .flat_map(|t| (0..self.partitions).map(move |p| (t.clone(), p)))
            .collect()
    }
}

/// Record a note (at most 500 are kept), printed at once when `verbose`.
fn note(notes: &Mutex<Vec<String>>, verbose: bool, text: String) {
    if verbose {
        println!("  txn workload: {text}");
    }
    let mut n = lock(notes);
    if n.len() < 500 {
        n.push(text);
    }
}

/// The `transactional.id` of producer `i`.
pub fn transactional_id(i: usize) -> String {
    format!("chaos-txn-{i}")
}

/// How long one commit, abort or `init_transactions` may take.
pub const TXN_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A producer with its own polling thread: librdkafka's abort needs the delivery reports of
/// the purged messages served while it waits.
type TxnProducer = ThreadedProducer<DefaultProducerContext>;

/// A transactional producer with its transactions initialised.
fn new_producer(bootstrap: &str, id: usize, cfg: &TxnConfig) -> Result<TxnProducer, String> {
    let timeout = cfg.txn_timeout.as_millis().to_string();
    let p: TxnProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", transactional_id(id))
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("transaction.timeout.ms", &timeout)
        .set("message.timeout.ms", &timeout)
        .set("request.timeout.ms", "5000")
        .set("linger.ms", "5")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .map_err(|e| format!("create producer {id}: {e}"))?;
    p.init_transactions(TXN_CALL_TIMEOUT)
        .map_err(|e| format!("init_transactions of producer {id}: {e}"))?;
    Ok(p)
}

/// Hand `value` to the producer for `tp`, retrying while its queue is full (up to 30 s).
fn send(p: &TxnProducer, tp: &Tp, value: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rec = BaseRecord::<(), str>::to(&tp.0)
        .partition(tp.1)
        .payload(value);
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                if Instant::now() < deadline =>
            {
                // The polling thread drains the queue meanwhile.
                std::thread::sleep(Duration::from_millis(10));
                rec = r;
            }
            Err((e, _)) => return Err(e.to_string()),
        }
    }
}

/// What a transactional call's error asks for.
enum Next {
    Retry,
    Abort,
    GiveUp,
}

fn next_step(e: &KafkaError) -> Next {
    match e {
        KafkaError::Transaction(t) if t.is_fatal() => Next::GiveUp,
        KafkaError::Transaction(t) if t.txn_requires_abort() => Next::Abort,
        KafkaError::Transaction(t) if t.is_retriable() => Next::Retry,
        KafkaError::Transaction(_) => Next::GiveUp,
        // commit_transaction flushes first: a failed flush means the commit was never sent.
        KafkaError::Flush(_) => Next::Abort,
        _ => Next::GiveUp,
    }
}

/// Abort (retrying a retriable error up to 3 times): Aborted, or Unknown and `true` (the
/// producer must be recreated).
fn abort(p: &TxnProducer, why: &str) -> (Outcome, bool) {
    let mut last = String::new();
    for _ in 0..3 {
        match p.abort_transaction(TXN_CALL_TIMEOUT) {
            Ok(()) => return (Outcome::Aborted, false),
            Err(e) => {
                last = e.to_string();
                if !matches!(next_step(&e), Next::Retry) {
                    break;
                }
            }
        }
    }
    (Outcome::Unknown(format!("{why}abort: {last}")), true)
}

/// Commit (retrying a retriable error up to 3 times, aborting when the client says the
/// transaction must be aborted).
fn commit(p: &TxnProducer) -> (Outcome, bool) {
    let mut last = String::new();
    for _ in 0..3 {
        match p.commit_transaction(TXN_CALL_TIMEOUT) {
            Ok(()) => return (Outcome::Committed, false),
            Err(e) => {
                last = e.to_string();
                match next_step(&e) {
                    Next::Retry => continue,
                    Next::Abort => return abort(p, &format!("commit: {e}; then ")),
                    Next::GiveUp => break,
                }
            }
        }
    }
    (Outcome::Unknown(format!("commit: {last}")), true)
}

/// One transaction: its record (None when it could not even begin) and whether the producer
/// must be recreated.
fn one_txn(
    p: &TxnProducer,
    id: usize,
    seq: u64,
    cfg: &TxnConfig,
    rng: &mut Rng,
) -> (Option<Txn>, bool) {
    if let Err(e) = p.begin_transaction() {
        return (None, !matches!(next_step(&e), Next::Retry));
    }
    let all = cfg.partitions();
    let n = rng.range(1, cfg.max_writes.max(1));
    let mut writes = Vec::new();
    let mut failed = None;
    for i in 0..n {
        let tp = all[rng.below(all.len() as u64) as usize].clone();
        let value = format!("p{id}-t{seq}-{i}");
        match send(p, &tp, &value) {
            Ok(()) => writes.push(Write { tp, value }),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let wants_abort = rng.below(100) < cfg.abort_percent;
    let (outcome, recreate) = match failed {
        Some(e) => abort(p, &format!("send: {e}; then ")),
        None if wants_abort => abort(p, ""),
        None => commit(p),
    };
    let txn = Txn {
        producer: id,
        seq,
        writes,
        outcome,
    };
    (Some(txn), recreate)
}

/// Run transactions until `stop`; returns them all.
fn producer_loop(
    bootstrap: String,
    id: usize,
    cfg: TxnConfig,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicU64>,
    notes: Arc<Mutex<Vec<String>>>,
) -> Vec<Txn> {
    let mut txns = Vec::new();
    let mut producer: Option<TxnProducer> = None;
    let mut seq = 0;
    let mut dangling = false;
    while !stop.load(Ordering::SeqCst) {
        let p = match producer.take() {
            Some(p) => p,
            None => match new_producer(&bootstrap, id, &cfg) {
                Ok(p) => p,
                Err(e) => {
                    note(&notes, cfg.verbose, e);
                    // A back-off before the next attempt, not a wait for a condition.
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
            },
        };
        let (txn, recreate) = one_txn(&p, id, seq, &cfg, &mut rng);
        if let Some(t) = txn {
            match &t.outcome {
                Outcome::Committed => {
                    committed.fetch_add(1, Ordering::SeqCst);
                }
                Outcome::Unknown(why) => note(
                    &notes,
                    cfg.verbose,
                    format!("producer {id} transaction {seq}: unknown: {why}"),
                ),
                Outcome::Aborted => {}
            }
            seq += 1;
            txns.push(t);
        }
        dangling = recreate;
        if !recreate {
            // The pace of the workload, not a wait for a condition.
            std::thread::sleep(cfg.pace);
            producer = Some(p);
        }
    }
    if dangling {
        // Fence the last producer so its transaction of unknown outcome completes now rather
        // than after transaction.timeout.ms.
        if let Err(e) = new_producer(&bootstrap, id, &cfg) {
            note(
                &notes,
                cfg.verbose,
                format!("fencing producer {id} at the end: {e}"),
            );
        }
    }
    txns
}

/// One live READ_COMMITTED consumer's reads and errors.
struct Reader {
    reads: Arc<Mutex<Vec<Read>>>,
    errors: Arc<Mutex<Vec<String>>>,
    thread: JoinHandle<()>,
}

/// A READ_COMMITTED consumer assigned to `tps` from the beginning (no group).
fn read_committed_consumer(bootstrap: &str, tps: &[Tp], eof: bool) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "weir-chaos-unused")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", if eof { "true" } else { "false" })
        .set("fetch.wait.max.ms", "100")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .expect("create consumer");
    let mut tpl = TopicPartitionList::new();
    for (t, p) in tps {
        tpl.add_partition_offset(t, *p, Offset::Beginning)
            .expect("add partition");
    }
    c.assign(&tpl).expect("assign");
    c
}

fn to_read(m: &rdkafka::message::BorrowedMessage<'_>) -> Read {
    Read {
        tp: (m.topic().to_string(), m.partition()),
        offset: m.offset(),
        value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
    }
}

/// The running workload.
pub struct TxnWorkload {
    stop_producers: Arc<AtomicBool>,
    stop_consumers: Arc<AtomicBool>,
    committed: Arc<AtomicU64>,
    notes: Arc<Mutex<Vec<String>>>,
    producers: Vec<JoinHandle<Vec<Txn>>>,
    readers: Vec<Reader>,
}

impl TxnWorkload {
    /// Start the producers and consumers of `cfg` against `bootstrap` (each producer with a
    /// generator forked from `rng`).
    pub fn start(bootstrap: &str, cfg: &TxnConfig, rng: &mut Rng) -> TxnWorkload {
        let stop_producers = Arc::new(AtomicBool::new(false));
        let stop_consumers = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let notes = Arc::new(Mutex::new(Vec::new()));
        let tps = cfg.partitions();
        let readers = (0..cfg.consumers)
            .map(|_| {
                let c = read_committed_consumer(bootstrap, &tps, false);
                let reads = Arc::new(Mutex::new(Vec::new()));
                let errors = Arc::new(Mutex::new(Vec::new()));
                let (r, e, st) = (reads.clone(), errors.clone(), stop_consumers.clone());
                let thread = std::thread::spawn(move || {
                    while !st.load(Ordering::SeqCst) {
                        match c.poll(Duration::from_millis(100)) {
                            Some(Ok(m)) => lock(&r).push(to_read(&m)),
                            Some(Err(err)) => lock(&e).push(err.to_string()),
                            None => {}
                        }
                    }
                });
                Reader {
                    reads,
                    errors,
                    thread,
                }
            })
            .collect();
        let producers = (0..cfg.producers)
            .map(|id| {
                let (bs, c, r) = (bootstrap.to_string(), cfg.clone(), rng.fork());
                let (st, co, no) = (stop_producers.clone(), committed.clone(), notes.clone());
                std::thread::spawn(move || producer_loop(bs, id, c, r, st, co, no))
            })
            .collect();
        TxnWorkload {
            stop_producers,
            stop_consumers,
            committed,
            notes,
            producers,
            readers,
        }
    }

    /// Transactions committed so far.
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    /// Records the live consumers have read so far.
    pub fn consumed(&self) -> usize {
        self.readers.iter().map(|r| lock(&r.reads).len()).sum()
    }

    /// Stop the producers after their current transaction; returns every transaction.
    pub fn stop_producers(&mut self) -> Vec<Txn> {
        self.stop_producers.store(true, Ordering::SeqCst);
        let mut txns = Vec::new();
        for h in self.producers.drain(..) {
            match h.join() {
                Ok(t) => txns.extend(t),
                Err(_) => lock(&self.notes).push("a producer thread panicked".into()),
            }
        }
        txns
    }

    /// Wait (up to `timeout`) until every consumer has read up to the last offset of each
    /// partition in `last`, stop them; returns their reads and (consumer index, error) pairs.
    /// A consumer that does not catch up is a note, not a finding.
    pub fn finish_consumers(
        mut self,
        last: &BTreeMap<Tp, i64>,
        timeout: Duration,
    ) -> (Vec<Vec<Read>>, Vec<String>) {
        let caught_up = |r: &Reader| {
            let reads = lock(&r.reads);
            let mut max: BTreeMap<&Tp, i64> = BTreeMap::new();
            for x in reads.iter() {
                let e = max.entry(&x.tp).or_insert(x.offset);
                *e = (*e).max(x.offset);
            }
            last.iter()
                .all(|(tp, o)| max.get(tp).is_some_and(|m| m >= o))
        };
        let mut notes = std::mem::take(&mut *lock(&self.notes));
        for (i, r) in self.readers.iter().enumerate() {
            if !wait_until(timeout, || caught_up(r)) {
                notes.push(format!(
                    "consumer {i} did not read up to the final read's last offsets within {timeout:?}"
                ));
            }
        }
        self.stop_consumers.store(true, Ordering::SeqCst);
        let mut out = Vec::new();
        for (i, r) in std::mem::take(&mut self.readers).into_iter().enumerate() {
            let _ = r.thread.join();
            let errors = std::mem::take(&mut *lock(&r.errors));
            if !errors.is_empty() {
                notes.push(format!(
                    "consumer {i}: {} errors, e.g. {:?}",
                    errors.len(),
                    &errors[..errors.len().min(3)]
                ));
            }
            out.push(std::mem::take(&mut *lock(&r.reads)));
        }
        (out, notes)
    }
}

impl Drop for TxnWorkload {
    fn drop(&mut self) {
        self.stop_producers.store(true, Ordering::SeqCst);
        self.stop_consumers.store(true, Ordering::SeqCst);
    }
}

/// Wait (up to `timeout`) until, on the leader of each partition (whichever of `nodes`
/// answers ListOffsets), the last stable offset equals the high watermark; returns the high
/// watermarks, or what was last seen of the partitions that did not get there.
pub fn await_stable(
    nodes: &[String],
    tps: &[Tp],
    timeout: Duration,
) -> Result<BTreeMap<Tp, i64>, String> {
    let mut hw = BTreeMap::new();
    let mut pending: BTreeMap<Tp, String> = BTreeMap::new();
    let done = crate::check::eventually(timeout, || {
        pending.clear();
        for tp in tps {
            if hw.contains_key(tp) {
                continue;
            }
            let mut seen = Vec::new();
            for n in nodes {
                let h = latest_offset(n, &tp.0, tp.1, false);
                let l = latest_offset(n, &tp.0, tp.1, true);
                if let (Some(h), Some(l)) = (h, l) {
                    if h == l {
                        hw.insert(tp.clone(), h);
                        break;
                    }
                    seen.push(format!("{n}: hw {h} lso {l}"));
                }
            }
            if !hw.contains_key(tp) {
                pending.insert(tp.clone(), seen.join(", "));
            }
        }
        pending.is_empty()
    });
    if done {
        Ok(hw)
    } else {
        Err(format!(
            "last stable offset below the high watermark (or no leader answering) after {timeout:?}: {pending:?}"
        ))
    }
}

/// Read every partition in `tps` from the beginning with READ_COMMITTED consumers (one per
/// topic, as librdkafka's end-of-partition events name only the partition) until each reported
/// its end; `Err` when one did not within `timeout`.
pub fn final_read(bootstrap: &str, tps: &[Tp], timeout: Duration) -> Result<Vec<Read>, String> {
    let mut by_topic: BTreeMap<&str, Vec<Tp>> = BTreeMap::new();
    for tp in tps {
        by_topic.entry(&tp.0).or_default().push(tp.clone());
    }
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    for (topic, tps) in by_topic {
        let c = read_committed_consumer(bootstrap, &tps, true);
        let mut eof = std::collections::BTreeSet::new();
        let mut errors = Vec::new();
        while eof.len() < tps.len() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "the final read of {topic} did not reach the end of every partition within {timeout:?} (ended: {eof:?}; errors: {:?})",
                    &errors[..errors.len().min(5)]
                ));
            }
            match c.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => out.push(to_read(&m)),
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    eof.insert(p);
                }
                Some(Err(e)) => errors.push(e.to_string()),
                None => {}
            }
        }
    }
    Ok(out)
}

/// The last offset the final read holds per partition.
pub fn last_offsets(reads: &[Read]) -> BTreeMap<Tp, i64> {
    let mut last: BTreeMap<Tp, i64> = BTreeMap::new();
    for x in reads {
        let e = last.entry(x.tp.clone()).or_insert(x.offset);
        *e = (*e).max(x.offset);
    }
    last
}
