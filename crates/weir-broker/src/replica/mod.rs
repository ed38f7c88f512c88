//! Kafka's ISR replication on this broker (Kafka's `ReplicaManager` / `Partition`): the
//! [`manager::ReplicaManager`] owns the partition logs, the leader bookkeeping and the follower
//! fetch table. Leaders track what their followers have fetched and derive the high watermark
//! from the ISR (`leadership`); every append, from clients or coordinators, goes through
//! `append`; followers copy their leaders' logs with the Fetch API (`fetcher`), truncating a
//! divergent tail first (KIP-320); ISR changes go to the controller as AlterPartition (`isr`).
//!
//! Decisions live in the sans-IO [`leader_state::LeaderState`]; this module applies them.

pub mod append;
pub mod damage_repair;
mod fetch_delays;
pub mod fetcher;
pub mod isr;
pub mod leader_state;
pub mod leadership;
pub mod manager;
pub mod markers;

pub use append::{AppendOrigin, Appended};
pub use manager::{ReplicaManager, ReplicaSettings};
