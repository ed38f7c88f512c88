//! InitProducerId (key 22): a producer id for an idempotent producer, or a transactional
//! producer's id and epoch from its transaction coordinator.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
use weir_txn_coordinator::{ProducerIdAndEpoch, TxnCoordinator};

use crate::coordinators::producer_ids::ProducerIdManager;

/// Without a transactional id: a new producer id with epoch 0 (also when the producer sends its
/// old id and epoch, v3+, as Kafka does for idempotent producers); ids come from blocks the
/// controller reserves on the metadata log (a failed reservation answers the quorum's error,
/// e.g. REQUEST_TIMED_OUT).
///
/// With a transactional id: the transaction coordinator's answer (this broker must lead the
/// id's `__transaction_state` partition: NOT_COORDINATOR otherwise) — a new id at epoch 0, an
/// epoch bump that fences the previous producer (CONCURRENT_TRANSACTIONS while its open
/// transaction is aborted), INVALID_TRANSACTION_TIMEOUT above `transaction.max.timeout.ms`,
/// INVALID_REQUEST for an empty id, and PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v4) for
/// a v3+ producer whose expected id/epoch is stale.
pub async fn handle(
    producer_ids: &ProducerIdManager,
    txn: &TxnCoordinator,
    version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = (-1).into();
    resp.producer_epoch = -1;
    if let Some(id) = req
        .transactional_id
        .as_ref()
        .map(|t| t.as_str().to_string())
    {
        let expected = (version >= 3 && req.producer_id.0 >= 0)
            .then(|| ProducerIdAndEpoch::new(req.producer_id.0, req.producer_epoch));
        match txn
            .init_producer_id(&id, req.transaction_timeout_ms, expected, false)
            .await
        {
            Ok(p) => {
                resp.producer_id = p.producer_id.into();
                resp.producer_epoch = p.epoch;
            }
            Err(e) => {
                tracing::debug!(transactional_id = %id, error = %e, "InitProducerId refused");
                resp.error_code = e.code_for(version >= 4);
            }
        }
        return resp;
    }
    match producer_ids.next_id().await {
        Ok(id) => {
            resp.producer_id = id.into();
            resp.producer_epoch = 0;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not reserve a producer id");
            resp.error_code = e.code();
        }
    }
    resp
}
