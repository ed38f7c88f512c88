//! ApiVersions (key 18): the supported version ranges from `weir_protocol::versions`.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::{FinalizedFeatureKey, SupportedFeatureKey};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;
use weir_meta::image::MetadataImage;

/// Answer with every API and version range Weir serves (`weir_protocol::versions::SUPPORTED`),
/// throttle 0, and (v3+, Kafka's DescribeFeatures) the `transaction.version` feature: supported
/// 0–2, finalized at the level UpdateFeatures set in the metadata, else at `transaction_version`
/// (Weir's `transaction.version` config; level 0 is not listed as finalized, as Kafka). Level 2 makes Java clients 4.x use KIP-890 transactions. From v3 on, a client software name or version that does not match
/// Kafka's pattern `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?` gets INVALID_REQUEST (42) with
/// no API list, as Kafka answers.
///
/// v5 (KIP-1242): a client names the cluster and node it means to reach (`ClusterId`, `NodeId`),
/// both or neither — one without the other is INVALID_REQUEST. When a named cluster is not
/// `cluster_id` or the node is not `node_id`, the answer is REBOOTSTRAP_REQUIRED (129) with no
/// API list (the client rebootstraps), as Kafka's `KafkaApis.handleApiVersionsRequest`.
pub async fn handle(
    transaction_version: i16,
    image: &MetadataImage,
    cluster_id: &str,
    node_id: i32,
    version: i16,
    req: ApiVersionsRequest,
) -> ApiVersionsResponse {
    if let Some(error) = refusal(cluster_id, node_id, version, &req) {
        let mut resp = ApiVersionsResponse::default();
        resp.error_code = error.code();
        resp.throttle_time_ms = 0;
        return resp;
    }
    let mut resp = weir_protocol::versions::api_versions_response(0);
    resp.throttle_time_ms = 0;
    if version >= 3 {
        for &(name, min, max) in SUPPORTED_FEATURES {
            let mut s = SupportedFeatureKey::default();
            s.name = StrBytes::from_static_str(name);
            s.min_version = min;
            s.max_version = max;
            resp.supported_features.push(s);
            let level = finalized_level(transaction_version, image, name);
            if level > 0 {
                let mut f = FinalizedFeatureKey::default();
                f.name = StrBytes::from_static_str(name);
                f.min_version_level = level;
                f.max_version_level = level;
                resp.finalized_features.push(f);
            }
        }
        resp.finalized_features_epoch = 1 + image.features_epoch;
    }
    resp
}

/// The cluster features Weir knows, with the levels it supports: (name, min, max).
pub const SUPPORTED_FEATURES: &[(&str, i16, i16)] = &[("transaction.version", 0, 2)];

/// The finalized level of feature `name`: set through UpdateFeatures (the metadata image), else
/// the static one (`transaction.version` from the broker config; 0 = not finalized).
pub fn finalized_level(transaction_version: i16, image: &MetadataImage, name: &str) -> i16 {
    match image.finalized_features.get(name) {
        Some(l) => *l,
        None if image.features_epoch > 0 => 0,
        None if name == "transaction.version" => transaction_version,
        None => 0,
    }
}

/// Why Kafka would refuse this request (`ApiVersionsRequest.isValid`, then the v5 cluster and
/// node check), or None.
fn refusal(
    cluster_id: &str,
    node_id: i32,
    version: i16,
    req: &ApiVersionsRequest,
) -> Option<ResponseError> {
    if version >= 5 && req.cluster_id.is_some() != (req.node_id != -1) {
        return Some(ResponseError::InvalidRequest);
    }
    if version >= 3
        && !(valid_software_field(&req.client_software_name)
            && valid_software_field(&req.client_software_version))
    {
        return Some(ResponseError::InvalidRequest);
    }
    match &req.cluster_id {
        Some(c) if version >= 5 && (c.as_str() != cluster_id || req.node_id != node_id) => {
            Some(ResponseError::RebootstrapRequired)
        }
        _ => None,
    }
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
    use super::*;

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

    fn v5(cluster: Option<&str>, node: i32) -> ApiVersionsRequest {
        let mut r = ApiVersionsRequest::default();
        r.client_software_name = StrBytes::from_static_str("t");
        r.client_software_version = StrBytes::from_static_str("1");
        r.cluster_id = cluster.map(|c| StrBytes::from_string(c.to_string()));
        r.node_id = node;
        r
    }

    #[test]
    fn v5_cluster_and_node_checks() {
        let refuse = |v, r: &ApiVersionsRequest| refusal("c1", 3, v, r);
        assert_eq!(refuse(5, &v5(None, -1)), None);
        assert_eq!(refuse(5, &v5(Some("c1"), 3)), None);
        assert_eq!(
            refuse(5, &v5(Some("c2"), 3)),
            Some(ResponseError::RebootstrapRequired)
        );
        assert_eq!(
            refuse(5, &v5(Some("c1"), 4)),
            Some(ResponseError::RebootstrapRequired)
        );
        assert_eq!(
            refuse(5, &v5(Some("c1"), -1)),
            Some(ResponseError::InvalidRequest)
        );
        assert_eq!(refuse(5, &v5(None, 3)), Some(ResponseError::InvalidRequest));
        // v4 has no such fields: whatever a caller left in them is not looked at.
        assert_eq!(refuse(4, &v5(Some("c2"), 3)), None);
    }
}
