//! The consumer of `weir perf e2e-raw`: one connection that long-polls Fetch on one partition
//! from its end offset at the start of the run and times each record's arrival against its
//! schedule (batch headers only: offsets are all it needs).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use weir_log::batch::{BatchHeader, HEADER_LEN};

use super::live::Window;
use super::report;
use super::wire::Session;
use crate::cli::raw::code_name;

/// How often the consumer hands its latencies to the `--report-interval` window.
const WINDOW_EVERY: Duration = Duration::from_millis(100);

/// A Fetch session on one partition, positioned at the offset to read next.
pub struct Tail {
    session: Session,
    version: i16,
    topic: String,
    partition: i32,
    next: i64,
}

/// When each record is due: record i at `i / rate` seconds after the run's origin.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Records per second.
    pub rate: f64,
    /// Records per batch.
    pub batch: usize,
}

impl Schedule {
    /// When record `i` is due, in nanoseconds after the origin.
    pub fn due_ns(&self, i: u64) -> u64 {
        (i as f64 * 1e9 / self.rate) as u64
    }

    /// When batch `k` is complete (its last record is due), in nanoseconds after the origin.
    pub fn batch_due_ns(&self, k: u64) -> u64 {
        self.due_ns((k + 1) * self.batch as u64 - 1)
    }

    /// Record in `h` (and count in `head` when due before `head_until_ns`) the latency of
    /// records `first … last` (run-wide indexes) arriving at `arrived_ns`.
    pub fn record_arrivals(
        &self,
        first: u64,
        last: u64,
        arrived_ns: u64,
        head_until_ns: u64,
        h: &mut Histogram<u64>,
        head: &mut Histogram<u64>,
    ) {
        // Neighbouring records mostly fall in the same microsecond: record runs, not records.
        let mut run: Option<(u64, u64, bool)> = None;
        let mut put = |(us, n, in_head): (u64, u64, bool)| {
            let us = us.clamp(1, h.high());
            h.saturating_record_n(us, n);
            if in_head {
                head.saturating_record_n(us, n);
            }
        };
        for i in first..=last {
            let due = self.due_ns(i);
            let us = arrived_ns.saturating_sub(due) / 1_000;
            let in_head = due < head_until_ns;
            run = match run {
                Some((u, n, hd)) if u == us && hd == in_head => Some((u, n + 1, hd)),
                Some(prev) => {
                    put(prev);
                    Some((us, 1, in_head))
                }
                None => Some((us, 1, in_head)),
            };
        }
        if let Some(prev) = run {
            put(prev);
        }
    }
}

/// What [`Tail::read`] needs to know about the run.
pub struct ReadPlan<'a> {
    /// When each record is due.
    pub sched: Schedule,
    /// The run's time origin (due times count from here).
    pub origin: Instant,
    /// The offset of the run's first record.
    pub start: i64,
    /// Records the run sends.
    pub total: u64,
    /// Records due before this (ns after `origin`) also go to the head histogram.
    pub head_until: u64,
    /// Once `done` is set, how long to wait without a record before giving up.
    pub idle: Duration,
    /// Set when the producer has stopped (all answers in, or an error).
    pub done: &'a AtomicBool,
    /// The `--report-interval` window, when there is one.
    pub live: Option<&'a Window>,
}

/// What the consumer measured.
pub struct Received {
    /// End-to-end latency of every record read.
    pub latency: Histogram<u64>,
    /// The same for records due during the head of the run.
    pub head: Histogram<u64>,
    /// Records read.
    pub records: u64,
    /// When the last one arrived, after the origin.
    pub last: Duration,
}

impl Tail {
    /// Connect to the leader at `addr` and position at the partition's end offset.
    pub fn open(addr: &str, topic: &str, partition: i32) -> Result<Tail, String> {
        let mut session = Session::connect(addr)?;
        let version = session.version(ApiKey::Fetch, 4, 12)?;
        let lv = session.version(ApiKey::ListOffsets, 1, 7)?;
        let mut p = ListOffsetsPartition::default();
        p.partition_index = partition;
        p.timestamp = -1;
        let mut t = ListOffsetsTopic::default();
        t.name = TopicName(StrBytes::from_string(topic.to_owned()));
        t.partitions.push(p);
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.topics.push(t);
        let (corr, frame) = session.exchange(ApiKey::ListOffsets, lv, &req)?;
        let resp: ListOffsetsResponse =
            weir_protocol::client::decode_response(ApiKey::ListOffsets, lv, corr, frame)
                .map_err(|e| format!("ListOffsets: {e}"))?;
        let p = resp
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .next()
            .ok_or("ListOffsets: an answer without the partition")?;
        if p.error_code != 0 {
            return Err(format!("ListOffsets: {}", code_name(p.error_code)));
        }
        Ok(Tail {
            session,
            version,
            topic: topic.to_owned(),
            partition,
            next: p.offset,
        })
    }

    /// The offset the next record will have.
    pub fn next_offset(&self) -> i64 {
        self.next
    }

