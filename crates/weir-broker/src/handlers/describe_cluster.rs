//! PLACEHOLDER written by engineer C1 so `dispatch` compiles; engineer C2 owns this file and
//! replaces it with the real DescribeCluster handler (same signature).

use std::sync::Arc;

use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse, RequestHeader};

use crate::broker::Broker;

/// Placeholder: answers an empty default response until C2's handler lands.
pub async fn handle(
    _broker: &Arc<Broker>,
    _header: &RequestHeader,
    _version: i16,
    _req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    DescribeClusterResponse::default()
}
