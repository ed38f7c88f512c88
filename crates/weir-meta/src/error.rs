//! Metadata errors; the broker maps each to the Kafka error code a client would get from Kafka.

/// Why a metadata operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum MetaError {
    /// No such topic → UNKNOWN_TOPIC_OR_PARTITION (3).
    #[error("unknown topic or partition: {0}")]
    UnknownTopicOrPartition(String),
    /// The topic exists → TOPIC_ALREADY_EXISTS (36).
    #[error("topic {0} already exists")]
    TopicAlreadyExists(String),
    /// Replication factor < 1 or larger than the live brokers → INVALID_REPLICATION_FACTOR (38).
    #[error("invalid replication factor: {0}")]
    InvalidReplicationFactor(String),
    /// Partition count invalid → INVALID_PARTITIONS (37).
    #[error("invalid partitions: {0}")]
    InvalidPartitions(String),
    /// A request carried an old leader epoch → FENCED_LEADER_EPOCH (74).
    #[error("fenced leader epoch: {0}")]
    FencedLeaderEpoch(String),
    /// A request carried an old partition epoch → INVALID_UPDATE_VERSION (95).
    #[error("invalid update version: {0}")]
    InvalidUpdateVersion(String),
    /// The ISR would be invalid (replica not in the assignment, empty) → INVALID_REQUEST (42).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A reassignment target is invalid (empty, duplicate or unregistered brokers) or cannot be
    /// applied cleanly → INVALID_REPLICA_ASSIGNMENT (39).
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
    /// Cancelling a reassignment when none is in progress → NO_REASSIGNMENT_IN_PROGRESS (85).
    #[error("no reassignment in progress: {0}")]
    NoReassignmentInProgress(String),
    /// An ISR change would add a fenced or unregistered broker (KIP-841) → INELIGIBLE_REPLICA (107).
    #[error("ineligible replica: {0}")]
    IneligibleReplica(String),
    /// Unknown or fenced broker → BROKER_NOT_AVAILABLE (8).
    #[error("broker not available: {0}")]
    BrokerNotAvailable(String),
    /// UnregisterBroker of a broker that is not registered → BROKER_ID_NOT_REGISTERED (102).
    #[error("broker id not registered: {0}")]
    BrokerIdNotRegistered(String),
    /// This node is not the Raft leader (the leader id, if known) → NOT_CONTROLLER (41).
    #[error("not the controller (leader: {0:?})")]
    NotController(Option<u64>),
    /// AddRaftVoter for a node that already votes → DUPLICATE_VOTER (126).
    #[error("duplicate voter: {0}")]
    DuplicateVoter(String),
    /// RemoveRaftVoter for a node that does not vote, or for the only voter → VOTER_NOT_FOUND
    /// (127), as Kafka.
    #[error("voter not found: {0}")]
    VoterNotFound(String),
    /// Raft failed (quorum lost, shutting down, storage) → REQUEST_TIMED_OUT (7) /
    /// KAFKA_STORAGE_ERROR.
    #[error("metadata quorum error: {0}")]
    Raft(String),
}

impl MetaError {
    /// True when a proposal answered with this error certainly changed nothing: not a quorum
    /// error or a controller change (the outcome is unknown), nor a stale leader or partition
    /// epoch (the image is about to show what the controller decided).
    pub fn certainly_changed_nothing(&self) -> bool {
        !matches!(
            self,
            MetaError::Raft(_)
                | MetaError::NotController(_)
                | MetaError::InvalidUpdateVersion(_)
                | MetaError::FencedLeaderEpoch(_)
        )
    }
}
