//! GetTelemetrySubscriptions (key 71, KIP-714): Weir has no client-metrics subscriptions, so it
//! answers as Kafka does when none matches a client: an empty `requested_metrics` (the client
//! then pushes nothing), the default push interval, and a client instance id — the client's
//! own, or a new one when it sent the zero uuid.

use kafka_protocol::messages::{
    GetTelemetrySubscriptionsRequest, GetTelemetrySubscriptionsResponse,
};

/// The subscription id of the empty subscription (Weir has no other).
pub const EMPTY_SUBSCRIPTION_ID: i32 = 0;
/// Kafka's default push interval of a client with no matching subscription (5 minutes).
pub const PUSH_INTERVAL_MS: i32 = 300_000;
/// Kafka's `telemetry.max.bytes` default: the largest PushTelemetry payload accepted.
pub const TELEMETRY_MAX_BYTES: i32 = 1_048_576;
/// Compression types a push may use (Kafka's list: zstd, lz4, gzip, snappy).
pub const ACCEPTED_COMPRESSION: &[i8] = &[4, 3, 1, 2];

/// Answer with the empty subscription.
pub async fn handle(
    _version: i16,
    req: GetTelemetrySubscriptionsRequest,
) -> GetTelemetrySubscriptionsResponse {
    let mut resp = GetTelemetrySubscriptionsResponse::default();
    resp.client_instance_id = if req.client_instance_id.is_nil() {
        uuid::Uuid::new_v4()
    } else {
        req.client_instance_id
    };
    resp.subscription_id = EMPTY_SUBSCRIPTION_ID;
    resp.accepted_compression_types = ACCEPTED_COMPRESSION.to_vec();
    resp.push_interval_ms = PUSH_INTERVAL_MS;
    resp.telemetry_max_bytes = TELEMETRY_MAX_BYTES;
    resp.delta_temporality = true;
    resp.requested_metrics = Vec::new();
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_client_gets_an_id_and_the_empty_subscription() {
        let fresh = handle(0, GetTelemetrySubscriptionsRequest::default()).await;
        assert!(!fresh.client_instance_id.is_nil());
        assert_eq!(fresh.error_code, 0);
        assert!(fresh.requested_metrics.is_empty());
        assert_eq!(fresh.push_interval_ms, PUSH_INTERVAL_MS);
        let mut again = GetTelemetrySubscriptionsRequest::default();
        again.client_instance_id = fresh.client_instance_id;
        let resp = handle(0, again).await;
        assert_eq!(resp.client_instance_id, fresh.client_instance_id);
    }
}
