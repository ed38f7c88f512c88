//! weir-log: partition logs stored exactly in Kafka's on-disk layout.
//!
//! * [`LogManager`] owns the log directories (`log.dirs`, JBOD): partition logs, and per dir
//!   the checkpoint files, the clean-shutdown marker and the group-commit flusher; it places new
//!   partitions, moves them between dirs and takes a failed dir offline alone.
//! * [`PartitionLog`] is one partition: validated appends with offset assignment, reads by offset
//!   or timestamp, truncation, DeleteRecords, retention, and the follower side of replication
//!   (appends copied from the leader, the leader-epoch cache, truncation to a divergence point).
//! * [`LogConfig`] holds the per-topic storage configs with Kafka names and defaults.
//! * [`FdCache`] bounds the segment files a log directory keeps open (`log.max.open.files`);
//!   index files hold no descriptor, so partitions far outnumber the process's descriptor limit.
//! * Time comes from an injected [`Clock`], so rolling and retention are deterministic in tests.
//! * Transactions (KIP-98), the partition side: transactional batches open a producer's
//!   transaction, [`PartitionLog::append_txn_marker`] writes COMMIT/ABORT markers, aborted
//!   transactions go to each segment's `.txnindex`, and READ_COMMITTED reads stop at
//!   [`PartitionLog::last_stable_offset`] ([`PartitionLog::read_committed`],
//!   [`PartitionLog::collect_aborted`]).
//!
//! Durability: with `flush.messages` = 1 (the default) an append returns a ticket and the caller
//! acknowledges only after [`LogManager::wait_durable`] (group commit: one fdatasync covers every
//! partition's writes since the previous one).

pub mod batch;
pub mod checkpoint;
mod cleaner;
mod clock;
mod config;
mod damage;
mod deferred;
mod error;
pub mod fd_cache;
mod fs_sync;
mod group_commit;
pub mod index;
pub mod lazyfs;
mod log_dir;
mod log_manager;
mod log_move;
mod log_move_recovery;
mod open_many;
mod parallel;
mod partition_log;
mod producer_snapshot;
pub mod producer_state;
pub mod records;
pub mod segment;
pub mod txn_index;
pub mod txn_marker;
mod volume;

#[cfg(test)]
mod truncate_race_tests;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use bytes::Bytes;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CleanupPolicy, LogConfig, TimestampType};
pub use damage::{DeferredCheck, DeferredPrefix, PartitionDamage};
pub use deferred::VerifyPass;
pub use error::{LogError, RecordError};
pub use fd_cache::FdCache;
pub use group_commit::DurabilityTicket;
pub use log_manager::{LogDirStatus, LogManager, OpenOptions, StartupVerify, CLEAN_SHUTDOWN_FILE};
pub use partition_log::{AppendResult, PartitionLog, ReadResult, ReplicaAppend, VerifyOutcome};
pub use txn_index::AbortedTxn;
pub use txn_marker::{TxnMarker, TxnResult};
pub use volume::{volume_space, VolumeSpace};

/// A topic partition; its directory is `<topic>-<partition>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// `(topic, partition)`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
    /// `<topic>-<partition>`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

/// A byte range of whole record batches inside a segment file (send without copying).
#[derive(Debug, Clone)]
pub struct FileSlice {
    /// The segment's `.log` file (stays readable even if the segment is deleted meanwhile).
    pub file: Arc<File>,
    /// Start position in the file.
    pub position: u64,
    /// Length in bytes (0 = nothing to read).
    pub len: usize,
}

impl FileSlice {
    /// A slice of no bytes, tied to no segment file (so that answering an empty read never opens
    /// one): its file is a process-wide handle on `/dev/null`.
    pub fn empty() -> Result<FileSlice, LogError> {
        static NULL: std::sync::OnceLock<Arc<File>> = std::sync::OnceLock::new();
        let file = match NULL.get() {
            Some(f) => f.clone(),
            None => {
                let f = Arc::new(File::open("/dev/null")?);
                NULL.get_or_init(|| f).clone()
            }
        };
        Ok(FileSlice {
            file,
            position: 0,
            len: 0,
        })
    }

    /// Read the slice into memory (one copy, straight from the page cache into a buffer that is
    /// not zero-filled first: zeroing cost ~10 % of the broker's CPU on the fetch path).
    /// A slice that reaches past the end of the file is an `UnexpectedEof` I/O error.
    pub fn to_bytes(&self) -> Result<Bytes, LogError> {
        let mut buf: Vec<u8> = Vec::with_capacity(self.len);
        let fd = self.file.as_raw_fd();
        while buf.len() < self.len {
            let filled = buf.len();
            let spare = &mut buf.spare_capacity_mut()[..self.len - filled];
            let offset = libc::off_t::try_from(self.position + filled as u64)
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
            // SAFETY: pread writes at most `spare.len()` bytes into `spare`, which is memory this
            // Vec owns; `set_len` below covers only the bytes pread reports as written.
            let n = unsafe { libc::pread(fd, spare.as_mut_ptr().cast(), spare.len(), offset) };
            match n {
                n if n > 0 => {
                    // SAFETY: bytes filled..filled+n were just initialised by pread.
                    unsafe { buf.set_len(filled + n as usize) };
                }
                0 => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
                _ => {
                    let e = std::io::Error::last_os_error();
                    if e.kind() != std::io::ErrorKind::Interrupted {
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(Bytes::from(buf))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(content: &[u8]) -> Arc<File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        Arc::new(f)
    }

    #[test]
    fn to_bytes_reads_exactly_the_slice() {
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let file = file_with(&content);
        for (position, len) in [(0usize, 0usize), (0, 10), (7, 131_072), (299_990, 10)] {
            let slice = FileSlice {
                file: file.clone(),
                position: position as u64,
                len,
            };
            assert_eq!(
                slice.to_bytes().unwrap().as_ref(),
                &content[position..position + len]
            );
        }
    }

    #[test]
    fn to_bytes_past_the_end_of_the_file_is_an_error() {
        let slice = FileSlice {
            file: file_with(b"0123456789"),
            position: 5,
            len: 10,
        };
        match slice.to_bytes() {
            Err(LogError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
            other => panic!("expected UnexpectedEof, got {other:?}"),
        }
    }
}
