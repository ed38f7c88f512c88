//! `weir perf fetch`: the cheapest consumer there is, to measure a broker's fetch path rather than
//! a client library. One connection per partition leader sends Fetch requests (one in flight, as
//! Kafka's consumers do) and walks the answer's record batches by their 61-byte headers only:
//! records are counted and the next offset found without decoding a record or checking a CRC.
//! `--replay-secs` then measures the client alone: it decodes and walks the last answer again and
//! again in memory, so a run can show that the load generator was not the limit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use serde_json::json;
use weir_log::batch::{BatchHeader, HEADER_LEN};

use super::common::CommonArgs;
use super::report::{self, Throughput};
use super::wire::{self, Session};
use crate::cli::raw::code_name;

/// `weir perf fetch ...`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Bootstrap, topic, output and timeouts.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Records to read (from offset 0 of every partition).
    #[arg(long)]
    pub messages: u64,
    /// Fetch `max_bytes` (librdkafka's `fetch.max.bytes` default).
    #[arg(long = "max-bytes", default_value_t = 52_428_800)]
    pub max_bytes: i32,
    /// Fetch `partition_max_bytes` (librdkafka's `max.partition.fetch.bytes` default).
    #[arg(long = "partition-max-bytes", default_value_t = 1_048_576)]
    pub partition_max_bytes: i32,
    /// Fetch `max_wait_ms` (librdkafka's `fetch.wait.max.ms` default).
    #[arg(long = "max-wait-ms", default_value_t = 500)]
    pub max_wait_ms: i32,
    /// Give up when no record arrives for this many seconds.
    #[arg(long = "idle-timeout-secs", default_value_t = 10)]
    pub idle_timeout_secs: u64,
    /// After the run, decode and walk the last answer in memory for this long and report the
    /// client's own rate (0: skip).
    #[arg(long = "replay-secs", default_value_t = 0.0)]
    pub replay_secs: f64,
}

/// What one walk over a partition's record set found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// Records at or after the fetch offset in complete batches.
    pub records: u64,
    /// Bytes of those complete batches (as on the wire).
    pub bytes: u64,
    /// The offset after the last complete batch (the fetch offset when there is none).
    pub next_offset: i64,
}

/// Walk the record batches of `set` fetched at `fetch_offset` by their 61-byte headers
/// ([`BatchHeader::parse`]: base offset, length, last offset delta). A trailing partial batch (a
/// fetch may end inside one) is ignored; records of the first batch before `fetch_offset` are not
/// counted. Errors on a batch length that cannot be a RecordBatch.
pub fn walk_batches(set: &[u8], fetch_offset: i64) -> Result<Walk, String> {
    let mut w = Walk {
        next_offset: fetch_offset,
        ..Walk::default()
    };
    let mut pos = 0usize;
    while set.len() - pos >= HEADER_LEN {
        let h = BatchHeader::parse(&set[pos..]).map_err(|e| e.to_string())?;
        if set.len() - pos < h.total_len {
            break;
        }
        if h.last_offset() >= w.next_offset {
            w.records += (h.last_offset() - h.base_offset.max(w.next_offset) + 1) as u64;
            w.bytes += h.total_len as u64;
            w.next_offset = h.next_offset();
        }
        pos += h.total_len;
    }
    Ok(w)
}

fn request(args: &FetchArgs, topic: &str, next: &BTreeMap<i32, i64>) -> FetchRequest {
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_string(topic.to_owned()));
    for (&p, &offset) in next {
        let mut fp = FetchPartition::default();
        fp.partition = p;
        fp.fetch_offset = offset;
        fp.partition_max_bytes = args.partition_max_bytes;
        t.partitions.push(fp);
    }
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = args.max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = args.max_bytes;
    req.session_epoch = -1;
    req.topics.push(t);
    req
}

/// Decode a Fetch answer and walk every partition's batches, advancing `next`.
fn apply(
    version: i16,
    correlation: i32,
    frame: Bytes,
    next: &mut BTreeMap<i32, i64>,
) -> Result<Walk, String> {
    let resp: FetchResponse =
        weir_protocol::client::decode_response(ApiKey::Fetch, version, correlation, frame)
            .map_err(|e| format!("Fetch: {e}"))?;
    if resp.error_code != 0 {
        return Err(format!("Fetch: {}", code_name(resp.error_code)));
    }
    let mut sum = Walk::default();
    for p in resp.responses.iter().flat_map(|t| t.partitions.iter()) {
        if p.error_code != 0 {
            return Err(format!(
                "Fetch partition {}: {}",
                p.partition_index,
                code_name(p.error_code)
            ));
        }
        let Some(offset) = next.get_mut(&p.partition_index) else {
            continue;
        };
        let w = walk_batches(p.records.as_deref().unwrap_or_default(), *offset)?;
        *offset = w.next_offset;
        sum.records += w.records;
        sum.bytes += w.bytes;
    }
    Ok(sum)
}

