//! ApiVersions (key 18): the supported version ranges from `weir_protocol::versions`.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::{FinalizedFeatureKey, SupportedFeatureKey};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;

/// Answer with every API and version range Weir serves (`weir_protocol::versions::SUPPORTED`),
/// throttle 0, and (v3+) the `transaction.version` feature: supported 0–2, finalized at
/// `transaction_version` (Weir's `transaction.version` config; Kafka sets it with
/// `kafka-features.sh`). Level 2 makes Java clients 4.x use KIP-890 transactions. From v3 on, a client software name or version that does not match
/// Kafka's pattern `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?` gets INVALID_REQUEST (42) with
/// no API list, as Kafka answers.
pub async fn handle(
    transaction_version: i16,
    version: i16,
    req: ApiVersionsRequest,
) -> ApiVersionsResponse {
    if version >= 3
        && !(valid_software_field(&req.client_software_name)
            && valid_software_field(&req.client_software_version))
    {
        let mut resp = ApiVersionsResponse::default();
        resp.error_code = ResponseError::InvalidRequest.code();
        return resp;
    }
    let mut resp = weir_protocol::versions::api_versions_response(0);
    resp.throttle_time_ms = 0;
    if version >= 3 {
        let name = StrBytes::from_static_str("transaction.version");
        let mut s = SupportedFeatureKey::default();
        s.name = name.clone();
        s.min_version = 0;
        s.max_version = 2;
        resp.supported_features = vec![s];
        let mut f = FinalizedFeatureKey::default();
        f.name = name;
        f.min_version_level = transaction_version;
        f.max_version_level = transaction_version;
        resp.finalized_features = vec![f];
        resp.finalized_features_epoch = 1;
    }
    resp
}

/// Kafka's `ApiVersionsRequest.isValid` pattern for client software name and version.
fn valid_software_field(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
}

#[cfg(test)]
mod tests {
    use super::valid_software_field;

    #[test]
    fn software_field_pattern() {
        assert!(valid_software_field("librdkafka"));
        assert!(valid_software_field("2.3.0"));
        assert!(valid_software_field("apache-kafka-java"));
        assert!(valid_software_field("a"));
        assert!(!valid_software_field(""));
        assert!(!valid_software_field("-x"));
        assert!(!valid_software_field("x."));
        assert!(!valid_software_field("a b"));
    }
}
