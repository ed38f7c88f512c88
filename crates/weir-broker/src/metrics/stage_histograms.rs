//! The names of the request-stage histograms and the handles registered per API (see
//! [`super::stages`], which records into them).

use metrics::Histogram;

/// From the whole request frame read off the socket to its dispatch (decoding, authentication
/// gate), per API (`RequestQueueTimeMs`; Weir has no request queue: the connection's own task
/// decodes and dispatches).
pub const REQUEST_QUEUE_TIME: &str = "kafka_network_requestmetrics_requestqueuetime_seconds";
/// The handler's own work, per API (`LocalTimeMs`): for a produce authorization, validation and
/// the appends into the segments; for a fetch the reads, without its long-poll wait.
pub const LOCAL_TIME: &str = "kafka_network_requestmetrics_localtime_seconds";
/// Waiting on others, Produce and Fetch only (`RemoteTimeMs`): a produce's replication wait
/// (durable here → the high watermark covers it; ~0 unless acks=all with followers), a fetch's
/// long-poll wait (parked → answered).
pub const REMOTE_TIME: &str = "kafka_network_requestmetrics_remotetime_seconds";
/// From the handler's answer to the connection's writer starting to write it: encoding and
/// waiting behind earlier responses of the same connection (`ResponseQueueTimeMs`).
pub const RESPONSE_QUEUE_TIME: &str = "kafka_network_requestmetrics_responsequeuetime_seconds";
/// Writing the response into the socket (`ResponseSendTimeMs`).
pub const RESPONSE_SEND_TIME: &str = "kafka_network_requestmetrics_responsesendtime_seconds";
/// Weir-specific: a produce's wait from its appends being done to every appended batch being
/// durable (its group-commit fdatasync; acks 0, 1 and all alike).
pub const FSYNC_WAIT: &str = "weir_produce_fsync_wait_seconds";
/// Weir-specific: from the high-watermark advance (consumers) or leader append (followers) that
/// satisfies a parked fetch to the fetch running again, label `fetcher` (`consumer`,
/// `follower`). Measured from the latest such event before the fetch ran: when several come
/// between the wake-up and the run (high rates), it is a lower bound.
pub const FETCH_WAKEUP: &str = "weir_fetch_wakeup_delay_seconds";

/// The handles of one API's stage histograms (registered once per API, lazily).
pub(super) struct StageHistograms {
    pub(super) queue: Histogram,
    pub(super) local: Histogram,
    /// Produce and Fetch only (no other handler reports a remote stage).
    pub(super) remote: Option<Histogram>,
    pub(super) response_queue: Histogram,
    pub(super) send: Histogram,
}

impl StageHistograms {
    /// Register the stage histograms of the API called `name`.
    pub(super) fn new(name: &str) -> Self {
        StageHistograms {
            queue: metrics::histogram!(REQUEST_QUEUE_TIME, "request" => name.to_string()),
            local: metrics::histogram!(LOCAL_TIME, "request" => name.to_string()),
            remote: matches!(name, "Produce" | "Fetch")
                .then(|| metrics::histogram!(REMOTE_TIME, "request" => name.to_string())),
            response_queue: metrics::histogram!(RESPONSE_QUEUE_TIME, "request" => name.to_string()),
            send: metrics::histogram!(RESPONSE_SEND_TIME, "request" => name.to_string()),
        }
    }
}
