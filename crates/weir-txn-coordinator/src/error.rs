//! [`TxnError`]: what a transactional client gets, as Kafka error codes.

use kafka_protocol::error::ResponseError;
use weir_coordinator::CoordinatorError;

/// An error of a transaction coordinator operation. [`TxnError::code`] is the Kafka error code
/// to put in the response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// The runtime's errors: NOT_COORDINATOR (16), COORDINATOR_NOT_AVAILABLE (15),
    /// COORDINATOR_LOAD_IN_PROGRESS (14), or a carried code (e.g. a failed producer-id
    /// allocation).
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    /// INVALID_REQUEST (42): e.g. an empty transactional id.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// INVALID_TRANSACTION_TIMEOUT (50): the timeout is not in 1..=`transaction.max.timeout.ms`.
    #[error("transaction timeout {timeout_ms} ms is not in 1..={max_ms}")]
    InvalidTransactionTimeout {
        /// The requested timeout.
        timeout_ms: i32,
        /// `transaction.max.timeout.ms`.
        max_ms: i32,
    },
    /// CONCURRENT_TRANSACTIONS (51): the previous transaction is still completing (the client
    /// retries).
    #[error("{0}")]
    ConcurrentTransactions(String),
    /// PRODUCER_FENCED (90): a newer producer with the same transactional id exists (older
    /// request versions get INVALID_PRODUCER_EPOCH (47), see [`TxnError::code_for`]).
    #[error("{0}")]
    ProducerFenced(String),
    /// INVALID_PRODUCER_ID_MAPPING (49): the producer id is not the one of the transactional id
    /// (or the transactional id is unknown).
    #[error("{0}")]
    InvalidProducerIdMapping(String),
    /// INVALID_TXN_STATE (48): the operation is not legal in the transaction's state.
    #[error("{0}")]
    InvalidTxnState(String),
    /// TRANSACTIONAL_ID_NOT_FOUND (105): DescribeTransactions of an unknown id.
    #[error("{0}")]
    TransactionalIdNotFound(String),
    /// UNKNOWN_SERVER_ERROR (-1): a state the coordinator should never reach.
    #[error("{0}")]
    Internal(String),
}

impl TxnError {
    /// The Kafka error code.
    pub fn code(&self) -> i16 {
        match self {
            TxnError::Coordinator(e) => e.code(),
            TxnError::InvalidRequest(_) => ResponseError::InvalidRequest.code(),
            TxnError::InvalidTransactionTimeout { .. } => {
                ResponseError::InvalidTransactionTimeout.code()
            }
            TxnError::ConcurrentTransactions(_) => ResponseError::ConcurrentTransactions.code(),
            TxnError::ProducerFenced(_) => ResponseError::ProducerFenced.code(),
            TxnError::InvalidProducerIdMapping(_) => ResponseError::InvalidProducerIdMapping.code(),
            TxnError::InvalidTxnState(_) => ResponseError::InvalidTxnState.code(),
            TxnError::TransactionalIdNotFound(_) => ResponseError::TransactionalIdNotFound.code(),
            TxnError::Internal(_) => ResponseError::UnknownServerError.code(),
        }
    }

    /// The code for a request version that may or may not know PRODUCER_FENCED: clients older
    /// than InitProducerId v4, AddPartitionsToTxn v2, AddOffsetsToTxn v2, EndTxn v2 and
    /// TxnOffsetCommit v3 get INVALID_PRODUCER_EPOCH (47) instead, as Kafka answers them.
    pub fn code_for(&self, producer_fenced_supported: bool) -> i16 {
        match self {
            TxnError::ProducerFenced(_) if !producer_fenced_supported => {
                ResponseError::InvalidProducerEpoch.code()
            }
            e => e.code(),
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        match self {
            TxnError::Coordinator(e) => e.message(),
            e => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas() {
        assert_eq!(TxnError::InvalidRequest("x".into()).code(), 42);
        assert_eq!(
            TxnError::InvalidTransactionTimeout {
                timeout_ms: 0,
                max_ms: 1
            }
            .code(),
            50
        );
        assert_eq!(TxnError::ConcurrentTransactions("x".into()).code(), 51);
        assert_eq!(TxnError::ProducerFenced("x".into()).code(), 90);
        assert_eq!(TxnError::ProducerFenced("x".into()).code_for(false), 47);
        assert_eq!(TxnError::ProducerFenced("x".into()).code_for(true), 90);
        assert_eq!(TxnError::InvalidTxnState("x".into()).code_for(false), 48);
        assert_eq!(TxnError::InvalidProducerIdMapping("x".into()).code(), 49);
        assert_eq!(TxnError::TransactionalIdNotFound("x".into()).code(), 105);
        assert_eq!(TxnError::Internal("x".into()).code(), -1);
        let e = TxnError::from(CoordinatorError::LoadInProgress("l".into()));
        assert_eq!((e.code(), e.message()), (14, "l".to_string()));
    }
}
