//! What the coordinator needs from the broker besides the runtime's storage: producer ids,
//! the transaction markers' delivery, and the group coordinator's partitioning.

use weir_coordinator::{BoxFuture, CoordinatorError};

use crate::types::{TopicPartition, TransactionVersion, TxnResult};

/// Hands out producer ids (implemented by the broker over its producer-id blocks; Kafka's
/// `ProducerIdManager`).
pub trait ProducerIdSource: Send + Sync + 'static {
    /// A producer id never handed out before. An error (e.g. no block available yet:
    /// COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers) is passed to the client.
    fn next_id(&self) -> BoxFuture<'_, Result<i64, CoordinatorError>>;
}

/// Which `__consumer_offsets` partition holds a group (the group coordinator's
/// `partition_for(group, offsets.topic.num.partitions)`; AddOffsetsToTxn adds it to the
/// transaction).
pub trait OffsetsPartitioner: Send + Sync + 'static {
    /// The `__consumer_offsets` partition of `group_id`.
    fn partition_for(&self, group_id: &str) -> i32;
}

/// The markers one transaction needs: a commit or abort marker for `producer_id` at
/// `producer_epoch` in every partition of `partitions` (one WriteTxnMarkers entry per leader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerJob {
    /// The transactional id (for logs; markers do not carry it).
    pub transactional_id: String,
    /// The producer id of the transaction.
    pub producer_id: i64,
    /// The epoch the markers carry (the PrepareCommit / PrepareAbort epoch: bumped with
    /// transaction version 2, or by a fence).
    pub producer_epoch: i16,
    /// Commit or abort.
    pub result: TxnResult,
    /// The leader epoch of the `__transaction_state` partition this coordinator owns
    /// (WriteTxnMarkers' `CoordinatorEpoch`: leaders refuse markers of older coordinators).
    pub coordinator_epoch: i32,
    /// The transaction's client version (KIP-1228's `TransactionVersion` of WriteTxnMarkers).
    pub transaction_version: TransactionVersion,
    /// The partitions still without a marker.
    pub partitions: Vec<TopicPartition>,
}

/// The outcome of writing one marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerResult {
    /// The partition's leader appended the marker (error code NONE).
    Written,
    /// The partition's topic no longer exists: nothing to mark (done, as Kafka drops it).
    TopicDeleted,
    /// The leader (or the way to it) answered this Kafka error code; see
    /// [`marker_disposition`] for which codes are retried.
    Error(i16),
}

/// Writes transaction markers (implemented by the broker's marker sender: WriteTxnMarkers to
/// each partition's leader, or a local append when this broker leads it).
pub trait MarkerWriter: Send + Sync + 'static {
    /// Write `job`'s marker to every partition of `job.partitions`; resolves with one result per
    /// partition (a partition missing from the answer is retried).
    fn write_markers<'a>(
        &'a self,
        job: &'a MarkerJob,
    ) -> BoxFuture<'a, Vec<(TopicPartition, MarkerResult)>>;
}

/// What the coordinator does with a marker result (Kafka's
/// `TransactionMarkerRequestCompletionHandler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerDisposition {
    /// The partition is done (marked, gone, or the producer already moved past it).
    Done,
    /// Try this partition again later.
    Retry,
    /// This coordinator is stale (TRANSACTION_COORDINATOR_FENCED): stop; the new coordinator
    /// completes the transaction.
    Fenced,
}

/// Classify a marker result: written, deleted topics, UNKNOWN_PRODUCER_ID (59),
/// INVALID_PRODUCER_EPOCH (47), UNSUPPORTED_FOR_MESSAGE_FORMAT (43) and UNSUPPORTED_VERSION (35)
/// are done; TRANSACTION_COORDINATOR_FENCED (52) stops the job; everything else is retried
/// (leadership moves, replication shortfalls, timeouts, storage errors — and the errors Kafka
/// treats as fatal bugs, logged loudly: a partition must never be left without its marker).
pub fn marker_disposition(result: MarkerResult) -> MarkerDisposition {
    match result {
        MarkerResult::Written | MarkerResult::TopicDeleted => MarkerDisposition::Done,
        MarkerResult::Error(0 | 35 | 43 | 47 | 59) => MarkerDisposition::Done,
        MarkerResult::Error(52) => MarkerDisposition::Fenced,
        MarkerResult::Error(code) => {
            if matches!(code, 2 | 10 | 18 | 21) {
                tracing::error!(
                    code,
                    "a transaction marker was refused as malformed; retrying"
                );
            }
            MarkerDisposition::Retry
        }
    }
}
