//! AddOffsetsToTxn (key 25): the group's `__consumer_offsets` partition joins the transaction,
//! so the transaction's offset commits get its marker.

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use weir_txn_coordinator::TxnCoordinator;

/// The coordinator's answer: NONE, or NOT_COORDINATOR, CONCURRENT_TRANSACTIONS,
/// INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE, PRODUCER_FENCED (INVALID_PRODUCER_EPOCH
/// before v2), INVALID_REQUEST for an empty transactional or group id.
pub async fn handle(
    txn: &TxnCoordinator,
    version: i16,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let mut resp = AddOffsetsToTxnResponse::default();
    let id = req.transactional_id.0.as_str();
    if req.group_id.0.is_empty() {
        resp.error_code = kafka_protocol::error::ResponseError::InvalidRequest.code();
        return resp;
    }
    if let Err(e) = txn
        .add_offsets(
            id,
            req.producer_id.0,
            req.producer_epoch,
            req.group_id.0.as_str(),
        )
        .await
    {
        tracing::debug!(transactional_id = %id, error = %e, "AddOffsetsToTxn refused");
        resp.error_code = e.code_for(version >= 2);
    }
    resp
}
