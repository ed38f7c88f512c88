//! Admin operations that change cluster metadata: topics (create, delete, partitions, configs)
//! and partition reassignment (KIP-455). Each is a proposal to the metadata quorum that returns
//! once this broker's applier has the result, or by the request's deadline with a retriable error
//! (`proposal`).

pub mod acls;
pub mod broker_configs;
pub mod config_records;
pub mod elections;
pub mod group_configs;
pub mod proposal;
pub mod quotas;
pub mod reassignment;
pub mod scram;
pub mod topics;

pub use topics::{TopicAdmin, TopicDefaults};
