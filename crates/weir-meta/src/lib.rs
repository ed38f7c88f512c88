//! weir-meta: the cluster metadata of Weir (KRaft's role): brokers, topics, partition
//! assignments, leaders, ISR, configs, producer-id blocks and ACLs, kept as a log of
//! [`records::MetadataRecord`]s replicated by Raft (`openraft`).
//!
//! * [`acl`] — Kafka's ACL model (resource patterns, operations, permissions, filters), stored
//!   in the image; [`authorizer`] — the pure allow/deny decision over those ACLs.
//! * [`quota`] — Kafka's client quota entities and keys (`ClientQuotaRecord`), stored in the
//!   image.
//! * [`image`] — the state machine: applies records deterministically, validating each; it alone
//!   answers "who leads partition p, at which epoch, with which ISR".
//! * [`controller`] — the decisions the Raft leader takes (replica placement, fencing, leader
//!   election from the ISR, AlterPartition checks), sans-IO with the time passed in.
//! * [`reassignment`] — partition reassignment (KIP-455): start, cancel and completion.
//! * [`scram`] — SCRAM user credentials (salted, as Kafka's `UserScramCredentialRecord`).
//! * [`raft`] — openraft wiring: the on-disk log/vote/snapshot store, the TCP transport and the
//!   [`raft::MetaNode`] that brokers use to propose records and watch the applied image.

pub mod acl;
pub mod authorizer;
pub mod controller;
pub mod election;
pub mod error;
pub mod image;
pub mod offline_dirs;
pub mod quota;
pub mod raft;
pub mod reassignment;
pub mod records;
pub mod scram;

pub use error::MetaError;
pub use image::MetadataImage;
pub use records::MetadataRecord;