/// Run `weir perf fetch`.
pub fn run(args: FetchArgs) -> Result<(), String> {
    let c = &args.common;
    let by_leader = wire::leaders(c)?;
    let partitions: usize = by_leader.values().map(Vec::len).sum();
    let (records, bytes, last_ns) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let idle = Duration::from_secs(args.idle_timeout_secs);
    let start = Instant::now();
    let results: Vec<Result<Option<Answer>, String>> = std::thread::scope(|s| {
        let workers: Vec<_> = by_leader
            .iter()
            .map(|(addr, parts)| {
                let (args, records, bytes, last_ns) = (&args, &records, &bytes, &last_ns);
                s.spawn(move || {
                    let mut session = Session::connect(addr)?;
                    // v12: the last version naming topics (v13+ use ids); v4+ carries batches.
                    let version = session.version(ApiKey::Fetch, 4, 12)?;
                    let mut next: BTreeMap<i32, i64> = parts.iter().map(|&p| (p, 0)).collect();
                    let mut last_answer = None;
                    while records.load(Ordering::Relaxed) < args.messages {
                        let req = request(args, &args.common.topic, &next);
                        let (corr, frame) = session.exchange(ApiKey::Fetch, version, &req)?;
                        let w = apply(version, corr, frame.clone(), &mut next)?;
                        let now = start.elapsed();
                        if w.records > 0 {
                            records.fetch_add(w.records, Ordering::Relaxed);
                            bytes.fetch_add(w.bytes, Ordering::Relaxed);
                            last_ns.fetch_max(now.as_nanos() as u64, Ordering::Relaxed);
                            last_answer = Some(Answer {
                                version,
                                correlation: corr,
                                frame,
                                partitions: parts.clone(),
                            });
                        } else if now
                            .saturating_sub(Duration::from_nanos(last_ns.load(Ordering::Relaxed)))
                            >= idle
                        {
                            return Err(format!(
                                "only {} of {} records arrived; none for {}s",
                                records.load(Ordering::Relaxed),
                                args.messages,
                                args.idle_timeout_secs
                            ));
                        }
                    }
                    Ok(last_answer)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a fetch thread panicked".into()))
            })
            .collect()
    });
    let mut answers = Vec::new();
    for r in results {
        answers.extend(r?);
    }
    let t = Throughput {
        records: records.load(Ordering::Relaxed),
        bytes: bytes.load(Ordering::Relaxed),
        elapsed: Duration::from_nanos(last_ns.load(Ordering::Relaxed)),
    };
    let mut obj = serde_json::Map::new();
    obj.insert("mode".into(), json!("fetch"));
    obj.insert("topic".into(), json!(c.topic));
    obj.insert("partitions".into(), json!(partitions));
    obj.insert("connections".into(), json!(by_leader.len()));
    obj.insert("bytes_are".into(), json!("record batches as on the wire"));
    t.json_fields(&mut obj);
    let mut text = vec![format!(
        "{} (raw Fetch, batch headers only).",
        t.to_text("read")
    )];
    if let (Some(answer), true) = (answers.pop(), args.replay_secs > 0.0) {
        let replay = replay(answer, Duration::from_secs_f64(args.replay_secs))?;
        obj.insert(
            "client_only_records_per_sec".into(),
            json!(report::round3(replay.records_per_sec())),
        );
        obj.insert(
            "client_only_mb_per_sec".into(),
            json!(report::round3(replay.mb_per_sec())),
        );
        text.push(format!(
            "client alone on a replayed answer: {}",
            replay.to_text("walked")
        ));
    }
    report::emit(c.json, obj, &text);
    Ok(())
}

/// A Fetch answer kept for `--replay-secs`.
struct Answer {
    version: i16,
    correlation: i32,
    frame: Bytes,
    partitions: Vec<i32>,
}

/// Decode and walk `answer` (every batch in it counted) over and over for `secs`.
fn replay(answer: Answer, secs: Duration) -> Result<Throughput, String> {
    let start = Instant::now();
    let mut t = Throughput {
        records: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    while start.elapsed() < secs {
        let mut next = answer.partitions.iter().map(|&p| (p, 0i64)).collect();
        let w = apply(
            answer.version,
            answer.correlation,
            answer.frame.clone(),
            &mut next,
        )?;
        t.records += w.records;
        t.bytes += w.bytes;
    }
    t.elapsed = start.elapsed();
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch header of `records` records at `base` followed by `body` filler bytes.
    fn batch(base: i64, records: i32, body: usize) -> Vec<u8> {
        let mut b = vec![0u8; 61 + body];
        b[0..8].copy_from_slice(&base.to_be_bytes());
        b[8..12].copy_from_slice(&((49 + body) as i32).to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(records - 1).to_be_bytes());
        b[57..61].copy_from_slice(&records.to_be_bytes());
        b
    }

    #[test]
    fn complete_batches_are_counted_and_a_partial_tail_is_not() {
        let mut set = batch(0, 10, 100);
        set.extend(batch(10, 5, 40));
        let partial = batch(15, 7, 80);
        set.extend(&partial[..70]);
        let w = walk_batches(&set, 0).unwrap();
        assert_eq!(w.records, 15);
        assert_eq!(w.bytes, (161 + 101) as u64);
        assert_eq!(w.next_offset, 15);
    }

    #[test]
    fn records_before_the_fetch_offset_are_not_counted() {
        let mut set = batch(0, 10, 0);
        set.extend(batch(10, 10, 0));
        let w = walk_batches(&set, 4).unwrap();
        assert_eq!((w.records, w.next_offset), (16, 20));
        assert_eq!(walk_batches(&set, 20).unwrap().records, 0);
        assert_eq!(walk_batches(&[], 7).unwrap().next_offset, 7);
    }

    #[test]
    fn an_impossible_batch_length_is_an_error() {
        let mut set = batch(0, 1, 0);
        set[8..12].copy_from_slice(&3i32.to_be_bytes());
        assert!(walk_batches(&set, 0).is_err());
    }
}
