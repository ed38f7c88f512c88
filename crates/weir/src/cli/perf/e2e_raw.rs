//! `weir perf e2e-raw`: end-to-end latency on one partition with the cheapest producer and
//! consumer there are (`perf produce-raw`'s prebuilt batches and `perf fetch`'s header-only
//! Fetch), so that at high rates the figure is the broker's and not a client library's CPU on
//! cores it shares with the broker.
//!
//! **Schedule.** Record i of the run is *due* at `i / rate` seconds after the start; batch k
//! holds records `k·N … k·N+N−1` and is sent when its last record is due (as a client whose batch
//! fills before its linger runs out), on one connection with up to `--in-flight` requests
//! outstanding. The producer is the partition's only writer and nothing is retried, so batch k
//! lands at offset `start + k·N` (checked against every Produce answer).
//!
//! **Measure.** A second connection long-polls Fetch from `start`; when a batch arrives, each of
//! its records counts `arrival − due` (so time spent waiting for its batch to fill is included,
//! and a producer that falls behind its schedule shows as latency, not as a lower rate).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use kafka_protocol::messages::{ApiKey, ProduceResponse};
use serde_json::json;

use super::common::{self, CommonArgs, Progress};
use super::e2e::E2eReportArgs;
use super::e2e_raw_fetch::{self as fetch, Schedule};
use super::live::{Intervals, Window};
use super::png;
use super::report::{self, Latency, Throughput};
use super::wire::{self, Session};
use crate::cli::raw::code_name;

/// `weir perf e2e-raw ...`.
#[derive(Debug, Args)]
pub struct E2eRawArgs {
    /// Bootstrap, topic, output and timeouts.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Records per second.
    #[arg(long)]
    pub rate: f64,
    /// Seconds to send for.
    #[arg(
        long = "duration-secs",
        visible_alias = "duration",
        default_value_t = 10
    )]
    pub duration_secs: u64,
    /// Bytes of each record's value (no key).
    #[arg(long = "record-size", default_value_t = 100)]
    pub record_size: usize,
    /// Records per batch (0: as many as are due in one millisecond at --rate, at least 1).
    #[arg(long = "batch-records", default_value_t = 0)]
    pub batch_records: usize,
    /// Produce requests outstanding at once.
    #[arg(long = "in-flight", default_value_t = 5)]
    pub in_flight: usize,
    /// `acks`: -1 (all) or 1.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub acks: i16,
    /// The partition to use (its leader is asked for both produce and fetch).
    #[arg(long, default_value_t = 0)]
    pub partition: i32,
    /// Create the topic with this many partitions first (unless it exists).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// --report-interval, --head-secs, --histogram-png, --font, --idle-timeout-secs.
    #[command(flatten)]
    pub report: E2eReportArgs,
}

/// Check one Produce answer: the partition succeeded at `expected` base offset.
fn check_answer(version: i16, corr: i32, frame: Bytes, expected: i64) -> Result<(), String> {
    let resp: ProduceResponse =
        weir_protocol::client::decode_response(ApiKey::Produce, version, corr, frame)
            .map_err(|e| format!("Produce: {e}"))?;
    let p = resp
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .next()
        .ok_or("Produce: an answer without the partition")?;
    if p.error_code != 0 {
        return Err(format!("Produce: {}", code_name(p.error_code)));
    }
    if p.base_offset != expected {
        return Err(format!(
            "Produce: batch stored at offset {}, expected {expected} (another writer?)",
            p.base_offset
        ));
    }
    Ok(())
}

/// Send `batches` batches on schedule from `origin`; answers are read by a second thread.
/// Returns the send-to-answer latency histogram.
fn produce(
    args: &E2eRawArgs,
    addr: &str,
    sched: Schedule,
    origin: Instant,
    start: i64,
    batches: u64,
    acked: &AtomicU64,
) -> Result<Histogram<u64>, String> {
    let mut session = Session::connect(addr)?;
    let version = session.version(ApiKey::Produce, 3, 12)?;
    let mut answers = session.try_clone()?;
    let payload = common::payload(args.record_size);
    let records: Vec<(Option<&[u8]>, &[u8])> = (0..sched.batch)
        .map(|_| (None, payload.as_slice()))
        .collect();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let batch = Bytes::from(weir_log::batch::build_batch(0, now_ms, &records));
    let req = super::produce_raw::one_partition_request(
        &args.common.topic,
        args.partition,
        &batch,
        args.acks,
        30_000,
    );
    // Permits bound the requests outstanding; the reader returns one per answer.
    let (permit_tx, permit_rx) = mpsc::sync_channel::<()>(args.in_flight.max(1));
    for _ in 0..args.in_flight.max(1) {
        let _ = permit_tx.send(());
    }
    let (sent_tx, sent_rx) = mpsc::channel::<(i32, u64, Instant)>();
    std::thread::scope(|s| {
        let reader = s.spawn(move || -> Result<Histogram<u64>, String> {
            let mut hist = report::new_histogram();
            for k in 0..batches {
                let (corr, kk, at) = sent_rx.recv().map_err(|_| "the sender stopped")?;
                debug_assert_eq!(k, kk);
                let expected = start + (kk * sched.batch as u64) as i64;
                check_answer(version, corr, answers.receive()?, expected)?;
                report::record(&mut hist, at.elapsed());
                acked.fetch_add(sched.batch as u64, Ordering::Relaxed);
                let _ = permit_tx.send(());
            }
            Ok(hist)
        });
        let mut send = || -> Result<(), String> {
            for k in 0..batches {
                let due = origin + Duration::from_nanos(sched.batch_due_ns(k));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                permit_rx.recv().map_err(|_| "the answer reader stopped")?;
                let corr = session.send(ApiKey::Produce, version, &req)?;
                sent_tx
                    .send((corr, k, Instant::now()))
                    .map_err(|_| "the answer reader stopped")?;
            }
            Ok(())
        };
        let sent = send();
        drop(sent_tx);
        let hist = reader
            .join()
            .unwrap_or_else(|_| Err("the answer reader panicked".into()));
        sent.and(hist)
    })
}

