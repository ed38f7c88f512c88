//! The group coordinator: classic groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup), KIP-848
//! consumer groups (ConsumerGroupHeartbeat) and committed offsets, persisted in the compacted
//! internal topic `__consumer_offsets` in Kafka's record format, on the `weir-coordinator`
//! runtime.
//!
//! The deciding logic is sans-IO ([`classic`], [`consumer`], [`assignment`]); the coordinator
//! feeds it the clock, persists what the state machines ask for ([`records`]) through the
//! runtime's "compute, write, then install", and delivers the waiting responses. A group's
//! coordinator is the leader of its `__consumer_offsets` partition ([`records::partition_for`]),
//! as in Kafka: the state of one partition is one shard, loaded by replaying the partition when
//! this broker becomes its leader, so committed offsets and group metadata survive restarts and
//! move with leadership; every group request is refused with NOT_COORDINATOR when this broker
//! does not coordinate the group, COORDINATOR_LOAD_IN_PROGRESS while its shard is loading.
//!
//! Nothing here depends on the broker: it reaches `__consumer_offsets` through the runtime's
//! [`PartitionWriter`] / [`PartitionReader`] and sees the other topics through [`TopicView`].

#![deny(missing_docs)]

pub mod assignment;
pub mod classic;
mod classic_ops;
pub mod classic_types;
mod config;
pub mod consumer;
mod consumer_ops;
mod coordinator;
mod describe;
mod group;
pub mod offsets;
mod pending;
pub mod records;
mod shard;
mod timers;
mod txn_offsets;

pub use config::GroupConfig;
pub use coordinator::{GroupCoordinator, TopicView};
pub use describe::{
    ClassicDescription, ClassicMemberDescription, ConsumerDescription, ConsumerMemberDescription,
    GroupDescription, GroupDetail, GroupListing,
};
pub use offsets::{Committer, OFFSET_METADATA_MAX_BYTES};
pub use txn_offsets::FetchedOffset;
pub use weir_coordinator::{
    Clock, CoordinatorError, ManualClock, OwnershipChange, PartitionReader, PartitionWriter,
    ReadError, Record, SystemClock, WriteError,
};

/// The name of the internal offsets topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[cfg(test)]
mod coordinator_tests;
#[cfg(test)]
mod txn_offsets_tests;
