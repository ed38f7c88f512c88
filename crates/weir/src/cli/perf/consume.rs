//! `weir perf consume`: read N records from the beginning of every partition of a topic (manual
//! assignment, no consumer group) and report throughput, like `kafka-consumer-perf-test.sh`.

use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::common::{self, client_config, CommonArgs, Progress};
use super::report::{self, Throughput};
use crate::cli::admin::client_error;

/// `weir perf consume ...`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Bootstrap, topic, output and timeouts.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Records to read.
    #[arg(long)]
    pub messages: u64,
    /// Give up when no record arrives for this many seconds.
    #[arg(long = "idle-timeout-secs", default_value_t = 10)]
    pub idle_timeout_secs: u64,
    /// librdkafka consumer properties `k=v` (e.g. fetch.max.bytes=52428800). Weir sets
    /// fetch.queue.backoff.ms=10 (librdkafka: 1000) unless given here; see docs/benchmarks.md.
    #[arg(long = "consumer-props", num_args = 1.., value_name = "K=V")]
    pub consumer_props: Vec<String>,
    /// Independent consumer clients on their own threads; client i reads the partitions
    /// p with p mod N = i (N ≤ partitions). Counts and rate are totals.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub clients: u32,
}

/// Records a consumer thread counts before it publishes them (and the time) to the totals.
const FLUSH_EVERY: u64 = 1024;
/// A consumer thread reads the clock every this many records (a power of two ≤ FLUSH_EVERY).
const TIME_EVERY: u64 = 64;

/// A consumer with perf defaults (no group, no commits, no EOF events) plus `props`.
///
/// `fetch.queue.backoff.ms` is 10 instead of librdkafka's 1000: once its local queue holds
/// `queued.min.messages` (100,000) records, librdkafka stops fetching for that long, so a broker
/// that answers fetches faster than the application drains them was measured with a one-second
/// stall that depended on timing (runs alternated between ~0.6 M and ~1.4 M records/s). The
/// same setting applies to every broker measured; `--consumer-props` overrides it.
pub(super) fn consumer(common: &CommonArgs, props: &[String]) -> Result<BaseConsumer, String> {
    client_config(
        &common.bootstrap,
        &[
            ("group.id", "weir-perf"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            ("fetch.queue.backoff.ms", "10"),
        ],
        props,
    )?
    .create()
    .map_err(|e| client_error("create consumer", e))
}

/// Assign every partition in `partitions` of the topic at `offset(partition)`.
pub(super) fn assign(
    c: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    mut offset: impl FnMut(i32) -> Result<Offset, String>,
) -> Result<(), String> {
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        tpl.add_partition_offset(topic, p, offset(p)?)
            .map_err(|e| client_error("assign", e))?;
    }
    c.assign(&tpl).map_err(|e| client_error("assign", e))
}

/// Run `weir perf consume`.
pub fn run(args: ConsumeArgs) -> Result<(), String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let c = &args.common;
    let first = consumer(c, &args.consumer_props)?;
    common::check_reachable(first.client(), c)?;
    let partitions = common::topic_partitions(first.client(), c)?;
    let clients = (args.clients as usize).min(partitions.len()).max(1);
    let mut consumers = vec![first];
    for _ in 1..clients {
        consumers.push(consumer(c, &args.consumer_props)?);
    }
    for (i, cons) in consumers.iter().enumerate() {
        let mine: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|p| *p as usize % clients == i)
            .collect();
        assign(cons, &c.topic, &mine, |_| Ok(Offset::Beginning))?;
    }

    let mut progress = Progress::new(Some(args.messages), c.json, "consume");
    let idle = Duration::from_secs(args.idle_timeout_secs);
    let start = Instant::now();
    let records = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    // Nanoseconds after `start` of the last record any client received.
    let last_ns = AtomicU64::new(0);
    let outcome: Result<(), String> = std::thread::scope(|scope| {
        let workers: Vec<_> = consumers
            .iter()
            .map(|cons| {
                let (records, bytes, last_ns) = (&records, &bytes, &last_ns);
                scope.spawn(move || -> Result<(), String> {
                    // Counted locally and published every FLUSH_EVERY records (and when idle or
                    // done); the clock is read every TIME_EVERY records and at the last one, so
                    // the per-record cost is the client's, not two atomics and a clock read.
                    let (mut n, mut b, mut last_at) = (0u64, 0u64, 0u64);
                    let publish = |n: &mut u64, b: &mut u64, last_at: u64| {
                        if *n > 0 {
                            records.fetch_add(*n, Ordering::Relaxed);
                            bytes.fetch_add(*b, Ordering::Relaxed);
                            last_ns.fetch_max(last_at, Ordering::Relaxed);
                            (*n, *b) = (0, 0);
                        }
                    };
                    while records.load(Ordering::Relaxed) + n < args.messages {
                        match cons.poll(Duration::from_millis(100)) {
                            Some(Ok(m)) => {
                                n += 1;
                                b += (m.payload_len() + m.key().map_or(0, <[u8]>::len)) as u64;
                                let done = records.load(Ordering::Relaxed) + n >= args.messages;
                                if n % TIME_EVERY == 0 || done {
                                    last_at = start.elapsed().as_nanos() as u64;
                                }
                                if n >= FLUSH_EVERY || done {
                                    publish(&mut n, &mut b, last_at);
                                }
                            }
                            Some(Err(e)) => return Err(client_error("consume", e)),
                            None => {
                                publish(&mut n, &mut b, last_at);
                                let last = Duration::from_nanos(last_ns.load(Ordering::Relaxed));
                                if start.elapsed().saturating_sub(last) >= idle {
                                    return Err(format!(
                                        "only {} of {} records arrived; none for {}s",
                                        records.load(Ordering::Relaxed),
                                        args.messages,
                                        args.idle_timeout_secs
                                    ));
                                }
                            }
                        }
                    }
                    publish(&mut n, &mut b, last_at);
                    Ok(())
                })
            })
            .collect();
        let mut window = (Instant::now(), 0u64, 0u64);
        while !workers.iter().all(|w| w.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            let (r, b) = (
                records.load(Ordering::Relaxed),
                bytes.load(Ordering::Relaxed),
            );
            progress.update(r, || {
                let t = Throughput {
                    records: r - window.1,
                    bytes: b - window.2,
                    elapsed: window.0.elapsed(),
                };
                window = (Instant::now(), r, b);
                t.to_text("read")
            });
        }
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| "a consumer thread panicked".to_string())?
        })
    });
    progress.finish();
    outcome?;
    let t = Throughput {
        records: records.load(Ordering::Relaxed),
        bytes: bytes.load(Ordering::Relaxed),
        elapsed: Duration::from_nanos(last_ns.load(Ordering::Relaxed)),
    };
    let mut obj = serde_json::Map::new();
    obj.insert("mode".into(), json!("consume"));
    obj.insert("topic".into(), json!(c.topic));
    obj.insert("partitions".into(), json!(partitions.len()));
    obj.insert("clients".into(), json!(clients));
    t.json_fields(&mut obj);
    report::emit(
        c.json,
        obj,
        &[format!(
            "{}, {:.1} ms fetch time.",
            t.to_text("read"),
            t.elapsed.as_secs_f64() * 1000.0
        )],
    );
    Ok(())
}
