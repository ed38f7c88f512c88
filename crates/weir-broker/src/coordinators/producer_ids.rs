//! Producer id allocation for InitProducerId: ids are handed out from blocks of [`BLOCK_SIZE`]
//! that the controller reserves with an `AllocateProducerIds` record on the metadata log, so ids
//! are unique across the cluster and across restarts (a crash wastes at most the rest of a block,
//! as in Kafka).
//!
//! Data dirs from before the metadata log reserved blocks in `<log.dirs>/producer-id-block`; the
//! first reservation skips past what that file handed out and renames it `.migrated`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Mutex;
use weir_meta::image::Applied;
use weir_meta::raft::MetaNode;
use weir_meta::records::MetadataRecord;

use crate::error::BrokerError;

/// Ids per block (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const BLOCK_SIZE: i64 = 1000;

/// File name of the pre-Raft reservation record inside the log dir.
pub const LEGACY_FILE: &str = "producer-id-block";

#[derive(Debug)]
struct Block {
    next: i64,
    end: i64,
}

/// Hands out unique producer ids.
pub struct ProducerIdManager {
    quorum: Arc<MetaNode>,
    node_id: i32,
    legacy: PathBuf,
    block: Mutex<Block>,
}

impl std::fmt::Debug for ProducerIdManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerIdManager")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

fn read_legacy(path: &Path) -> Result<Option<i64>, BrokerError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .find_map(|l| l.strip_prefix("next.block.start="))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 0)
            .map(Some)
            .ok_or_else(|| BrokerError::Config(format!("{} is corrupt: {text:?}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl ProducerIdManager {
    /// The allocator for a broker whose log dir is `log_dir` (nothing is reserved until the first
    /// id is asked for). A corrupt legacy file is an error, never a reuse of ids.
    pub fn open(log_dir: &Path, quorum: Arc<MetaNode>, node_id: i32) -> Result<Self, BrokerError> {
        let legacy = log_dir.join(LEGACY_FILE);
        read_legacy(&legacy)?;
        Ok(ProducerIdManager {
            quorum,
            node_id,
            legacy,
            block: Mutex::new(Block { next: 0, end: 0 }),
        })
    }

    /// A fresh producer id; reserves a new block through the controller when the current one is
    /// used up.
    pub async fn next_id(&self) -> Result<i64, BrokerError> {
        let (meta, broker) = (&self.quorum, self.node_id);
        let mut b = self.block.lock().await;
        if b.next >= b.end {
            let mut records = Vec::new();
            let legacy = read_legacy(&self.legacy)?;
            if let Some(floor) = legacy {
                let gap = floor - meta.image().next_producer_id;
                if gap > 0 {
                    records.push(MetadataRecord::AllocateProducerIds { broker, count: gap });
                }
            }
            records.push(MetadataRecord::AllocateProducerIds {
                broker,
                count: BLOCK_SIZE,
            });
            let applied = meta.propose(records).await?;
            let Some(Applied::ProducerIds { start, count }) = applied.last().cloned() else {
                return Err(BrokerError::kafka(
                    kafka_protocol::error::ResponseError::UnknownServerError,
                    "the controller did not reserve producer ids",
                ));
            };
            if legacy.is_some() {
                std::fs::rename(&self.legacy, self.legacy.with_extension("migrated"))?;
            }
            *b = Block {
                next: start,
                end: start + count,
            };
        }
        let id = b.next;
        b.next += 1;
        Ok(id)
    }
}