    fn request(&self) -> FetchRequest {
        let mut fp = FetchPartition::default();
        fp.partition = self.partition;
        fp.fetch_offset = self.next;
        fp.partition_max_bytes = 8 << 20;
        let mut t = FetchTopic::default();
        t.topic = TopicName(StrBytes::from_string(self.topic.clone()));
        t.partitions.push(fp);
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = 500;
        req.min_bytes = 1;
        req.max_bytes = 52_428_800;
        req.session_epoch = -1;
        req.topics.push(t);
        req
    }

    /// The records set of one Fetch answer.
    fn records(&self, corr: i32, frame: Bytes) -> Result<Bytes, String> {
        let resp: FetchResponse =
            weir_protocol::client::decode_response(ApiKey::Fetch, self.version, corr, frame)
                .map_err(|e| format!("Fetch: {e}"))?;
        if resp.error_code != 0 {
            return Err(format!("Fetch: {}", code_name(resp.error_code)));
        }
        let p = resp
            .responses
            .into_iter()
            .flat_map(|t| t.partitions.into_iter())
            .next()
            .ok_or("Fetch: an answer without the partition")?;
        if p.error_code != 0 {
            return Err(format!("Fetch: {}", code_name(p.error_code)));
        }
        Ok(p.records.unwrap_or_default())
    }

    /// Read until every record of the plan arrived, or until `plan.idle` passes without one
    /// after the producer stopped.
    pub fn read(&mut self, plan: &ReadPlan<'_>) -> Result<Received, String> {
        let mut r = Received {
            latency: report::new_histogram(),
            head: report::new_histogram(),
            records: 0,
            last: Duration::ZERO,
        };
        let mut quiet_since: Option<Instant> = None;
        // The live window gets this run's latencies every 100 ms: merging histograms walks all
        // their buckets, too slow to do per answer at millions of records/s.
        let mut window = report::new_histogram();
        let (mut window_records, mut window_since) = (0u64, Instant::now());
        while r.records < plan.total {
            let req = self.request();
            let (corr, frame) = self.session.exchange(ApiKey::Fetch, self.version, &req)?;
            let arrived = plan.origin.elapsed();
            let set = self.records(corr, frame)?;
            let before = r.records;
            let mut pos = 0usize;
            while set.len() - pos >= HEADER_LEN {
                let h = BatchHeader::parse(&set[pos..]).map_err(|e| e.to_string())?;
                if set.len() - pos < h.total_len {
                    break;
                }
                pos += h.total_len;
                if h.last_offset() < self.next {
                    continue;
                }
                let first = (h.base_offset.max(self.next) - plan.start) as u64;
                let last = (h.last_offset() - plan.start) as u64;
                let arrived_ns = arrived.as_nanos() as u64;
                let hist = if plan.live.is_some() {
                    &mut window
                } else {
                    &mut r.latency
                };
                plan.sched.record_arrivals(
                    first,
                    last,
                    arrived_ns,
                    plan.head_until,
                    hist,
                    &mut r.head,
                );
                r.records += last - first + 1;
                self.next = h.next_offset();
            }
            window_records += r.records - before;
            let due = r.records >= plan.total || window_since.elapsed() >= WINDOW_EVERY;
            if let Some(w) = plan.live.filter(|_| due && window_records > 0) {
                w.add(window_records, &window);
                r.latency.add(&window).map_err(|e| e.to_string())?;
                window.reset();
                (window_records, window_since) = (0, Instant::now());
            }
            if r.records > before {
                r.last = arrived;
                quiet_since = None;
            } else if plan.done.load(Ordering::Acquire)
                && quiet_since.get_or_insert_with(Instant::now).elapsed() >= plan.idle
            {
                break;
            }
        }
        if window_records > 0 {
            r.latency.add(&window).map_err(|e| e.to_string())?;
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_due_when_their_last_record_is() {
        let s = Schedule {
            rate: 1000.0,
            batch: 10,
        };
        assert_eq!(s.due_ns(0), 0);
        assert_eq!(s.due_ns(1), 1_000_000);
        assert_eq!(s.batch_due_ns(0), 9_000_000);
        assert_eq!(s.batch_due_ns(2), 29_000_000);
    }

    #[test]
    fn each_record_counts_from_its_own_due_time() {
        let s = Schedule {
            rate: 1000.0,
            batch: 10,
        };
        let (mut h, mut head) = (report::new_histogram(), report::new_histogram());
        // Records 0..=9 arrive 1 ms after the last one was due: 10 ms … 1 ms.
        s.record_arrivals(0, 9, 10_000_000, 5_000_000, &mut h, &mut head);
        assert_eq!(h.len(), 10);
        assert_eq!(h.max(), h.highest_equivalent(10_000));
        assert_eq!(h.min(), h.lowest_equivalent(1_000));
        // Records due before 5 ms (0..=4) are also the head's.
        assert_eq!(head.len(), 5);
        assert_eq!(head.min(), head.lowest_equivalent(6_000));
    }
}
