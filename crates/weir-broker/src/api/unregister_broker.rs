//! UnregisterBroker (key 64): remove a shut-down broker's registration from the metadata (an
//! operator decommissioning a node). Unknown id → BROKER_ID_NOT_REGISTERED; a broker that is
//! still active (unfenced, heartbeating) → INVALID_REQUEST (Weir refuses it: its next heartbeat
//! would otherwise meet no registration). Partitions keep the broker as a replica; a broker
//! that starts again registers anew.

use kafka_protocol::messages::{UnregisterBrokerRequest, UnregisterBrokerResponse};
use kafka_protocol::protocol::StrBytes;

use crate::admin::topics::TopicAdmin;

/// Unregister the broker, answering once this node has applied the change.
pub async fn handle(
    admin: &TopicAdmin,
    _version: i16,
    req: UnregisterBrokerRequest,
) -> UnregisterBrokerResponse {
    let mut resp = UnregisterBrokerResponse::default();
    let deadline = tokio::time::Instant::now() + crate::admin::proposal::CONFIG_CHANGE_TIMEOUT;
    if let Err(e) = admin.unregister_broker(req.broker_id.0, deadline).await {
        resp.error_code = e.code();
        resp.error_message = Some(StrBytes::from_string(e.message()));
    }
    resp
}
