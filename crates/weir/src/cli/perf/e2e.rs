//! `weir perf e2e`: a producer and a consumer in one process. Each payload starts with the
//! send time (nanoseconds since the run's origin, big-endian); the consumer, assigned at the end
//! of every partition before the first send, subtracts it from its own clock on delivery. Both
//! clocks are the same monotonic clock, so the figure is produce call → consumer poll, as in
//! Kafka's `EndToEndLatency` tool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::Offset;
use serde_json::json;

use super::acks::Acks;
use super::common::{self, client_config, CommonArgs, Progress};
use super::consume::{assign, consumer};
use super::produce::send;
use super::report::{self, Latency, Throughput};
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
    #[arg(long, default_value_t = 1000.0, allow_hyphen_values = true)]
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
    #[arg(long = "duration-secs")]
    pub duration_secs: Option<u64>,
    /// Create the topic with this many partitions first (unless it exists).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// After the last acknowledgement, wait at most this long for the consumer to catch up.
    #[arg(long = "idle-timeout-secs", default_value_t = 10)]
    pub idle_timeout_secs: u64,
}

/// What the consumer thread measured.
struct Received {
    latency: Histogram<u64>,
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
    if let Some(p) = args.partitions {
        common::ensure_topic(c, p)?;
    }
    let partitions = common::topic_partitions(producer.client(), c)?;
    let cons = consumer(c, &args.consumer_props)?;
    let wm_timeout = Duration::from_secs(c.connect_timeout_secs);
    assign(&cons, &c.topic, &partitions, |p| {
        let (_, high) = cons
            .fetch_watermarks(&c.topic, p, wm_timeout)
            .map_err(|e| client_error("end offsets", e))?;
        Ok(Offset::Offset(high))
    })?;

    let origin = producer.context().start;
    // u64::MAX until the producer knows how many records were acknowledged.
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let idle = Duration::from_secs(args.idle_timeout_secs);
    let reader = {
        let target = Arc::clone(&target);
        std::thread::Builder::new()
            .name("perf-e2e-consumer".into())
            .spawn(move || read(cons, origin, &target, idle))
            .map_err(|e| format!("spawn consumer thread: {e}"))?
    };

    let mut value = common::payload(args.record_size);
    let mut progress = Progress::new(args.num_records, c.json, "e2e");
    let ctx = producer.context();
    let begin = origin.elapsed();
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
        if let Err(e) = send(&producer, &c.topic, &value) {
            send_error = Some(e);
            break;
        }
        sent += 1;
        if (sent & 63) == 0 {
            let acked = ctx.acked();
            progress.update(acked, || format!("{acked} records acknowledged"));
        }
    }
    let _ = producer.flush(Duration::from_secs(60));
    let acked = ctx.acked();
    target.store(acked, Ordering::Release);
    let got = reader
        .join()
        .map_err(|_| "consumer thread panicked".to_string())?;
    progress.finish();

    let s = ctx.state.lock().unwrap_or_else(|e| e.into_inner());
    let e2e = Latency::from_histogram(&got.latency);
    let ack = Latency::from_histogram(&s.latency);
    let t = Throughput {
        records: got.records,
        bytes: got.bytes,
        elapsed: got.last.saturating_sub(begin),
    };
    let mut obj = serde_json::Map::new();
    obj.insert("mode".into(), json!("e2e"));
    obj.insert("topic".into(), json!(c.topic));
    obj.insert("partitions".into(), json!(partitions.len()));
    obj.insert("record_size".into(), json!(args.record_size));
    obj.insert("acks".into(), json!(args.acks));
    obj.insert("target_throughput".into(), json!(args.throughput));
    obj.insert("sent".into(), json!(sent));
    obj.insert("acked".into(), json!(acked));
    obj.insert("failed".into(), json!(s.failed));
    t.json_fields(&mut obj);
    obj.insert("latency_ms".into(), e2e.to_json());
    obj.insert("ack_latency_ms".into(), ack.to_json());
    report::emit(
        c.json,
        obj,
        &[
            format!("{} (end to end).", t.to_text("received")),
            format!("end-to-end: {}.", e2e.to_text()),
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

/// Consume until `target` records arrived (once it is known), or until `idle` passes without a
/// record after it is known.
fn read(cons: BaseConsumer, origin: Instant, target: &AtomicU64, idle: Duration) -> Received {
    let mut r = Received {
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
                report::record(
                    &mut r.latency,
                    now.saturating_sub(Duration::from_nanos(sent)),
                );
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
