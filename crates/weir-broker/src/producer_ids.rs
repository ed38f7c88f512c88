//! Producer id allocation for InitProducerId: ids are handed out from blocks of
//! [`BLOCK_SIZE`]; a block is reserved by durably recording the next block's start in
//! `<log.dirs>/producer-id-block` before any id of it is given out, so ids are never reused across
//! restarts (a crash wastes at most the rest of a block, as in Kafka).
//!
//! Deviation until the Raft controller lands: blocks come from this local file, not from the
//! controller's AllocateProducerIds, so ids are unique per node only.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::BrokerError;

/// Ids per block (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const BLOCK_SIZE: i64 = 1000;

/// File name of the reservation record inside the log dir.
pub const FILE: &str = "producer-id-block";

#[derive(Debug)]
struct Block {
    next: i64,
    end: i64,
}

/// Hands out unique producer ids.
#[derive(Debug)]
pub struct ProducerIdManager {
    path: PathBuf,
    block: Mutex<Block>,
}

fn read_next_block(path: &Path) -> Result<i64, BrokerError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .find_map(|l| l.strip_prefix("next.block.start="))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 0)
            .ok_or_else(|| BrokerError::Config(format!("{} is corrupt: {text:?}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e.into()),
    }
}

impl ProducerIdManager {
    /// Open the allocator for `log_dir` (nothing is reserved until the first id is asked for).
    pub fn open(log_dir: &Path) -> Result<Self, BrokerError> {
        let path = log_dir.join(FILE);
        let next = read_next_block(&path)?;
        Ok(ProducerIdManager {
            path,
            block: Mutex::new(Block { next, end: next }),
        })
    }

    /// A fresh producer id; reserves (durably) a new block when the current one is used up.
    pub fn next_id(&self) -> Result<i64, BrokerError> {
        let mut b = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if b.next >= b.end {
            let start = read_next_block(&self.path)?.max(b.end);
            let end = start + BLOCK_SIZE;
            weir_log::checkpoint::write_atomic(
                &self.path,
                format!("version=1\nnext.block.start={end}\n").as_bytes(),
            )?;
            *b = Block { next: start, end };
        }
        let id = b.next;
        b.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_reopen_and_blocks_are_reserved_first() {
        let dir = tempfile::tempdir().unwrap();
        let m = ProducerIdManager::open(dir.path()).unwrap();
        let first: Vec<i64> = (0..3).map(|_| m.next_id().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2]);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.contains("next.block.start=1000"), "{text}");
        // A restart (or crash) continues with the next block: no id is handed out twice.
        let m2 = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(m2.next_id().unwrap(), 1000);
        for _ in 0..BLOCK_SIZE {
            m2.next_id().unwrap();
        }
        assert!(std::fs::read_to_string(dir.path().join(FILE))
            .unwrap()
            .contains("next.block.start=3000"));
    }

    #[test]
    fn a_corrupt_reservation_file_is_an_error_not_a_reuse() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "garbage").unwrap();
        assert!(matches!(
            ProducerIdManager::open(dir.path()),
            Err(BrokerError::Config(_))
        ));
    }
}
