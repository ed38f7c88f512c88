//! InitProducerId (key 22): a producer id for an idempotent producer.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};

use crate::coordinators::producer_ids::ProducerIdManager;

/// Without a transactional id: a new producer id with epoch 0 (also when the producer sends its
/// old id and epoch, v3+, as Kafka does for idempotent producers). With a transactional id:
/// COORDINATOR_NOT_AVAILABLE (15) — Weir has no transaction coordinator (documented deviation);
/// an empty transactional id is INVALID_REQUEST (42), as in Kafka.
/// Ids come from blocks the controller reserves on the metadata log; if no block can be
/// reserved the error of the metadata quorum is returned (e.g. REQUEST_TIMED_OUT).
pub async fn handle(
    producer_ids: &ProducerIdManager,
    _version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = (-1).into();
    resp.producer_epoch = -1;
    match req.transactional_id.as_ref().map(|t| t.as_str()) {
        None => {}
        Some("") => {
            resp.error_code = ResponseError::InvalidRequest.code();
            return resp;
        }
        Some(_) => {
            resp.error_code = ResponseError::CoordinatorNotAvailable.code();
            return resp;
        }
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
