//! [`ShareError`]: what a share-group client (or the share-partition leader) gets, as Kafka
//! error codes.

use kafka_protocol::error::ResponseError;
use weir_coordinator::CoordinatorError;

/// An error of a share-group operation. [`ShareError::code`] is the Kafka error code to put in
/// the response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The runtime's errors: NOT_COORDINATOR (16), COORDINATOR_NOT_AVAILABLE (15),
    /// COORDINATOR_LOAD_IN_PROGRESS (14), or a carried code.
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    /// INVALID_REQUEST (42): a malformed request (e.g. first offset after last offset, a list
    /// of acknowledge types whose length is neither 1 nor the batch's record count).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// INVALID_RECORD_STATE (121): an acknowledged record is not Acquired by that member (its
    /// lock expired, another member holds it, it was already acknowledged, it is outside the
    /// in-flight window). Nothing of the acknowledgement was applied.
    #[error("{0}")]
    InvalidRecordState(String),
    /// UNKNOWN_MEMBER_ID (25): the member is not (or no longer) in the share group.
    #[error("{0}")]
    UnknownMemberId(String),
    /// FENCED_MEMBER_EPOCH (110): the member's epoch is not its current one; it must rejoin
    /// with epoch 0.
    #[error("{0}")]
    FencedMemberEpoch(String),
    /// GROUP_MAX_SIZE_REACHED (81): `group.share.max.size` members are already in the group.
    #[error("{0}")]
    GroupMaxSizeReached(String),
    /// INVALID_GROUP_ID (24): an empty group id.
    #[error("{0}")]
    InvalidGroupId(String),
    /// GROUP_ID_NOT_FOUND (69): describe of a share group this coordinator does not know.
    #[error("{0}")]
    GroupIdNotFound(String),
    /// INVALID_CONFIG (40): a share group config with an unknown name or a bad value.
    #[error("{0}")]
    InvalidConfig(String),
    /// FENCED_STATE_EPOCH (124): a state write carries a state epoch older than the stored one.
    #[error("{0}")]
    FencedStateEpoch(String),
    /// FENCED_LEADER_EPOCH (74): a state write carries a leader epoch older than the stored one
    /// (a deposed share-partition leader).
    #[error("{0}")]
    FencedLeaderEpoch(String),
}

impl ShareError {
    /// The Kafka error code.
    pub fn code(&self) -> i16 {
        match self {
            ShareError::Coordinator(e) => e.code(),
            ShareError::InvalidRequest(_) => ResponseError::InvalidRequest.code(),
            ShareError::InvalidRecordState(_) => ResponseError::InvalidRecordState.code(),
            ShareError::UnknownMemberId(_) => ResponseError::UnknownMemberId.code(),
            ShareError::FencedMemberEpoch(_) => ResponseError::FencedMemberEpoch.code(),
            ShareError::GroupMaxSizeReached(_) => ResponseError::GroupMaxSizeReached.code(),
            ShareError::InvalidGroupId(_) => ResponseError::InvalidGroupId.code(),
            ShareError::GroupIdNotFound(_) => ResponseError::GroupIdNotFound.code(),
            ShareError::InvalidConfig(_) => ResponseError::InvalidConfig.code(),
            ShareError::FencedStateEpoch(_) => ResponseError::FencedStateEpoch.code(),
            ShareError::FencedLeaderEpoch(_) => ResponseError::FencedLeaderEpoch.code(),
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        match self {
            ShareError::Coordinator(e) => e.message(),
            e => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas() {
        assert_eq!(ShareError::InvalidRequest("x".into()).code(), 42);
        assert_eq!(ShareError::InvalidRecordState("x".into()).code(), 121);
        assert_eq!(ShareError::UnknownMemberId("x".into()).code(), 25);
        assert_eq!(ShareError::FencedMemberEpoch("x".into()).code(), 110);
        assert_eq!(ShareError::GroupMaxSizeReached("x".into()).code(), 81);
        assert_eq!(ShareError::InvalidGroupId("x".into()).code(), 24);
        assert_eq!(ShareError::GroupIdNotFound("x".into()).code(), 69);
        assert_eq!(ShareError::InvalidConfig("x".into()).code(), 40);
        assert_eq!(ShareError::FencedStateEpoch("x".into()).code(), 124);
        assert_eq!(ShareError::FencedLeaderEpoch("x".into()).code(), 74);
        let e = ShareError::from(CoordinatorError::LoadInProgress("l".into()));
        assert_eq!((e.code(), e.message()), (14, "l".to_string()));
    }
}
