//! Share groups (KIP-932) in the broker: the share-group coordinator (membership, on the
//! group's `__consumer_offsets` leader), the share-partition manager (acquisition,
//! acknowledgement, locks, share sessions, on each partition leader) and group configs in the
//! metadata log. The state itself is persisted by the `weir-share-coordinator` crate's
//! `ShareStateCoordinator` in `__share_group_state` (its storage and ownership hook are in
//! `coordinators`).

pub mod configs;
pub mod dlq;
pub mod dlq_target;
pub mod groups;
pub mod manager;
pub mod offsets;
pub mod persister;
pub mod read;
pub mod sessions;
