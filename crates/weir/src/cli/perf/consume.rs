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
    let c = &args.common;
    let consumer = consumer(c, &args.consumer_props)?;
    super::check_reachable(consumer.client(), c)?;
    let partitions = super::topic_partitions(consumer.client(), c)?;
    assign(&consumer, &c.topic, &partitions, |_| Ok(Offset::Beginning))?;

    let mut progress = Progress::new(Some(args.messages), c.json, "consume");
    let idle = Duration::from_secs(args.idle_timeout_secs);
    let start = Instant::now();
    let mut last = start;
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut window = (start, 0u64, 0u64);
    while records < args.messages {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                records += 1;
                bytes += (m.payload_len() + m.key().map_or(0, <[u8]>::len)) as u64;
                last = Instant::now();
                if (records & 1023) == 0 {
                    progress.update(records, || {
                        let t = Throughput {
                            records: records - window.1,
                            bytes: bytes - window.2,
                            elapsed: window.0.elapsed(),
                        };
                        window = (Instant::now(), records, bytes);
                        t.to_text("read")
                    });
                }
            }
            Some(Err(e)) => return Err(client_error("consume", e)),
            None if last.elapsed() >= idle => {
                progress.finish();
                return Err(format!(
                    "only {records} of {} records arrived; none for {}s",
                    args.messages, args.idle_timeout_secs
                ));
            }
            None => {}
        }
    }
    progress.finish();
    let t = Throughput {
        records,
        bytes,
        elapsed: last - start,
    };
    let mut obj = serde_json::Map::new();
    obj.insert("mode".into(), json!("consume"));
    obj.insert("topic".into(), json!(c.topic));
    obj.insert("partitions".into(), json!(partitions.len()));
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
