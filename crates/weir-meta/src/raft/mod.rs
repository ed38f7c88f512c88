//! openraft wiring: type configuration, the on-disk log store, the state machine with snapshots,
//! the TCP transport, and [`MetaNode`], the handle brokers use.

pub mod log_store;
pub mod membership;
pub mod network;
pub mod node;
pub mod progress;
pub mod quorum;
pub mod state_machine;
pub mod transport;
pub mod voter_set;
pub mod voters;

use std::io::Cursor;

use crate::image::Applied;
use crate::records::MetadataRecord;
use crate::MetaError;

pub use node::{MetaConfig, MetaNode, RaftStatus};

/// A proposal: records applied atomically (all or none) in order.
pub type Proposal = Vec<MetadataRecord>;

/// The outcome of applying a proposal.
pub type ProposalResult = Result<Vec<Applied>, MetaError>;

openraft::declare_raft_types!(
    /// Weir's Raft types: node ids are `node.id`s, nodes carry the controller listener address.
    pub TypeConfig:
        D = Proposal,
        R = ProposalResult,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

/// Storage error helper: wrap an I/O error for openraft.
pub(crate) fn io_err(
    subject: openraft::ErrorSubject<u64>,
    verb: openraft::ErrorVerb,
    e: &std::io::Error,
) -> openraft::StorageError<u64> {
    openraft::StorageError::from(openraft::StorageIOError::new(
        subject,
        verb,
        openraft::AnyError::new(e),
    ))
}

/// Write `bytes` to `path` via a temporary file, fsync, rename, directory fsync.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
