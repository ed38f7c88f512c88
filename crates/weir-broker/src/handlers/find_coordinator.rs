//! FindCoordinator (key 10): this broker coordinates every group (single node).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;

/// Group keys (key_type 0) are answered with this broker's advertised endpoint, after making
/// sure `__consumer_offsets` exists; v0–v3 carry one `key`, v4+ a batch of `coordinator_keys`.
/// Transaction keys (key_type 1) get COORDINATOR_NOT_AVAILABLE (15): Weir has no transaction
/// coordinator yet. An empty group id gets INVALID_REQUEST (42).
pub async fn handle(
    broker: &Arc<Broker>,
    _header: &RequestHeader,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let (host, port) = broker.advertised_endpoint();
    let node = broker.config.node_id;
    let offsets_topic = if req.key_type == 0 {
        crate::groups::store::ensure_offsets_topic(broker).await
    } else {
        Ok(0)
    };
    let answer = |key: &str| -> (i16, Option<String>) {
        if req.key_type != 0 {
            return (
                ResponseError::CoordinatorNotAvailable.code(),
                Some("Weir has no transaction coordinator yet".into()),
            );
        }
        if key.is_empty() {
            return (
                ResponseError::InvalidRequest.code(),
                Some("empty group id".into()),
            );
        }
        match &offsets_topic {
            Ok(_) => (0, None),
            Err(e) => (
                ResponseError::CoordinatorNotAvailable.code(),
                Some(e.message()),
            ),
        }
    };
    let mut resp = FindCoordinatorResponse::default();
    if version < 4 {
        let (code, msg) = answer(&req.key);
        resp.error_code = code;
        resp.error_message = msg.map(StrBytes::from_string);
        let ok = code == 0;
        resp.node_id = (if ok { node } else { -1 }).into();
        resp.host = StrBytes::from_string(if ok { host } else { String::new() });
        resp.port = if ok { port } else { -1 };
        return resp;
    }
    resp.coordinators = req
        .coordinator_keys
        .iter()
        .map(|key| {
            let (code, msg) = answer(key);
            let ok = code == 0;
            let mut c = Coordinator::default();
            c.key = key.clone();
            c.node_id = (if ok { node } else { -1 }).into();
            c.host = StrBytes::from_string(if ok { host.clone() } else { String::new() });
            c.port = if ok { port } else { -1 };
            c.error_code = code;
            c.error_message = msg.map(StrBytes::from_string);
            c
        })
        .collect();
    resp
}
