//! DescribeCluster (key 60): cluster id, controller and this node's advertised endpoint.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;

/// Describe the (single-node) cluster. Only the brokers endpoint type (1) is served.
pub async fn handle(
    broker: &Arc<Broker>,
    _header: &RequestHeader,
    version: i16,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let mut resp = DescribeClusterResponse::default();
    resp.cluster_id = StrBytes::from_string(broker.cluster_id.clone());
    resp.controller_id = BrokerId(broker.client_visible_controller());
    resp.cluster_authorized_operations = i32::MIN;
    resp.endpoint_type = 1;
    if version >= 1 && req.endpoint_type != 1 {
        resp.error_code = ResponseError::UnsupportedEndpointType.code();
        resp.error_message = Some(StrBytes::from_static_str(
            "only broker endpoints are served",
        ));
        return resp;
    }
    resp.brokers = super::metadata::brokers(broker)
        .into_iter()
        .map(|m| {
            let mut b = DescribeClusterBroker::default();
            b.broker_id = m.node_id;
            b.host = m.host;
            b.port = m.port;
            b.rack = m.rack;
            b
        })
        .collect();
    resp
}
