//! `weir perf produce-raw`: a produce load generator that is not the limit, to measure a
//! broker's produce path rather than a client library (as `perf fetch` does for consume). One
//! record batch of `--batch-records` records is built (and its CRC computed) once; every Produce
//! request carries that batch for each of the next partitions of one leader in round-robin order
//! (all of its partitions per request unless `--partitions-per-request` says fewer), up to
//! `--in-flight` requests are outstanding per connection (answers come back in order), and a
//! request counts when its answer says every partition succeeded. Batches are not idempotent
//! (producer id −1): the broker appends each one as new data.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use clap::Args;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use serde_json::json;

use super::common::{self, CommonArgs};
use super::report::{self, Latency, Throughput};
use super::wire::{self, Session};
use crate::cli::raw::code_name;

/// `weir perf produce-raw ...`.
#[derive(Debug, Args)]
pub struct ProduceRawArgs {
    /// Bootstrap, topic, output and timeouts.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Records to send (rounded up to whole requests); without it, --duration-secs bounds the run.
    #[arg(long = "num-records")]
    pub num_records: Option<u64>,
    /// Stop sending after this many seconds (the answers outstanding are still awaited).
    #[arg(long = "duration-secs", visible_alias = "duration")]
    pub duration_secs: Option<u64>,
    /// Bytes of each record's value (no key).
    #[arg(long = "record-size", default_value_t = 100)]
    pub record_size: usize,
    /// Records in each partition's batch.
    #[arg(long = "batch-records", default_value_t = 100)]
    pub batch_records: usize,
    /// Partitions in each Produce request (0: every partition of the leader).
    #[arg(long = "partitions-per-request", default_value_t = 0)]
    pub partitions_per_request: usize,
    /// Requests outstanding per connection.
    #[arg(long = "in-flight", default_value_t = 5)]
    pub in_flight: usize,
    /// `acks`: -1 (all), 1 or 0 is refused (no answers to count).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub acks: i16,
    /// The request's `timeout_ms`.
    #[arg(long = "request-timeout-ms", default_value_t = 30_000)]
    pub request_timeout_ms: i32,
}

/// The partitions of request number `n` when each request takes `per` of `parts` in turn.
pub fn request_partitions(parts: &[i32], per: usize, n: u64) -> Vec<i32> {
    let per = if per == 0 {
        parts.len()
    } else {
        per.min(parts.len())
    };
    let start = (n as usize % parts.len().div_ceil(per)) * per;
    parts[start..(start + per).min(parts.len())].to_vec()
}

fn request(args: &ProduceRawArgs, batch: &Bytes, partitions: &[i32]) -> ProduceRequest {
    partitions_request(
        &args.common.topic,
        partitions,
        batch,
        args.acks,
        args.request_timeout_ms,
    )
}

/// A Produce request carrying `batch` for each of `partitions` of `topic`.
fn partitions_request(
    topic: &str,
    partitions: &[i32],
    batch: &Bytes,
    acks: i16,
    timeout_ms: i32,
) -> ProduceRequest {
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(topic.to_owned()));
    for &p in partitions {
        let mut d = PartitionProduceData::default();
        d.index = p;
        d.records = Some(batch.clone());
        t.partition_data.push(d);
    }
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = timeout_ms;
    req.topic_data.push(t);
    req
}

/// A Produce request carrying `batch` for `partition` of `topic` (`perf e2e-raw`).
pub fn one_partition_request(
    topic: &str,
    partition: i32,
    batch: &Bytes,
    acks: i16,
    timeout_ms: i32,
) -> ProduceRequest {
    partitions_request(topic, &[partition], batch, acks, timeout_ms)
}

/// Check one Produce answer: every partition must have succeeded.
fn check(version: i16, correlation: i32, frame: Bytes) -> Result<(), String> {
    let resp: ProduceResponse =
        weir_protocol::client::decode_response(ApiKey::Produce, version, correlation, frame)
            .map_err(|e| format!("Produce: {e}"))?;
    for p in resp
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
    {
        if p.error_code != 0 {
            return Err(format!(
                "Produce partition {}: {}",
                p.index,
                code_name(p.error_code)
            ));
        }
    }
    Ok(())
}

