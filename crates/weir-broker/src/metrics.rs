//! Hot-path metrics of the broker, recorded through the `metrics` facade: cheap atomic counters
//! and histograms, and nothing when no recorder is installed (the binary installs the Prometheus
//! one when the HTTP listener is on; see docs/operations.md for names and meanings).
//!
//! Gauges that describe state (partition counts, log sizes, lag, Raft) are not kept here: the
//! HTTP side computes them from the services at scrape time.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};

mod stage_histograms;
pub mod stages;

/// Records appended by produce requests, per topic (Kafka's `MessagesInPerSec`).
pub const MESSAGES_IN: &str = "kafka_server_brokertopicmetrics_messagesin_total";
/// Record-batch bytes appended by produce requests, per topic (`BytesInPerSec`).
pub const BYTES_IN: &str = "kafka_server_brokertopicmetrics_bytesin_total";
/// Record bytes returned to consumers by fetches, per topic (`BytesOutPerSec`, replication
/// excluded as in Kafka).
pub const BYTES_OUT: &str = "kafka_server_brokertopicmetrics_bytesout_total";
/// Requests handled, per API (`RequestMetrics RequestsPerSec`).
pub const REQUESTS: &str = "kafka_network_requestmetrics_requests_total";
/// Time from a request read off the socket to its response written (or, with no response, to its
/// answer being ready), per API, in seconds (`TotalTimeMs`; its stages are in [`stages`]).
pub const REQUEST_TIME: &str = "kafka_network_requestmetrics_totaltime_seconds";
/// ISR shrinks of partitions this broker leads, as applied from the metadata log (its own
/// AlterPartition or the controller fencing a broker) (`IsrShrinksPerSec`).
pub const ISR_SHRINKS: &str = "kafka_server_replicamanager_isrshrinks_total";
/// ISR expansions of partitions this broker leads, as applied (`IsrExpandsPerSec`).
pub const ISR_EXPANDS: &str = "kafka_server_replicamanager_isrexpands_total";

/// Connections open on the client listeners now (read at scrape time).
static ACTIVE_CONNECTIONS: AtomicI64 = AtomicI64::new(0);

/// Set once a recorder is installed ([`enable`]): until then the per-topic helpers return before
/// building their labels, so a broker without metrics pays one relaxed load per event.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Record from now on (call right after installing a `metrics` recorder).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Kafka API keys go up to 92 today; keys beyond this share no per-API series.
const MAX_API_KEY: usize = 128;

/// Per-API handles, created once (the registry lookup is paid once per API, not per request).
struct ApiMetrics {
    requests: Counter,
    time: Histogram,
    stages: stage_histograms::StageHistograms,
}

fn api_metrics(api_key: i16) -> Option<&'static ApiMetrics> {
    static TABLE: OnceLock<Vec<OnceLock<ApiMetrics>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| (0..MAX_API_KEY).map(|_| OnceLock::new()).collect());
    let slot = table.get(usize::try_from(api_key).ok()?)?;
    Some(slot.get_or_init(|| {
        let name = kafka_protocol::messages::ApiKey::try_from(api_key)
            .map(|k| format!("{k:?}"))
            .unwrap_or_else(|_| format!("ApiKey{api_key}"));
        ApiMetrics {
            requests: metrics::counter!(REQUESTS, "request" => name.clone()),
            time: metrics::histogram!(REQUEST_TIME, "request" => name.clone()),
            stages: stage_histograms::StageHistograms::new(&name),
        }
    }))
}

/// A request of API `api_key` finished after `elapsed` (see [`stages::ResponseClock`]).
pub fn request_done(api_key: i16, elapsed: Duration) {
    if !enabled() {
        return;
    }
    if let Some(m) = api_metrics(api_key) {
        m.requests.increment(1);
        m.time.record(elapsed.as_secs_f64());
    }
}

/// A produce appended `records` records (`bytes` of record batches) to `topic` as leader.
pub fn produced(topic: &str, records: u64, bytes: u64) {
    if !enabled() {
        return;
    }
    metrics::counter!(MESSAGES_IN, "topic" => topic.to_string()).increment(records);
    metrics::counter!(BYTES_IN, "topic" => topic.to_string()).increment(bytes);
}

/// A consumer fetch returned `bytes` of records of `topic`.
pub fn fetched(topic: &str, bytes: u64) {
    if !enabled() {
        return;
    }
    metrics::counter!(BYTES_OUT, "topic" => topic.to_string()).increment(bytes);
}

/// The applied metadata shows the ISR of a partition this broker kept leading shrink or grow.
pub fn isr_changed(shrink: bool) {
    if !enabled() {
        return;
    }
    metrics::counter!(if shrink { ISR_SHRINKS } else { ISR_EXPANDS }).increment(1);
}

/// Counts one open client connection until dropped.
#[derive(Debug)]
pub struct ConnectionGuard(());

impl ConnectionGuard {
    /// Count a connection that was just accepted.
    pub fn open() -> Self {
        ACTIVE_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(())
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        ACTIVE_CONNECTIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Client connections open now (every client listener of this process).
pub fn active_connections() -> i64 {
    ACTIVE_CONNECTIONS.load(Ordering::Relaxed)
}
