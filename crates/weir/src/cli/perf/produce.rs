//! `weir perf produce`: send records of a fixed size as fast as possible (or at a target rate)
//! and measure throughput and the latency from `send` to the broker's acknowledgement, like
//! Kafka's `kafka-producer-perf-test.sh`.

use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::json;

use super::acks::Acks;
use super::common::{self, client_config, CommonArgs, Progress};
use super::live::{Intervals, LiveArgs};
use super::report::{self, Latency, Throughput};
use super::targets::{self, TargetArgs};
use super::txn;
use crate::cli::admin::client_error;

/// `weir perf produce ...`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Bootstrap, topic, output and timeouts.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Records to send (the run also stops at --duration-secs).
    #[arg(long = "num-records")]
    pub num_records: Option<u64>,
    /// Size of each record's value in bytes.
    #[arg(long = "record-size", default_value_t = 100)]
    pub record_size: usize,
    /// Target rate in records/s (over all clients); -1 for as fast as possible.
    #[arg(long, visible_alias = "rate", default_value_t = -1.0, allow_hyphen_values = true)]
    pub throughput: f64,
    /// acks: all, 1 or 0.
    #[arg(long, default_value = "all")]
    pub acks: String,
    /// Compression: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// librdkafka producer properties `k=v` (e.g. linger.ms=5 batch.size=1000000); they win over
    /// the flags above.
    #[arg(long = "producer-props", num_args = 1.., value_name = "K=V")]
    pub producer_props: Vec<String>,
    /// Stop sending after this many seconds.
    #[arg(long = "duration-secs", visible_alias = "duration")]
    pub duration_secs: Option<u64>,
    /// Create the topic (each of --topics) with this many partitions first (unless it exists).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// --topics and --partitioner.
    #[command(flatten)]
    pub targets: TargetArgs,
    /// --report-interval.
    #[command(flatten)]
    pub live: LiveArgs,
    /// Independent producer clients (each its own librdkafka instance and connections, on its
    /// own thread); records, rate and latency are totals over all of them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub clients: u32,
    /// Send in transactions with this transactional id (`ID-i` for client i when --clients > 1);
    /// the report adds the number of commits and the commit latency.
    #[arg(long = "transactional-id", value_name = "ID")]
    pub transactional_id: Option<String>,
    /// Commit every N records (with --transactional-id).
    #[arg(long = "transaction-size", value_name = "N", requires = "transactional_id",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub transaction_size: Option<u64>,
    /// Commit at least this often, in ms (with --transactional-id; Kafka's default 3000 applies
    /// when neither this nor --transaction-size is given).
    #[arg(long = "transaction-duration-ms", requires = "transactional_id",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub transaction_duration_ms: Option<u64>,
}

/// What one client thread did: records sent, transactions committed, commit latency (µs).
struct ClientRun {
    sent: u64,
    commits: u64,
    commit_latency: Histogram<u64>,
}

