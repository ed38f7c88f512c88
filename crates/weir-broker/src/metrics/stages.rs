//! Where a request's time goes: one histogram per stage of the request pipeline, per API, named
//! after Kafka's `RequestMetrics` (`RequestQueueTimeMs`, `LocalTimeMs`, `RemoteTimeMs`,
//! `ResponseQueueTimeMs`, `ResponseSendTimeMs`, `TotalTimeMs`), plus two stages Kafka has no
//! metric for: a produce's wait for its fsync and a parked fetch's wake-up delay.
//!
//! For a request, `total ≈ request queue + local + remote + response queue + response send`, and
//! for a produce `remote` is preceded by the fsync wait (docs/operations.md, "Metrics";
//! docs/benchmarks.md, "Where the time goes"). One sample per stage and request (never per
//! record); a broker without a recorder pays one relaxed load per stage.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics::Histogram;

use super::{api_metrics, enabled};

use super::stage_histograms::StageHistograms;
pub use super::stage_histograms::{
    FETCH_WAKEUP, FSYNC_WAIT, LOCAL_TIME, REMOTE_TIME, REQUEST_QUEUE_TIME, RESPONSE_QUEUE_TIME,
    RESPONSE_SEND_TIME,
};

fn stages(api_key: i16) -> Option<&'static StageHistograms> {
    if !enabled() {
        return None;
    }
    api_metrics(api_key).map(|m| &m.stages)
}

/// A request of API `api_key` was read off the socket at `received` and dispatched now-ish at
/// `dispatched`.
pub fn dispatched(api_key: i16, received: Instant, dispatched: Instant) {
    if let Some(s) = stages(api_key) {
        s.queue
            .record(dispatched.saturating_duration_since(received).as_secs_f64());
    }
}

/// The handler of a request of API `api_key` worked `local` itself (its waits excluded).
pub fn local(api_key: i16, local: Duration) {
    if let Some(s) = stages(api_key) {
        s.local.record(local.as_secs_f64());
    }
}

/// A request of API `api_key` (Produce or Fetch) waited `remote` for others (replication, a
/// long poll).
pub fn remote(api_key: i16, remote: Duration) {
    if let Some(s) = stages(api_key) {
        if let Some(h) = &s.remote {
            h.record(remote.as_secs_f64());
        }
    }
}

/// A produce's appends were done at `appended` and durable at `durable`.
pub fn fsync_wait(appended: Instant, durable: Instant) {
    if !enabled() {
        return;
    }
    static H: OnceLock<Histogram> = OnceLock::new();
    H.get_or_init(|| metrics::histogram!(FSYNC_WAIT))
        .record(durable.saturating_duration_since(appended).as_secs_f64());
}

/// A parked fetch (a consumer's, or a follower's) was satisfied by the data event at
/// `notified` and runs again at `resumed`.
pub fn fetch_woken(follower: bool, notified: Instant, resumed: Instant) {
    if !enabled() {
        return;
    }
    static H: OnceLock<[Histogram; 2]> = OnceLock::new();
    let [consumer, follow] = H.get_or_init(|| {
        [
            metrics::histogram!(FETCH_WAKEUP, "fetcher" => "consumer"),
            metrics::histogram!(FETCH_WAKEUP, "fetcher" => "follower"),
        ]
    });
    let h = if follower { follow } else { consumer };
    h.record(resumed.saturating_duration_since(notified).as_secs_f64());
}

/// The clock of one dispatched request's response: when the request was read and when its
/// answer was ready; the connection's writer finishes it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseClock {
    api_key: i16,
    received: Instant,
    ready: Instant,
}

impl ResponseClock {
    /// The answer of a request of API `api_key`, read at `received`, is ready now.
    pub fn ready(api_key: i16, received: Instant) -> Self {
        ResponseClock {
            api_key,
            received,
            ready: Instant::now(),
        }
    }

    /// The writer started writing the response at `started` and finished now: records the
    /// response queue and send times, the total time and the request count.
    pub fn sent(self, started: Instant) {
        let done = Instant::now();
        if let Some(s) = stages(self.api_key) {
            s.response_queue
                .record(started.saturating_duration_since(self.ready).as_secs_f64());
            s.send
                .record(done.saturating_duration_since(started).as_secs_f64());
        }
        super::request_done(self.api_key, done.saturating_duration_since(self.received));
    }

    /// Nothing is sent for this request (acks=0, or it closes the connection): the total time
    /// ends when the answer was ready.
    pub fn unsent(self) {
        super::request_done(
            self.api_key,
            self.ready.saturating_duration_since(self.received),
        );
    }
}
