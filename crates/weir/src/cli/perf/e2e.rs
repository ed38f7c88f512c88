//! `weir perf e2e`: a producer and a consumer in one process. Each payload starts with the
//! send time (nanoseconds since the run's origin, big-endian); the consumer, assigned at the end
//! of every partition before the first send, subtracts it from its own clock on delivery. Both
//! clocks are the same monotonic clock, so the figure is produce call → consumer poll, as in
//! Kafka's `EndToEndLatency` tool.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::acks::Acks;
use super::common::{self, client_config, CommonArgs, Progress};
use super::consume::consumer;
use super::live::{Intervals, LiveArgs, Window};
use super::png;
use super::produce::send;
use super::report::{self, Latency, Throughput};
use super::targets::{self, TargetArgs, Targets};
use crate::cli::admin::client_error;

/// `weir perf e2e ...`.
#[derive(Debug, Args)]
pub struct E2eArgs {
    /// Bootstrap, topic, output and timeouts.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Records to send (the run also stops at --duration-secs).
    #[arg(long = "num-records")]
    pub num_records: Option<u64>,
    /// Size of each record's value in bytes (at least 8: the timestamp).
    #[arg(long = "record-size", default_value_t = 100)]
    pub record_size: usize,
    /// Target rate in records/s; -1 for as fast as possible (latency then includes queueing).
    #[arg(
        long,
        visible_alias = "rate",
        default_value_t = 1000.0,
        allow_hyphen_values = true
    )]
    pub throughput: f64,
    /// acks: all, 1 or 0.
    #[arg(long, default_value = "all")]
    pub acks: String,
    /// Compression: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// librdkafka producer properties `k=v`.
    #[arg(long = "producer-props", num_args = 1.., value_name = "K=V")]
    pub producer_props: Vec<String>,
    /// librdkafka consumer properties `k=v`.
    #[arg(long = "consumer-props", num_args = 1.., value_name = "K=V")]
    pub consumer_props: Vec<String>,
    /// Stop sending after this many seconds.
    #[arg(long = "duration-secs", visible_alias = "duration")]
    pub duration_secs: Option<u64>,
    /// Create the topic (each of --topics) with this many partitions first (unless it exists).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// --topics and --partitioner.
    #[command(flatten)]
    pub targets: TargetArgs,
    /// --report-interval, --head-secs, --histogram-png, --font, --idle-timeout-secs.
    #[command(flatten)]
    pub report: E2eReportArgs,
}

/// How `perf e2e` and `perf e2e-raw` report.
#[derive(Debug, Args)]
pub struct E2eReportArgs {
    /// --report-interval.
    #[command(flatten)]
    pub live: LiveArgs,
    /// Also report the latency of the records sent (e2e-raw: due) in the first SECS seconds of
    /// the run alone (`head_latency_ms`): a slow start shows there even when the whole run's p99
    /// hides it.
    #[arg(long = "head-secs", value_name = "SECS", default_value_t = 5.0)]
    pub head_secs: f64,
    /// Draw the end-to-end latency distribution to this PNG file.
    #[arg(long = "histogram-png", value_name = "FILE")]
    pub histogram_png: Option<PathBuf>,
    /// TrueType font for the PNG's text (default: DejaVu Sans or Liberation Sans from the usual
    /// system paths).
    #[arg(long, value_name = "FILE", requires = "histogram_png")]
    pub font: Option<PathBuf>,
    /// After the last acknowledgement, wait at most this long for the consumer to catch up.
    #[arg(long = "idle-timeout-secs", default_value_t = 10)]
    pub idle_timeout_secs: u64,
}

impl E2eReportArgs {
    /// The latency fields of an end-to-end result: `latency_ms`, `ack_latency_ms`, `head_secs`,
    /// `head_records`, `head_latency_ms`, and `intervals` / `histogram_png` when asked for.
    pub fn json_fields(
        &self,
        obj: &mut serde_json::Map<String, serde_json::Value>,
        (e2e, ack, head): (Latency, Latency, Latency),
        head_records: u64,
        intervals: Intervals,
    ) {
        obj.insert("latency_ms".into(), e2e.to_json());
        obj.insert("ack_latency_ms".into(), ack.to_json());
        obj.insert("head_secs".into(), json!(self.head_secs));
        obj.insert("head_records".into(), json!(head_records));
        obj.insert("head_latency_ms".into(), head.to_json());
        if let Some(rows) = intervals.into_json() {
            obj.insert("intervals".into(), rows);
        }
        if let Some(path) = &self.histogram_png {
            obj.insert("histogram_png".into(), json!(path.display().to_string()));
        }
    }
}

