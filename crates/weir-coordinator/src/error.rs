//! The errors of the runtime: what a partition writer or reader reports, and what a
//! coordinator's client gets.

use kafka_protocol::error::ResponseError;

/// Why an append to the coordinator's topic failed, as the partition writer reports it (the
/// broker maps its own errors into these). [`CoordinatorError`]'s `From` impl is the one place
/// these become client-visible errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// This node does not (or no longer) lead the partition, or leads it at another epoch
    /// (NOT_LEADER_OR_FOLLOWER).
    #[error("{0}")]
    NotLeader(String),
    /// The partition's log could not be written (KAFKA_STORAGE_ERROR).
    #[error("{0}")]
    Storage(String),
    /// The topic or partition does not exist (UNKNOWN_TOPIC_OR_PARTITION).
    #[error("{0}")]
    UnknownPartition(String),
    /// The ISR is too small to accept the write, before or after appending (NOT_ENOUGH_REPLICAS
    /// and NOT_ENOUGH_REPLICAS_AFTER_APPEND).
    #[error("{0}")]
    NotEnoughReplicas(String),
    /// The ISR did not get the records in time (REQUEST_TIMED_OUT).
    #[error("{0}")]
    Timeout(String),
    /// The writer cannot perform this kind of append (e.g. a transactional one); the client
    /// gets UNSUPPORTED_VERSION.
    #[error("{0}")]
    Unsupported(String),
    /// Any other Kafka error, passed to the client unchanged.
    #[error("{message}")]
    Other {
        /// Kafka error code.
        code: i16,
        /// Human-readable message.
        message: String,
    },
}

/// Why the records of a partition could not be read while loading it (the load is retried at
/// the next ownership sync).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

/// The error a coordinator's client gets. [`CoordinatorError::code`] is the Kafka error code to
/// put in the response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordinatorError {
    /// NOT_COORDINATOR (16): this node does not coordinate the key (the client looks the
    /// coordinator up again).
    #[error("{0}")]
    NotCoordinator(String),
    /// COORDINATOR_NOT_AVAILABLE (15): the coordinator cannot serve now (the client retries).
    #[error("{0}")]
    NotAvailable(String),
    /// COORDINATOR_LOAD_IN_PROGRESS (14): this node leads the key's partition but has not
    /// loaded its state yet.
    #[error("{0}")]
    LoadInProgress(String),
    /// Any other Kafka error (e.g. GROUP_ID_NOT_FOUND from a coordinator's own validation).
    #[error("{message}")]
    Other {
        /// Kafka error code.
        code: i16,
        /// Human-readable message.
        message: String,
    },
}

impl CoordinatorError {
    /// The Kafka error code: 16, 15, 14, or the carried code.
    pub fn code(&self) -> i16 {
        match self {
            CoordinatorError::NotCoordinator(_) => ResponseError::NotCoordinator.code(),
            CoordinatorError::NotAvailable(_) => ResponseError::CoordinatorNotAvailable.code(),
            CoordinatorError::LoadInProgress(_) => ResponseError::CoordinatorLoadInProgress.code(),
            CoordinatorError::Other { code, .. } => *code,
        }
    }

    /// The human-readable message (for the response's error message).
    pub fn message(&self) -> String {
        match self {
            CoordinatorError::NotCoordinator(m)
            | CoordinatorError::NotAvailable(m)
            | CoordinatorError::LoadInProgress(m)
            | CoordinatorError::Other { message: m, .. } => m.clone(),
        }
    }

    /// An error with a Kafka error code and a message (a coordinator's own validation errors).
    pub fn kafka(code: ResponseError, message: impl Into<String>) -> Self {
        CoordinatorError::Other {
            code: code.code(),
            message: message.into(),
        }
    }
}

/// Kafka's mapping of a failed write to the error a coordinator's client gets
/// (`CoordinatorRuntime.normalizeException`): leadership and storage errors become
/// NOT_COORDINATOR (the client looks the coordinator up again), unknown partitions, replication
/// shortfalls and timeouts COORDINATOR_NOT_AVAILABLE (it retries). Other errors pass unchanged.
impl From<WriteError> for CoordinatorError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::NotLeader(m) | WriteError::Storage(m) => {
                CoordinatorError::NotCoordinator(m)
            }
            WriteError::UnknownPartition(m)
            | WriteError::NotEnoughReplicas(m)
            | WriteError::Timeout(m) => CoordinatorError::NotAvailable(m),
            WriteError::Unsupported(message) => CoordinatorError::Other {
                code: ResponseError::UnsupportedVersion.code(),
                message,
            },
            WriteError::Other { code, message } => CoordinatorError::Other { code, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_errors_map_like_kafka_normalize_exception() {
        let m = |e: WriteError| CoordinatorError::from(e).code();
        assert_eq!(m(WriteError::NotLeader("x".into())), 16);
        assert_eq!(m(WriteError::Storage("x".into())), 16);
        assert_eq!(m(WriteError::UnknownPartition("x".into())), 15);
        assert_eq!(m(WriteError::NotEnoughReplicas("x".into())), 15);
        assert_eq!(m(WriteError::Timeout("x".into())), 15);
        assert_eq!(m(WriteError::Unsupported("x".into())), 35);
        let other = CoordinatorError::from(WriteError::Other {
            code: 87,
            message: "m".into(),
        });
        assert_eq!(other.code(), 87);
        assert_eq!(other.message(), "m");
        assert_eq!(CoordinatorError::LoadInProgress("l".into()).code(), 14);
        assert_eq!(CoordinatorError::NotAvailable("l".into()).message(), "l");
    }
}
