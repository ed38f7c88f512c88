//! The producer context of `weir perf`: delivery reports counted and timed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;

use super::live::Window;
use super::report;
use crate::cli::admin::client_error;

/// A producer context that collects delivery reports: send-to-ack latency, counts, first error.
pub(super) struct Acks {
    /// Time origin of the run; send timestamps count from here.
    pub start: Instant,
    /// What the callbacks have seen so far.
    pub state: Mutex<AckState>,
    /// Acknowledgements of the current `--report-interval` (only when one is asked for).
    pub window: Option<Window>,
}

/// Counters behind [`Acks`].
pub(super) struct AckState {
    /// Send-to-acknowledgement latency, µs.
    pub latency: Histogram<u64>,
    /// Acknowledged records.
    pub acked: u64,
    /// Records that failed.
    pub failed: u64,
    /// The first delivery error, as one line.
    pub first_error: Option<String>,
    /// When (since `start`) the last acknowledgement arrived.
    pub last_ack: Duration,
}

impl Acks {
    /// Empty counters starting now.
    pub fn new() -> Acks {
        Acks::starting_at(Instant::now())
    }

    /// Empty counters whose time origin is `start` (shared by the clients of one run).
    pub fn starting_at(start: Instant) -> Acks {
        Acks {
            start,
            state: Mutex::new(AckState {
                latency: report::new_histogram(),
                acked: 0,
                failed: 0,
                first_error: None,
                last_ack: Duration::ZERO,
            }),
            window: None,
        }
    }

    /// Also count acknowledgements per `--report-interval` when `live` is true.
    pub fn with_window(mut self, live: bool) -> Acks {
        self.window = live.then(Window::default);
        self
    }

    /// How many records were acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.state.lock().map(|s| s.acked).unwrap_or(0)
    }
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    /// Nanoseconds since `start` at which the record was handed to librdkafka.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_at_ns: usize) {
        let now = self.start.elapsed();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(_) => {
                s.acked += 1;
                s.last_ack = now;
                let sent = Duration::from_nanos(sent_at_ns as u64);
                report::record(&mut s.latency, now.saturating_sub(sent));
                drop(s);
                if let Some(w) = &self.window {
                    w.record(now.saturating_sub(sent));
                }
            }
            Err((e, _)) => {
                s.failed += 1;
                if s.first_error.is_none() {
                    s.first_error = Some(client_error("delivery", e.clone()));
                }
            }
        }
    }
}
