//! The broker side of the coordinators: storage adapters that give the coordinator runtime
//! (`weir-coordinator`) its narrow traits over this broker's replicas, ownership that follows
//! partition leadership, and producer id allocation.
//!
//! A new coordinator (transactions, share groups) gets its storage adapter here, registers its
//! ownership with the metadata applier at start-up, and its handlers in `api`.

pub mod group_topics;
pub mod internal_topic;
pub mod markers;
pub mod ownership;
pub mod producer_ids;
pub mod share_state;
pub mod transactions;
pub mod verification;
