//! DescribeCluster (key 60): cluster id, controller and this node's advertised endpoint.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;

use crate::config::BrokerConfig;
use crate::metadata::view::MetadataView;

/// The operations Kafka defines on the CLUSTER resource, as the bit field of their AclOperation
/// codes: CREATE (5), ALTER (7), DESCRIBE (8), CLUSTER_ACTION (9), DESCRIBE_CONFIGS (10),
/// ALTER_CONFIGS (11), IDEMPOTENT_WRITE (12) — 8096, what Kafka answers without an authorizer.
const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/// Describe the cluster. Endpoint type 1 (brokers): the registered brokers, and as controller
/// a live broker (see `Broker::client_visible_controller`). Endpoint type 2 (controllers,
/// KIP-919): the metadata log's voters (`controller.quorum.voters` until the log has addresses)
/// with their CONTROLLER addresses and the
/// active controller's id — note that Weir's CONTROLLER listener speaks its own Raft transport,
/// not the Kafka protocol. Other types: UNSUPPORTED_ENDPOINT_TYPE. Asked for the cluster's
/// authorized operations, every operation on the CLUSTER resource is authorized (no authorizer,
/// as Kafka without one). From v2 `include_fenced_brokers` adds the fenced brokers (KIP-1073).
pub async fn handle(
    view: &MetadataView,
    config: &BrokerConfig,
    cluster_id: &str,
    listener: &str,
    version: i16,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let mut resp = DescribeClusterResponse::default();
    resp.cluster_id = StrBytes::from_string(cluster_id.to_string());
    resp.controller_id = BrokerId(view.client_visible_controller());
    resp.cluster_authorized_operations = if req.include_cluster_authorized_operations {
        CLUSTER_OPERATIONS
    } else {
        i32::MIN
    };
    resp.endpoint_type = 1;
    if version >= 1 && req.endpoint_type == 2 {
        resp.endpoint_type = 2;
        resp.controller_id = BrokerId(
            view.active_controller()
                .and_then(|l| i32::try_from(l).ok())
                .unwrap_or(-1),
        );
        let mut voters = view.quorum_voters();
        if voters.is_empty() {
            voters = weir_meta::raft::node::parse_voters(&config.controller_quorum_voters)
                .unwrap_or_default();
        }
        resp.brokers = voters
            .into_iter()
            .filter_map(|(id, addr)| {
                let (host, port) = addr.rsplit_once(':')?;
                let mut b = DescribeClusterBroker::default();
                b.broker_id = BrokerId(i32::try_from(id).ok()?);
                b.host = StrBytes::from_string(host.to_string());
                b.port = port.parse().ok()?;
                Some(b)
            })
            .collect();
        return resp;
    }
    if version >= 1 && req.endpoint_type != 1 {
        resp.error_code = ResponseError::UnsupportedEndpointType.code();
        resp.error_message = Some(StrBytes::from_static_str(
            "only broker endpoints are served",
        ));
        return resp;
    }
    resp.brokers = super::metadata::brokers(view, listener)
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
    if version >= 2 && req.include_fenced_brokers {
        resp.brokers.extend(fenced_brokers(view, listener));
    }
    resp
}

/// The registered brokers the controller has fenced (v2, KIP-1073), with `is_fenced` set; a
/// broker without a registered listener is left out. Endpoints on `listener`, as for the others.
fn fenced_brokers(view: &MetadataView, listener: &str) -> Vec<DescribeClusterBroker> {
    let listed: Vec<i32> = super::metadata::brokers(view, listener)
        .iter()
        .map(|b| b.node_id.0)
        .collect();
    view.image()
        .brokers
        .values()
        .filter(|b| b.fenced && !listed.contains(&b.id))
        .filter_map(|r| {
            let ep = r
                .listeners
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(listener))
                .or_else(|| r.listeners.first())?;
            let mut b = DescribeClusterBroker::default();
            b.broker_id = BrokerId(r.id);
            b.host = StrBytes::from_string(ep.host.clone());
            b.port = i32::from(ep.port);
            b.rack = r.rack.clone().map(StrBytes::from_string);
            b.is_fenced = true;
            Some(b)
        })
        .collect()
}
