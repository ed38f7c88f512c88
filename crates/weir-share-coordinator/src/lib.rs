//! Share groups (KIP-932 "Queues for Kafka") for Weir, sans broker:
//!
//! * [`SharePartition`]: the delivery state of one share-partition (group × topic-partition)
//!   as the partition's leader keeps it — acquire (ShareFetch, KIP-1206 record limits),
//!   acknowledge (Accept / Release / Reject / Gap, KIP-1222 Renew), lock expiry, members
//!   leaving, the start offset's advance, and dead-letter candidates with an exactly-once
//!   hand-over to the broker's DLQ copier (KIP-1191). Sans-IO: every operation takes the time.
//! * [`ShareStateCoordinator`]: the share coordinator, persisting share-partition state in the
//!   compacted internal topic `__share_group_state` in Kafka's record format
//!   (`ShareSnapshot` / `ShareUpdate`, [`records`]) on the `weir-coordinator` runtime,
//!   partitioned by `partition_for("group:topicId:partition")` as Kafka.
//! * [`ShareGroups`]: share-group membership (ShareGroupHeartbeat v1, describe, session
//!   expiry) with server-side assignment ([`assign()`]) — kept in memory (see [`group`]'s docs
//!   for this deviation from Kafka).
//! * [`ShareGroupConfig`]: the share group configs with Kafka's names, defaults and bounds.
//!
//! The broker's flow: ShareGroupHeartbeat → [`ShareGroups::heartbeat`] on the group's
//! coordinator; ShareFetch → [`SharePartition::acquire`] on the partition leader (state loaded
//! once from [`ShareStateCoordinator::read_state`], or started at the offset the broker resolved
//! from `share.auto.offset.reset` and persisted with
//! [`ShareStateCoordinator::initialize_state`]); ShareAcknowledge (or the acknowledgements
//! piggybacked on ShareFetch) → [`SharePartition::acknowledge`], then
//! [`SharePartition::take_update`] → [`ShareStateCoordinator::write_state`] before answering;
//! a timer → [`SharePartition::expire_locks`] and [`ShareGroups::expire_members`]; the DLQ
//! copier → [`SharePartition::take_dead_letters`] / [`SharePartition::confirm_dead_letters`].

#![deny(missing_docs)]

pub mod assign;
mod config;
mod coordinator;
mod error;
pub mod group;
pub mod records;
mod share_ack;
mod share_partition;
mod state;
mod types;

pub use assign::{assign, Assignment, TopicMetadata};
pub use config::{
    parse_reset, AutoOffsetReset, IsolationLevel, ShareConfigBounds, ShareCoordinatorConfig,
    ShareGroupConfig, DLQ_NAME_RESERVED_MESSAGE, SHARE_GROUP_CONFIG_NAMES,
};
pub use coordinator::ShareStateCoordinator;
pub use error::ShareError;
pub use group::{
    ExpiredMember, HeartbeatRequest, HeartbeatResponse, MemberDescription, ShareGroupDescription,
    ShareGroups,
};
pub use share_partition::{
    PartitionLimits, RecordView, SharePartition, StateUpdate, Transition, MAX_LOADED_WINDOW,
};
pub use state::{merge_batches, PersistedState, ShareStateShard};
pub use types::{
    AckBatch, AckType, AcquireMode, AcquiredRange, DeadLetterCandidate, DeadLetterReason,
    DeliveryState, ShareKey, StateBatch, TopicId,
};
pub use weir_coordinator::{
    partition_for, Clock, CoordinatorError, ManualClock, OwnershipChange, PartitionReader,
    PartitionWriter, ReadError, Record, SystemClock, WriteError,
};

/// The name of the internal share-group state topic.
pub const SHARE_GROUP_STATE_TOPIC: &str = "__share_group_state";

/// Kafka's default `group.share.max.size`.
pub const DEFAULT_GROUP_MAX_SIZE: usize = 200;

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod coordinator_tests;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod records_tests;
#[cfg(test)]
mod share_partition_tests;
#[cfg(test)]
mod share_partition_v2_tests;
