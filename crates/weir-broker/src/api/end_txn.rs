//! EndTxn (key 26): commit or abort a transaction.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};
use weir_txn_coordinator::{TxnCoordinator, TxnResult};

/// The coordinator writes PrepareCommit / PrepareAbort and answers; the markers follow in the
/// background. v5+ (transaction version 2) bumps the epoch and returns the new producer id and
/// epoch; earlier versions answer -1/-1. Errors: NOT_COORDINATOR, CONCURRENT_TRANSACTIONS,
/// INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE, PRODUCER_FENCED (INVALID_PRODUCER_EPOCH
/// before v2), INVALID_REQUEST.
pub async fn handle(txn: &TxnCoordinator, version: i16, req: EndTxnRequest) -> EndTxnResponse {
    let mut resp = EndTxnResponse::default();
    resp.producer_id = (-1).into();
    resp.producer_epoch = -1;
    let id = req.transactional_id.0.as_str();
    let result = if req.committed {
        TxnResult::Commit
    } else {
        TxnResult::Abort
    };
    let tv2 = version >= 5;
    match txn
        .end_txn(id, req.producer_id.0, req.producer_epoch, result, tv2)
        .await
    {
        Ok(p) if tv2 => {
            resp.producer_id = p.producer_id.into();
            resp.producer_epoch = p.epoch;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(transactional_id = %id, error = %e, "EndTxn refused");
            resp.error_code = e.code_for(version >= 2);
        }
    }
    resp
}
