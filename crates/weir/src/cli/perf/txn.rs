//! Transactions in `weir perf produce` (`--transactional-id`): each client sends its records in
//! transactions of `--transaction-size` records or `--transaction-duration-ms` (like Kafka's
//! `kafka-producer-perf-test.sh --transactional-id --transaction-duration-ms`), and the time of
//! every commit call is recorded.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::producer::{Producer, ThreadedProducer};

use super::acks::Acks;
use super::report::{self, Latency};
use crate::cli::admin::client_error;

/// How long init, commit and abort calls may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);

/// When a transaction is committed: after `size` records or `duration`, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnPolicy {
    /// Records per transaction.
    pub size: Option<u64>,
    /// Longest time a transaction stays open.
    pub duration: Option<Duration>,
}

impl TxnPolicy {
    /// The policy of the flags: Kafka's perf tool commits every 3000 ms when only a
    /// transactional id is given.
    pub fn new(size: Option<u64>, duration_ms: Option<u64>) -> TxnPolicy {
        let duration = duration_ms.map(Duration::from_millis);
        match (size, duration) {
            (None, None) => TxnPolicy {
                size: None,
                duration: Some(Duration::from_millis(3000)),
            },
            _ => TxnPolicy { size, duration },
        }
    }

    /// Whether a transaction with `records` records, open for `open_for`, is due for commit.
    pub fn due(&self, records: u64, open_for: Duration) -> bool {
        self.size.is_some_and(|n| records >= n) || self.duration.is_some_and(|d| open_for >= d)
    }
}

/// The transactional id of client `i` of `clients`: `id` itself for a single client, `id-i`
/// otherwise (two producers with one id would fence each other).
pub fn client_id(id: &str, i: usize, clients: usize) -> String {
    if clients == 1 {
        id.to_string()
    } else {
        format!("{id}-{i}")
    }
}

/// One client's transaction loop state.
pub(super) struct Txn<'a> {
    producer: &'a ThreadedProducer<Acks>,
    policy: TxnPolicy,
    /// Records in the open transaction; None when no transaction is open.
    open: Option<(u64, Instant)>,
    /// Committed transactions.
    pub commits: u64,
    /// Duration of each commit call, µs.
    pub latency: Histogram<u64>,
}

impl<'a> Txn<'a> {
    /// Initialise transactions on `producer` (InitProducerId; fences an older producer with the
    /// same transactional id).
    pub fn init(
        producer: &'a ThreadedProducer<Acks>,
        policy: TxnPolicy,
    ) -> Result<Txn<'a>, String> {
        producer
            .init_transactions(TXN_TIMEOUT)
            .map_err(|e| client_error("init transactions", e))?;
        Ok(Txn {
            producer,
            policy,
            open: None,
            commits: 0,
            latency: report::new_histogram(),
        })
    }

    /// Call before sending a record: begins a transaction unless one is open.
    pub fn before_send(&mut self) -> Result<(), String> {
        if self.open.is_none() {
            self.producer
                .begin_transaction()
                .map_err(|e| self.fail("begin transaction", e))?;
            self.open = Some((0, Instant::now()));
        }
        Ok(())
    }

    /// Call after a record was handed to the producer: commits when the transaction is due.
    pub fn after_send(&mut self) -> Result<(), String> {
        if let Some((n, since)) = self.open.as_mut() {
            *n += 1;
            if self.policy.due(*n, since.elapsed()) {
                self.commit()?;
            }
        }
        Ok(())
    }

    /// Commit the open transaction, if any (at the end of the run).
    pub fn finish(&mut self) -> Result<(), String> {
        if self.open.is_some() {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), String> {
        let t = Instant::now();
        // The rdkafka crate's commit flushes by polling in 100 ms steps, and the polling thread
        // of the ThreadedProducer takes the delivery events away from that poll: every commit
        // would last at least 100 ms. Wait for the delivery reports here instead (the commit's
        // own flush then returns at once), so the latency measured is the broker's.
        let deadline = t + TXN_TIMEOUT;
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        self.producer
            .commit_transaction(TXN_TIMEOUT)
            .map_err(|e| self.fail("commit transaction", e))?;
        report::record(&mut self.latency, t.elapsed());
        self.commits += 1;
        self.open = None;
        Ok(())
    }

    /// The error of a failed transactional call, after aborting the transaction when the
    /// producer can still do so.
    fn fail(&mut self, what: &str, e: rdkafka::error::KafkaError) -> String {
        let msg = client_error(what, e);
        self.open = None;
        if self.producer.client().fatal_error().is_some() {
            return format!("{msg} (fatal: the producer cannot continue)");
        }
        match self.producer.abort_transaction(TXN_TIMEOUT) {
            Ok(()) => format!("{msg} (transaction aborted)"),
            Err(a) => format!("{msg} ({})", client_error("abort failed too", a)),
        }
    }
}

/// `N transactions committed, commit latency X ms avg, … ms 50th, … ms 99th`.
pub fn summary(commits: u64, latency: &Histogram<u64>) -> String {
    let l = Latency::from_histogram(latency);
    format!(
        "{commits} transactions committed, commit latency {:.2} ms avg, {:.2} ms 50th, \
         {:.2} ms 99th, {:.2} ms max",
        l.avg, l.p50, l.p99, l.max
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_end_at_size_or_duration() {
        let by_size = TxnPolicy::new(Some(100), None);
        assert!(!by_size.due(99, Duration::from_secs(3600)));
        assert!(by_size.due(100, Duration::ZERO));
        let by_time = TxnPolicy::new(None, Some(500));
        assert!(!by_time.due(1_000_000, Duration::from_millis(499)));
        assert!(by_time.due(1, Duration::from_millis(500)));
        let both = TxnPolicy::new(Some(10), Some(500));
        assert!(both.due(10, Duration::ZERO) && both.due(1, Duration::from_secs(1)));
        assert_eq!(
            TxnPolicy::new(None, None).duration,
            Some(Duration::from_millis(3000))
        );
    }

    #[test]
    fn each_client_has_its_own_transactional_id() {
        assert_eq!(client_id("perf", 0, 1), "perf");
        assert_eq!(client_id("perf", 2, 4), "perf-2");
    }

    #[test]
    fn summary_has_count_and_percentiles() {
        let mut h = report::new_histogram();
        for ms in 1..=100u64 {
            report::record(&mut h, Duration::from_millis(ms));
        }
        let s = summary(100, &h);
        assert!(s.starts_with("100 transactions committed"), "{s}");
        assert!(s.contains("50.0") && s.contains("99.0"), "{s}");
    }
}