/// Run `weir perf e2e-raw`.
pub fn run(args: E2eRawArgs) -> Result<(), String> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        return Err("perf e2e-raw: --rate must be a positive number of records/s".into());
    }
    if args.acks == 0 {
        return Err("perf e2e-raw: acks=0 has no answers to check".into());
    }
    let c = &args.common;
    if let Some(p) = args.partitions {
        common::ensure_topics(c, std::slice::from_ref(&c.topic), p)?;
    }
    let addr = wire::leaders(c)?
        .into_iter()
        .find(|(_, parts)| parts.contains(&args.partition))
        .map(|(a, _)| a)
        .ok_or_else(|| format!("partition {} of {} has no leader", args.partition, c.topic))?;
    let batch = if args.batch_records == 0 {
        ((args.rate / 1000.0).round() as usize).max(1)
    } else {
        args.batch_records
    };
    let sched = Schedule {
        rate: args.rate,
        batch,
    };
    let batches = ((args.rate * args.duration_secs as f64) as u64 / batch as u64).max(1);
    let total = batches * batch as u64;
    let mut consumer = fetch::Tail::open(&addr, &c.topic, args.partition)?;
    let start = consumer.next_offset();

    let window = Arc::new(Window::default());
    let mut intervals = Intervals::new(&args.report.live);
    let mut progress = Progress::new(Some(total), c.json, "e2e-raw");
    let (acked, done) = (AtomicU64::new(0), AtomicBool::new(false));
    let origin = Instant::now();
    let head_until = Duration::from_secs_f64(args.report.head_secs.max(0.0)).as_nanos() as u64;
    let idle = Duration::from_secs(args.report.idle_timeout_secs);
    let (produced, got) = std::thread::scope(|s| {
        let live = args
            .report
            .live
            .report_interval
            .is_some()
            .then_some(&*window);
        let (acked, done) = (&acked, &done);
        let reader = s.spawn(move || {
            consumer.read(&fetch::ReadPlan {
                sched,
                origin,
                start,
                total,
                head_until,
                idle,
                done,
                live,
            })
        });
        let producer = s.spawn(|| {
            let r = produce(&args, &addr, sched, origin, start, batches, acked);
            done.store(true, Ordering::Release);
            r
        });
        while !producer.is_finished() || !reader.is_finished() {
            std::thread::sleep(Duration::from_millis(50));
            let n = acked.load(Ordering::Relaxed);
            progress.update(n, || format!("{n} records acknowledged"));
            intervals.tick(|| window.take(), &progress, "received");
        }
        let p = producer
            .join()
            .unwrap_or_else(|_| Err("the producer panicked".into()));
        let r = reader
            .join()
            .unwrap_or_else(|_| Err("the consumer panicked".into()));
        (p, r)
    });
    intervals.flush(|| window.take(), &progress, "received");
    progress.finish();
    let ack_hist = produced?;
    let got = got?;
    let e2e = Latency::from_histogram(&got.latency);
    if let Some(path) = &args.report.histogram_png {
        let title = format!(
            "weir perf e2e-raw: {} records of {} B at {} rec/s, acks={}, {} per batch: p50 {:.2} \
             ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            got.records,
            args.record_size,
            args.rate,
            args.acks,
            batch,
            e2e.p50,
            e2e.p99,
            e2e.p999,
            e2e.max
        );
        png::write(path, args.report.font.as_deref(), &title, &got.latency)?;
    }
    let t = Throughput {
        records: got.records,
        bytes: got.records * args.record_size as u64,
        elapsed: got.last,
    };
    let ack = Latency::from_histogram(&ack_hist);
    let head = Latency::from_histogram(&got.head);
    let mut obj = serde_json::Map::new();
    obj.insert("mode".into(), json!("e2e-raw"));
    obj.insert("topic".into(), json!(c.topic));
    obj.insert("partition".into(), json!(args.partition));
    obj.insert(
        "batching".into(),
        json!({"batch.records": batch, "batch.interval.ms": report::round3(batch as f64 * 1e3 / args.rate),
               "in.flight": args.in_flight}),
    );
    obj.insert("record_size".into(), json!(args.record_size));
    obj.insert("acks".into(), json!(args.acks));
    obj.insert("target_throughput".into(), json!(args.rate));
    obj.insert("sent".into(), json!(total));
    obj.insert("acked".into(), json!(acked.load(Ordering::Relaxed)));
    t.json_fields(&mut obj);
    args.report
        .json_fields(&mut obj, (e2e, ack, head), got.head.len(), intervals);
    report::emit(
        c.json,
        obj,
        &[
            format!("{} (end to end, raw client).", t.to_text("received")),
            format!(
                "end-to-end (record due → batch fetched): {}.",
                e2e.to_text()
            ),
            format!(
                "end-to-end, records due in the first {} s ({}): {}.",
                args.report.head_secs,
                got.head.len(),
                head.to_text()
            ),
            format!("send-to-ack per request: {}.", ack.to_text()),
        ],
    );
    if got.records < total {
        return Err(format!(
            "{} of {total} acknowledged records were consumed",
            got.records
        ));
    }
    Ok(())
}