/// What the consumer thread measured.
struct Received {
    latency: Histogram<u64>,
    /// Latency of the records sent during the first `--head-secs` of the run.
    head: Histogram<u64>,
    records: u64,
    bytes: u64,
    last: Duration,
    error: Option<String>,
}

/// Run `weir perf e2e`.
pub fn run(args: E2eArgs) -> Result<(), String> {
    if args.num_records.is_none() && args.duration_secs.is_none() {
        return Err("perf e2e: give --num-records, --duration-secs or both".into());
    }
    if args.record_size < 8 {
        return Err("perf e2e: --record-size must be at least 8 (the timestamp)".into());
    }
    if !(args.report.head_secs.is_finite() && args.report.head_secs >= 0.0) {
        return Err("perf e2e: --head-secs must be a number of seconds ≥ 0".into());
    }
    let c = &args.common;
    let cfg = client_config(
        &c.bootstrap,
        &[
            ("acks", &args.acks),
            ("compression.type", &args.compression),
            ("message.timeout.ms", "30000"),
            // As Kafka's EndToEndLatency tool: no batching delay inside the client.
            ("linger.ms", "0"),
        ],
        &args.producer_props,
    )?;
    let producer: ThreadedProducer<Acks> = cfg
        .create_with_context(Acks::new())
        .map_err(|e| client_error("create producer", e))?;
    common::check_reachable(producer.client(), c)?;
    let targets = targets::resolve(producer.client(), c, &args.targets, args.partitions)?;
    let cons = consumer(c, &args.consumer_props)?;
    assign_at_end(&cons, &targets, Duration::from_secs(c.connect_timeout_secs))?;

    let origin = producer.context().start;
    let window = Arc::new(Window::default());
    let live = args
        .report
        .live
        .report_interval
        .is_some()
        .then(|| Arc::clone(&window));
    let mut intervals = Intervals::new(&args.report.live);
    // u64::MAX until the producer knows how many records were acknowledged.
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let idle = Duration::from_secs(args.report.idle_timeout_secs);
    let begin = origin.elapsed();
    let head_until = (begin + Duration::from_secs_f64(args.report.head_secs)).as_nanos() as u64;
    let reader = {
        let target = Arc::clone(&target);
        let opts = ReadOpts {
            origin,
            idle,
            head_until,
            live,
        };
        std::thread::Builder::new()
            .name("perf-e2e-consumer".into())
            .spawn(move || read(cons, &opts, &target))
            .map_err(|e| format!("spawn consumer thread: {e}"))?
    };

    let mut value = common::payload(args.record_size);
    let mut progress = Progress::new(args.num_records, c.json, "e2e");
    let ctx = producer.context();
    let stop_at = args
        .duration_secs
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut sent = 0u64;
    let mut send_error = None;
    while args.num_records.is_none_or(|n| sent < n) {
        if stop_at.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        if let Some(wait) = common::throttle_delay(args.throughput, sent, origin.elapsed() - begin)
        {
            std::thread::sleep(wait.min(Duration::from_millis(100)));
            continue;
        }
        let stamp = origin.elapsed().as_nanos() as u64;
        value[..8].copy_from_slice(&stamp.to_be_bytes());
        let (topic, partition) = targets.pick(sent);
        if let Err(e) = send(&producer, topic, partition, &value) {
            send_error = Some(e);
            break;
        }
        sent += 1;
        if (sent & 63) == 0 {
            let acked = ctx.acked();
            progress.update(acked, || format!("{acked} records acknowledged"));
            intervals.tick(|| window.take(), &progress, "received");
        }
    }
    let _ = producer.flush(Duration::from_secs(60));
    let acked = ctx.acked();
    target.store(acked, Ordering::Release);
    let got = reader
        .join()
        .map_err(|_| "consumer thread panicked".to_string())?;
    intervals.flush(|| window.take(), &progress, "received");
    progress.finish();
    let s = ctx.state.lock().unwrap_or_else(|e| e.into_inner());
    let e2e = Latency::from_histogram(&got.latency);
    if let Some(path) = &args.report.histogram_png {
        let title =
            format!(
            "weir perf e2e: {} records of {} B at {} rec/s, acks={}: p50 {:.2} ms, p99 {:.2} ms, \
             p99.9 {:.2} ms, max {:.2} ms",
            got.records, args.record_size, args.throughput, args.acks, e2e.p50, e2e.p99, e2e.p999,
            e2e.max,
        );
        png::write(path, args.report.font.as_deref(), &title, &got.latency)?;
    }
    let ack = Latency::from_histogram(&s.latency);
    let t = Throughput {
        records: got.records,
        bytes: got.bytes,
        elapsed: got.last.saturating_sub(begin),
    };
    let mut obj = serde_json::Map::new();
    obj.insert("mode".into(), json!("e2e"));
    obj.insert("topic".into(), json!(c.topic));
    obj.insert("topics".into(), json!(targets.topics.len()));
    obj.insert("partitions".into(), json!(targets.partition_count()));
    obj.insert(
        "batching".into(),
        targets::batching_json(&cfg, args.targets.partitioner),
    );
    obj.insert("record_size".into(), json!(args.record_size));
    obj.insert("acks".into(), json!(args.acks));
    obj.insert("target_throughput".into(), json!(args.throughput));
    obj.insert("sent".into(), json!(sent));
    obj.insert("acked".into(), json!(acked));
    obj.insert("failed".into(), json!(s.failed));
    t.json_fields(&mut obj);
    let head = Latency::from_histogram(&got.head);
    args.report
        .json_fields(&mut obj, (e2e, ack, head), got.head.len(), intervals);
    report::emit(
        c.json,
        obj,
        &[
            format!("{} (end to end).", t.to_text("received")),
            format!("end-to-end: {}.", e2e.to_text()),
            format!(
                "end-to-end, records sent in the first {} s ({}): {}.",
                args.report.head_secs,
                got.head.len(),
                head.to_text()
            ),
            format!("send-to-ack: {}.", ack.to_text()),
        ],
    );
    if let Some(e) = send_error.or(got.error) {
        return Err(e);
    }
    if s.failed > 0 || got.records < acked {
        return Err(format!(
            "{} of {sent} records failed to produce ({}); {} of {acked} acknowledged records \
             were consumed",
            s.failed,
            s.first_error.as_deref().unwrap_or("no error"),
            got.records
        ));
    }
    Ok(())
}

