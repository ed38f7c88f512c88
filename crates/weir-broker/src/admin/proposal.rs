//! Committing one admin change through the metadata quorum within a request's deadline, so that
//! a controller change costs a retry, never a lost or double change: the proposal is retried
//! against the new leader until the deadline (`MetaNode::propose_within`); its outcome is then
//! decided by the image, not by the error. An attempt whose answer was lost may have committed,
//! and its retry then fails validation (TOPIC_ALREADY_EXISTS for our own topic id, say): when
//! the image shows the change (`done`), that is a success. Otherwise the error stands:
//! NOT_CONTROLLER or REQUEST_TIMED_OUT (both retriable) when the quorum did not answer in time.
//! A committed change that this broker has not finished applying by the deadline (thousands of
//! partition logs to create) is a success, as in Kafka, where CreateTopics succeeds once the
//! controller committed the topic and the partitions become available as brokers create them.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::time::Instant;
use weir_meta::image::MetadataImage;
use weir_meta::records::MetadataRecord;

use super::topics::TopicAdmin;
use crate::error::BrokerError;

/// The deadline of admin work that has no request timeout of its own (topic auto-creation, the
/// `__consumer_offsets` topic).
pub const DEFAULT_ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline of AlterConfigs / IncrementalAlterConfigs, which carry no timeout: answered
/// within it with success or REQUEST_TIMED_OUT / NOT_CONTROLLER.
pub const CONFIG_CHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a failed proposal waits for the local image to show that an earlier attempt of it
/// committed after all (bounded by the deadline).
const SETTLE: Duration = Duration::from_secs(1);

/// The deadline of a request with `timeout_ms` (Kafka's field; 0 or less means the default).
pub fn deadline_of(timeout_ms: i32) -> Instant {
    let timeout = u64::try_from(timeout_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_ADMIN_TIMEOUT);
    Instant::now() + timeout
}

impl TopicAdmin {
    /// Commit `records` by `deadline` and wait until the local image satisfies `done` (the
    /// change is visible here); see the module doc for how outcomes are decided.
    pub(super) async fn commit(
        &self,
        records: Vec<MetadataRecord>,
        deadline: Instant,
        done: impl Fn(&MetadataImage) -> bool,
    ) -> Result<(), BrokerError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(e) = self.quorum.propose_within(records, left).await {
            let settle = deadline.min(Instant::now() + SETTLE);
            if self.applier.await_image_until(&done, settle).await.is_err() {
                tracing::debug!(error = %e, "metadata proposal failed");
                return Err(e.into());
            }
            tracing::info!(error = %e, "a retried metadata proposal had committed before");
            return Ok(());
        }
        match self.applier.await_image_until(&done, deadline).await {
            // Committed and in the local image, but this broker is still applying it (creating
            // thousands of partition logs): a success, as Kafka answers once the controller
            // committed the change; the partitions become available as they are created.
            Err(e)
                if e.code() == ResponseError::RequestTimedOut.code()
                    && done(&self.view.image()) =>
            {
                tracing::info!("a committed metadata change is still being applied locally after the request's timeout: answered as done");
                Ok(())
            }
            r => r,
        }
    }
}