/// Run `weir perf produce`.
pub fn run(args: ProduceArgs) -> Result<(), String> {
    if args.num_records.is_none() && args.duration_secs.is_none() {
        return Err("perf produce: give --num-records, --duration-secs or both".into());
    }
    let c = &args.common;
    if args.transactional_id.is_some() && args.acks != "all" && args.acks != "-1" {
        return Err("perf produce: --transactional-id needs --acks all".into());
    }
    let policy = txn::TxnPolicy::new(args.transaction_size, args.transaction_duration_ms);
    let cfg = client_config(
        &c.bootstrap,
        &[
            ("acks", &args.acks),
            ("compression.type", &args.compression),
            ("message.timeout.ms", "30000"),
        ],
        &args.producer_props,
    )?;
    // librdkafka's delivery reports are served by each ThreadedProducer's own polling thread, so
    // each acknowledgement is timed when it arrives, whatever the sending loop is doing.
    let start = Instant::now();
    let clients = args.clients as usize;
    let mut producers: Vec<ThreadedProducer<Acks>> = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut cfg = cfg.clone();
        if let Some(id) = &args.transactional_id {
            cfg.set("transactional.id", txn::client_id(id, i, clients));
        }
        producers.push(
            cfg.create_with_context(
                Acks::starting_at(start).with_window(args.live.report_interval.is_some()),
            )
            .map_err(|e| client_error("create producer", e))?,
        );
    }
    common::check_reachable(producers[0].client(), c)?;
    let targets = targets::resolve(producers[0].client(), c, &args.targets, args.partitions)?;
    let mut intervals = Intervals::new(&args.live);

    let value = common::payload(args.record_size);
    let mut progress = Progress::new(args.num_records, c.json, "produce");
    let begin = start.elapsed();
    let stop_at = args
        .duration_secs
        .map(|s| Instant::now() + Duration::from_secs(s));
    // Client i sends records i, i + clients, ... of the run; the rate is split evenly.
    let quota = |i: usize| {
        args.num_records
            .map(|n| n / clients as u64 + u64::from((i as u64) < n % clients as u64))
    };
    let rate = if args.throughput > 0.0 {
        args.throughput / clients as f64
    } else {
        args.throughput
    };
    let transactional = args.transactional_id.is_some();
    let outcome: Result<Vec<ClientRun>, String> = std::thread::scope(|scope| {
        let workers: Vec<_> = producers
            .iter()
            .enumerate()
            .map(|(i, producer)| {
                let (value, targets) = (&value, &targets);
                scope.spawn(move || -> Result<ClientRun, String> {
                    let mut txn = if transactional {
                        Some(txn::Txn::init(producer, policy)?)
                    } else {
                        None
                    };
                    let mut sent = 0u64;
                    while quota(i).is_none_or(|n| sent < n) {
                        if stop_at.is_some_and(|t| Instant::now() >= t) {
                            break;
                        }
                        let since = start.elapsed() - begin;
                        if let Some(wait) = common::throttle_delay(rate, sent, since) {
                            std::thread::sleep(wait.min(Duration::from_millis(100)));
                            continue;
                        }
                        if let Some(t) = txn.as_mut() {
                            t.before_send()?;
                        }
                        let (topic, partition) = targets.pick(sent * clients as u64 + i as u64);
                        send(producer, topic, partition, value)?;
                        sent += 1;
                        if let Some(t) = txn.as_mut() {
                            t.after_send()?;
                        }
                    }
                    let (commits, commit_latency) = match txn {
                        Some(mut t) => {
                            t.finish()?;
                            (t.commits, t.latency)
                        }
                        None => (0, report::new_histogram()),
                    };
                    Ok(ClientRun {
                        sent,
                        commits,
                        commit_latency,
                    })
                })
            })
            .collect();
        let mut window = (Instant::now(), 0u64);
        while !workers.iter().all(|w| w.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            let acked: u64 = producers.iter().map(|p| p.context().acked()).sum();
            progress.update(acked, || {
                let t = Throughput {
                    records: acked - window.1,
                    bytes: (acked - window.1) * args.record_size as u64,
                    elapsed: window.0.elapsed(),
                };
                window = (Instant::now(), acked);
                t.to_text("acknowledged")
            });
            intervals.tick(|| take_windows(&producers), &progress, "acked");
        }
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| "a producer thread panicked".to_string())?
            })
            .collect()
    });
    let runs = outcome?;
    let sent: u64 = runs.iter().map(|r| r.sent).sum();
    let commits: u64 = runs.iter().map(|r| r.commits).sum();
    let mut commit_latency = report::new_histogram();
    for r in &runs {
        let _ = commit_latency.add(&r.commit_latency);
    }
    // Every record resolves (acknowledged or failed) within message.timeout.ms.
    for p in &producers {
        let _ = p.flush(Duration::from_secs(60));
    }
    intervals.flush(|| take_windows(&producers), &progress, "acked");
    progress.finish();
    let mut latency = report::new_histogram();
    let (mut acked, mut failed, mut last_ack, mut first_error) = (0u64, 0u64, Duration::ZERO, None);
    for p in &producers {
        let s = p.context().state.lock().unwrap_or_else(|e| e.into_inner());
        let _ = latency.add(&s.latency);
        acked += s.acked;
        failed += s.failed;
        last_ack = last_ack.max(s.last_ack);
        if first_error.is_none() {
            first_error = s.first_error.clone();
        }
    }
    let unresolved: i32 = producers.iter().map(|p| p.in_flight_count()).sum();
    let t = Throughput {
        records: acked,
        bytes: acked * args.record_size as u64,
        elapsed: last_ack.saturating_sub(begin),
    };
    let lat = Latency::from_histogram(&latency);
    let mut obj = serde_json::Map::new();
    obj.insert("mode".into(), json!("produce"));
    obj.insert("topic".into(), json!(c.topic));
    obj.insert("topics".into(), json!(targets.topics.len()));
    obj.insert("partitions".into(), json!(targets.partition_count()));
    obj.insert(
        "batching".into(),
        targets::batching_json(&cfg, args.targets.partitioner),
    );
    obj.insert("clients".into(), json!(clients));
    obj.insert("record_size".into(), json!(args.record_size));
    obj.insert("acks".into(), json!(args.acks));
    obj.insert("compression".into(), json!(args.compression));
    obj.insert("sent".into(), json!(sent));
    t.json_fields(&mut obj);
    obj.insert("failed".into(), json!(failed));
    obj.insert("latency_ms".into(), lat.to_json());
    if let Some(rows) = intervals.into_json() {
        obj.insert("intervals".into(), rows);
    }
    let mut text = vec![format!("{}, {}.", t.to_text("sent"), lat.to_text())];
    if let Some(id) = &args.transactional_id {
        obj.insert("transactional_id".into(), json!(id));
        obj.insert("transactions".into(), json!(commits));
        obj.insert(
            "commit_latency_ms".into(),
            Latency::from_histogram(&commit_latency).to_json(),
        );
        text.push(format!("{}.", txn::summary(commits, &commit_latency)));
    }
    report::emit(c.json, obj, &text);
    if failed > 0 || unresolved > 0 {
        return Err(format!(
            "{failed} of {sent} records failed, {unresolved} unresolved; first error: {}",
            first_error.as_deref().unwrap_or("none")
        ));
    }
    Ok(())
}

/// The records and latencies of the current interval over all clients, leaving them empty.
fn take_windows(producers: &[ThreadedProducer<Acks>]) -> (u64, Histogram<u64>) {
    let mut total = (0, report::new_histogram());
    for (n, h) in producers
        .iter()
        .filter_map(|p| p.context().window.as_ref().map(|w| w.take()))
    {
        total.0 += n;
        let _ = total.1.add(&h);
    }
    total
}

/// Hand one record to librdkafka (to `partition`, or the one its partitioner picks), waiting
/// while its queue is full (backpressure: the polling thread frees space as acknowledgements
/// arrive).
pub(super) fn send(
    producer: &ThreadedProducer<Acks>,
    topic: &str,
    partition: Option<i32>,
    value: &[u8],
) -> Result<(), String> {
    let now = producer.context().start.elapsed().as_nanos() as usize;
    let mut rec = BaseRecord::<(), [u8], usize>::with_opaque_to(topic, now).payload(value);
    if let Some(p) = partition {
        rec = rec.partition(p);
    }
    loop {
        match producer.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                std::thread::sleep(Duration::from_millis(1));
                rec = r;
            }
            Err((e, _)) => return Err(client_error("produce", e)),
        }
    }
}