/// Send `quota` records to `parts` of the leader at `addr`; returns (records acked, per-request
/// latency histogram).
fn drive(
    args: &ProduceRawArgs,
    addr: &str,
    parts: &[i32],
    batch: &Bytes,
    quota: u64,
) -> Result<(u64, hdrhistogram::Histogram<u64>), String> {
    let mut session = Session::connect(addr)?;
    // v3+ carries record batches; v12 is the last version that names topics.
    let version = session.version(ApiKey::Produce, 3, 12)?;
    let mut hist = report::new_histogram();
    let mut outstanding: VecDeque<(i32, u64, Instant)> = VecDeque::new();
    let (mut sent, mut acked, mut n) = (0u64, 0u64, 0u64);
    let deadline = args
        .duration_secs
        .map(|s| Instant::now() + std::time::Duration::from_secs(s));
    let sending = |sent: u64| sent < quota && deadline.is_none_or(|d| Instant::now() < d);
    while sending(sent) || !outstanding.is_empty() {
        while sending(sent) && outstanding.len() < args.in_flight.max(1) {
            let partitions = request_partitions(parts, args.partitions_per_request, n);
            n += 1;
            let req = request(args, batch, &partitions);
            let corr = session.send(ApiKey::Produce, version, &req)?;
            let records = (partitions.len() * args.batch_records) as u64;
            sent += records;
            outstanding.push_back((corr, records, Instant::now()));
        }
        let Some((corr, records, at)) = outstanding.pop_front() else {
            break;
        };
        check(version, corr, session.receive()?)?;
        report::record(&mut hist, at.elapsed());
        acked += records;
    }
    Ok((acked, hist))
}

/// Run `weir perf produce-raw`.
pub fn run(args: ProduceRawArgs) -> Result<(), String> {
    if args.acks == 0 {
        return Err("perf produce-raw: acks=0 has no answers to count".into());
    }
    if args.num_records.is_none() && args.duration_secs.is_none() {
        return Err("perf produce-raw: give --num-records, --duration-secs or both".into());
    }
    let c = &args.common;
    let by_leader = wire::leaders(c)?;
    let partitions: usize = by_leader.values().map(Vec::len).sum();
    let payload = common::payload(args.record_size);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let records: Vec<(Option<&[u8]>, &[u8])> = (0..args.batch_records.max(1))
        .map(|_| (None, payload.as_slice()))
        .collect();
    let batch = Bytes::from(weir_log::batch::build_batch(0, now, &records));
    let start = Instant::now();
    let results: Vec<Result<(u64, hdrhistogram::Histogram<u64>), String>> =
        std::thread::scope(|s| {
            let workers: Vec<_> = by_leader
                .iter()
                .map(|(addr, parts)| {
                    let quota = args
                        .num_records
                        .map_or(u64::MAX, |n| n * parts.len() as u64 / partitions as u64);
                    let (args, batch) = (&args, &batch);
                    s.spawn(move || drive(args, addr, parts, batch, quota.max(1)))
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err("a producer thread panicked".into()))
                })
                .collect()
        });
    let elapsed = start.elapsed();
    let mut hist = report::new_histogram();
    let mut acked = 0;
    for r in results {
        let (n, h) = r?;
        acked += n;
        hist.add(&h).map_err(|e| e.to_string())?;
    }
    let t = Throughput {
        records: acked,
        bytes: acked * args.record_size as u64,
        elapsed,
    };
    let mut obj = serde_json::Map::new();
    obj.insert("mode".into(), json!("produce-raw"));
    obj.insert("topic".into(), json!(c.topic));
    obj.insert("partitions".into(), json!(partitions));
    obj.insert("connections".into(), json!(by_leader.len()));
    obj.insert("acks".into(), json!(args.acks));
    obj.insert(
        "batching".into(),
        json!({"batch.records": args.batch_records, "batch.bytes": batch.len(),
               "partitions.per.request": args.partitions_per_request, "in.flight": args.in_flight}),
    );
    t.json_fields(&mut obj);
    let latency = Latency::from_histogram(&hist);
    obj.insert("request_latency_ms".into(), latency.to_json());
    report::emit(
        c.json,
        obj,
        &[format!(
            "{} (raw Produce, {} records per partition batch); request latency {}",
            t.to_text("sent"),
            args.batch_records,
            latency.to_text()
        )],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_take_the_partitions_in_turn() {
        let parts: Vec<i32> = (0..10).collect();
        assert_eq!(request_partitions(&parts, 0, 7), parts);
        assert_eq!(request_partitions(&parts, 4, 0), vec![0, 1, 2, 3]);
        assert_eq!(request_partitions(&parts, 4, 1), vec![4, 5, 6, 7]);
        assert_eq!(request_partitions(&parts, 4, 2), vec![8, 9]);
        assert_eq!(request_partitions(&parts, 4, 3), vec![0, 1, 2, 3]);
        assert_eq!(request_partitions(&parts, 50, 1), parts);
    }
}
