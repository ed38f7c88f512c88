//! `weir perf consume`: read N records from the beginning of every partition of a topic (manual
//! assignment, no consumer group) and report throughput, like `kafka-consumer-perf-test.sh`.

use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::report::{self, Throughput};
use super::{client_config, CommonArgs, Progress};
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
    /// librdkafka consumer properties `k=v` (e.g. fetch.max.bytes=52428800).
    #[arg(long = "consumer-props", num_args = 1.., value_name = "K=V")]
    pub consumer_props: Vec<String>,
    /// Independent consumer clients on their own threads; client i reads the partitions
    /// p with p mod N = i (N ≤ partitions). Counts and rate are totals.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub clients: u32,
}

/// A consumer with perf defaults (no group, no commits, no EOF events) plus `props`.
pub(super) fn consumer(common: &CommonArgs, props: &[String]) -> Result<BaseConsumer, String> {
    client_config(
        &common.bootstrap,
        &[
            ("group.id", "weir-perf"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
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
    super::check_reachable(first.client(), c)?;
    let partitions = super::topic_partitions(first.client(), c)?;
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
                    while records.load(Ordering::Relaxed) < args.messages {
                        match cons.poll(Duration::from_millis(100)) {
                            Some(Ok(m)) => {
                                records.fetch_add(1, Ordering::Relaxed);
                                let n = m.payload_len() + m.key().map_or(0, <[u8]>::len);
                                bytes.fetch_add(n as u64, Ordering::Relaxed);
                                let at = start.elapsed().as_nanos() as u64;
                                last_ns.fetch_max(at, Ordering::Relaxed);
                            }
                            Some(Err(e)) => return Err(client_error("consume", e)),
                            None => {
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
