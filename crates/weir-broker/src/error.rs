//! Broker errors and THE one place where internal errors become Kafka error codes.

use kafka_protocol::error::ResponseError;
use weir_log::LogError;

/// Everything a broker operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A storage error (mapped by [`log_error_code`]).
    #[error(transparent)]
    Log(#[from] LogError),
    /// A Kafka-level refusal with its exact error code and a human message.
    #[error("{code:?}: {message}")]
    Kafka {
        /// The Kafka error.
        code: ResponseError,
        /// Why, for the error_message field and logs.
        message: String,
    },
    /// Local I/O outside the partition logs (metadata files, sockets).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Bad broker configuration (start-up only).
    #[error("configuration error: {0}")]
    Config(String),
}

impl BrokerError {
    /// Shorthand for a Kafka-level error.
    pub fn kafka(code: ResponseError, message: impl Into<String>) -> Self {
        BrokerError::Kafka {
            code,
            message: message.into(),
        }
    }

    /// The Kafka error code a Kafka broker would return for this error.
    pub fn code(&self) -> i16 {
        match self {
            BrokerError::Log(e) => log_error_code(e),
            BrokerError::Kafka { code, .. } => code.code(),
            BrokerError::Io(_) => ResponseError::KafkaStorageError.code(),
            BrokerError::Config(_) => ResponseError::InvalidConfig.code(),
        }
    }
}

impl From<weir_meta::MetaError> for BrokerError {
    /// Metadata refusals become the Kafka error a Kafka controller returns.
    fn from(e: weir_meta::MetaError) -> Self {
        use weir_meta::MetaError as M;
        let code = match &e {
            M::UnknownTopicOrPartition(_) => ResponseError::UnknownTopicOrPartition,
            M::TopicAlreadyExists(_) => ResponseError::TopicAlreadyExists,
            M::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
            M::InvalidPartitions(_) => ResponseError::InvalidPartitions,
            M::FencedLeaderEpoch(_) => ResponseError::FencedLeaderEpoch,
            M::InvalidUpdateVersion(_) => ResponseError::InvalidUpdateVersion,
            M::InvalidRequest(_) => ResponseError::InvalidRequest,
            M::InvalidReplicaAssignment(_) => ResponseError::InvalidReplicaAssignment,
            M::NoReassignmentInProgress(_) => ResponseError::NoReassignmentInProgress,
            M::IneligibleReplica(_) => ResponseError::IneligibleReplica,
            M::BrokerNotAvailable(_) => ResponseError::BrokerNotAvailable,
            M::BrokerIdNotRegistered(_) => ResponseError::BrokerIdNotRegistered,
            M::NotController(_) => ResponseError::NotController,
            M::DuplicateVoter(_) => ResponseError::DuplicateVoter,
            M::VoterNotFound(_) => ResponseError::VoterNotFound,
            M::Raft(_) => ResponseError::RequestTimedOut,
        };
        BrokerError::Kafka {
            code,
            message: e.to_string(),
        }
    }
}

/// Map a storage error to the Kafka error code.
pub fn log_error_code(e: &LogError) -> i16 {
    let code = match e {
        LogError::CorruptMessage(_) => ResponseError::CorruptMessage,
        LogError::InvalidRecord(_) | LogError::InvalidRecords { .. } => {
            ResponseError::InvalidRecord
        }
        LogError::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::InvalidConfig { .. } => ResponseError::InvalidConfig,
        LogError::Deleted(_) => ResponseError::UnknownTopicOrPartition,
        LogError::OutOfOrderSequence(_) => ResponseError::OutOfOrderSequenceNumber,
        LogError::InvalidProducerEpoch(_) => ResponseError::InvalidProducerEpoch,
        LogError::InvalidTxnState(_) => ResponseError::InvalidTxnState,
        LogError::TransactionCoordinatorFenced(_) => ResponseError::TransactionCoordinatorFenced,
        LogError::CorruptFile { .. } | LogError::Damaged { .. } => ResponseError::KafkaStorageError,
        // Out of file descriptors is not a disk failure: nothing goes offline, and the message
        // (RLIMIT_NOFILE, log.max.open.files) goes with the error.
        LogError::TooManyOpenFiles { .. } => ResponseError::UnknownServerError,
        LogError::Io(_) => ResponseError::KafkaStorageError,
    };
    code.code()
}

impl BrokerError {
    /// The Kafka error message for `error_message` fields.
    pub fn message(&self) -> String {
        match self {
            BrokerError::Kafka { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

impl From<weir_group_coordinator::CoordinatorError> for BrokerError {
    /// A coordinator refusal keeps its Kafka error code (NOT_COORDINATOR,
    /// COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS or the code it carries).
    fn from(e: weir_group_coordinator::CoordinatorError) -> Self {
        let code = e.code();
        BrokerError::Kafka {
            code: ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError),
            message: e.message(),
        }
    }
}

impl From<weir_share_coordinator::ShareError> for BrokerError {
    /// A share-group refusal keeps its Kafka error code (INVALID_RECORD_STATE,
    /// FENCED_MEMBER_EPOCH, NOT_COORDINATOR, …).
    fn from(e: weir_share_coordinator::ShareError) -> Self {
        BrokerError::Kafka {
            code: ResponseError::try_from_code(e.code())
                .unwrap_or(ResponseError::UnknownServerError),
            message: e.message(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_not_a_storage_error() {
        let e = LogError::TooManyOpenFiles {
            path: "/d/t-0/00000000000000000000.log".into(),
            rlimit_nofile: 512,
            max_open_files: 256,
        };
        assert_eq!(log_error_code(&e), ResponseError::UnknownServerError.code());
        assert_ne!(log_error_code(&e), ResponseError::KafkaStorageError.code());
        assert!(e.to_string().contains("RLIMIT_NOFILE (ulimit -n) is 512"));
    }
}
