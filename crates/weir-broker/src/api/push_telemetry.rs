//! PushTelemetry (key 72, KIP-714): client metrics are accepted and dropped (Weir has no
//! client-metrics subscriptions; `get_telemetry_subscriptions` hands out the empty one), after
//! Kafka's checks of the request: no client instance id → INVALID_REQUEST, another subscription
//! id → UNKNOWN_SUBSCRIPTION_ID, a compression type not offered → UNSUPPORTED_COMPRESSION_TYPE,
//! a payload over `telemetry.max.bytes` → TELEMETRY_TOO_LARGE. Weir keeps no per-client state,
//! so it does not refuse a push that comes before the push interval (Kafka's
//! THROTTLING_QUOTA_EXCEEDED).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{PushTelemetryRequest, PushTelemetryResponse};

use super::get_telemetry_subscriptions::{
    ACCEPTED_COMPRESSION, EMPTY_SUBSCRIPTION_ID, TELEMETRY_MAX_BYTES,
};

/// Check the push and drop its metrics.
pub async fn handle(_version: i16, req: PushTelemetryRequest) -> PushTelemetryResponse {
    let mut resp = PushTelemetryResponse::default();
    if let Some(e) = refusal(&req) {
        resp.error_code = e.code();
    }
    resp
}

fn refusal(req: &PushTelemetryRequest) -> Option<ResponseError> {
    if req.client_instance_id.is_nil() {
        return Some(ResponseError::InvalidRequest);
    }
    if req.subscription_id != EMPTY_SUBSCRIPTION_ID {
        return Some(ResponseError::UnknownSubscriptionId);
    }
    if req.compression_type != 0 && !ACCEPTED_COMPRESSION.contains(&req.compression_type) {
        return Some(ResponseError::UnsupportedCompressionType);
    }
    if req.metrics.len() > TELEMETRY_MAX_BYTES as usize {
        return Some(ResponseError::TelemetryTooLarge);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_checked_as_kafka_checks_them() {
        let mut ok = PushTelemetryRequest::default();
        ok.client_instance_id = uuid::Uuid::from_u128(7);
        ok.metrics = bytes::Bytes::from_static(b"opaque");
        assert_eq!(refusal(&ok), None);
        let mut r = ok.clone();
        r.client_instance_id = uuid::Uuid::nil();
        assert_eq!(refusal(&r), Some(ResponseError::InvalidRequest));
        let mut r = ok.clone();
        r.subscription_id = 5;
        assert_eq!(refusal(&r), Some(ResponseError::UnknownSubscriptionId));
        let mut r = ok.clone();
        r.compression_type = 9;
        assert_eq!(refusal(&r), Some(ResponseError::UnsupportedCompressionType));
        let mut r = ok;
        r.metrics = bytes::Bytes::from(vec![0u8; TELEMETRY_MAX_BYTES as usize + 1]);
        assert_eq!(refusal(&r), Some(ResponseError::TelemetryTooLarge));
    }
}
