//! Deterministic simulation of Weir's sans-IO decision cores (issue #18).
//!
//! Each model runs real Weir code over a simulated network and clock ([`world::World`]): a
//! priority queue of timed events, message loss, duplication, random delays (so reordering),
//! network partitions, crashes and restarts, all drawn from one seed ([`rng::Rng`], SplitMix64),
//! with no threads, no tokio runtime and no wall clock, so a seed replays exactly.
//!
//! * [`meta`] — `weir_meta`'s `Controller`, `MetadataImage::apply` and `reassignment` with
//!   heartbeating, crashing brokers that send AlterPartition over the lossy network; the Raft
//!   log is modelled as what Raft provides, one totally ordered committed log.
//! * [`replication`] — the broker's `LeaderState` (high watermark, ISR changes) with per-replica
//!   logs, Kafka's follower truncation and the controller electing leaders; producers append
//!   acks=all records.
//! * [`groups`] — `weir_group_coordinator::GroupCoordinator` instances sharing a
//!   `MemoryLog`, with ownership moving between them at bumped epochs, crashes and lost
//!   responses; its futures are polled by hand (a no-op waker), never by a runtime.
//!
//! Each `run(seed, params)` returns a [`report::Summary`] or the first [`report::Violation`].

pub mod groups;
pub mod meta;
pub mod replication;
pub mod report;
pub mod rng;
pub mod world;

pub use report::{Stats, Summary, Violation};
pub use world::Faults;
