//! FindCoordinator (key 10): Weir has no group or transaction coordinator yet.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;

/// The error message sent with every answer.
pub const NOT_IMPLEMENTED: &str =
    "Weir does not implement consumer groups or transactions yet: no coordinator is available";

/// Answer COORDINATOR_NOT_AVAILABLE (15) for every key: v0–v3 for the single `key`, v4+ one
/// entry per `coordinator_keys`. Node id -1, empty host, port -1.
///
/// Deviation: a Kafka broker would host the coordinator; Weir's consumer groups come with a
/// later issue, so clients must use manual partition assignment until then.
pub async fn handle(
    _broker: &Arc<Broker>,
    _header: &RequestHeader,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let code = ResponseError::CoordinatorNotAvailable.code();
    let mut resp = FindCoordinatorResponse::default();
    resp.throttle_time_ms = 0;
    if version < 4 {
        resp.error_code = code;
        resp.error_message = Some(StrBytes::from_static_str(NOT_IMPLEMENTED));
        resp.node_id = (-1).into();
        resp.host = StrBytes::from_static_str("");
        resp.port = -1;
        return resp;
    }
    resp.coordinators = req
        .coordinator_keys
        .into_iter()
        .map(|key| {
            let mut c = Coordinator::default();
            c.key = key;
            c.node_id = (-1).into();
            c.host = StrBytes::from_static_str("");
            c.port = -1;
            c.error_code = code;
            c.error_message = Some(StrBytes::from_static_str(NOT_IMPLEMENTED));
            c
        })
        .collect();
    resp
}