/// Assign every partition of `targets` at its current end offset.
fn assign_at_end(cons: &BaseConsumer, targets: &Targets, timeout: Duration) -> Result<(), String> {
    let mut tpl = TopicPartitionList::new();
    for &(t, p) in &targets.slots {
        let topic = &targets.topics[t];
        let (_, high) = cons
            .fetch_watermarks(topic, p, timeout)
            .map_err(|e| client_error("end offsets", e))?;
        tpl.add_partition_offset(topic, p, Offset::Offset(high))
            .map_err(|e| client_error("assign", e))?;
    }
    cons.assign(&tpl).map_err(|e| client_error("assign", e))
}

/// What the consumer thread needs besides its consumer.
struct ReadOpts {
    /// The run's time origin (send stamps count from here).
    origin: Instant,
    /// How long to wait for missing records once the target is known.
    idle: Duration,
    /// Records stamped before this (ns since `origin`) also go to the head histogram.
    head_until: u64,
    /// The `--report-interval` window, when there is one.
    live: Option<Arc<Window>>,
}

/// Consume until `target` records arrived (once it is known), or until `opts.idle` passes
/// without a record after it is known.
fn read(cons: BaseConsumer, opts: &ReadOpts, target: &AtomicU64) -> Received {
    let (origin, idle) = (opts.origin, opts.idle);
    let mut r = Received {
        head: report::new_histogram(),
        latency: report::new_histogram(),
        records: 0,
        bytes: 0,
        last: Duration::ZERO,
        error: None,
    };
    let mut quiet_since: Option<Instant> = None;
    while r.records < target.load(Ordering::Acquire) {
        match cons.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                let now = origin.elapsed();
                let Some(stamp) = m.payload().and_then(|p| p.get(..8)) else {
                    continue;
                };
                let sent = u64::from_be_bytes(stamp.try_into().expect("8 bytes"));
                let took = now.saturating_sub(Duration::from_nanos(sent));
                report::record(&mut r.latency, took);
                if sent < opts.head_until {
                    report::record(&mut r.head, took);
                }
                if let Some(w) = &opts.live {
                    w.record(took);
                }
                r.records += 1;
                r.bytes += m.payload_len() as u64;
                r.last = now;
                quiet_since = None;
            }
            Some(Err(e)) => {
                r.error = Some(client_error("consume", e));
                break;
            }
            None if target.load(Ordering::Acquire) != u64::MAX => {
                let since = *quiet_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= idle {
                    break;
                }
            }
            None => {}
        }
    }
    r
}
