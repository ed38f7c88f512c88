//! Typed storage errors. The broker maps each variant to a Kafka error code in one place.

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Bad CRC, bad length, truncated batch → CORRUPT_MESSAGE (2).
    #[error("corrupt message: {0}")]
    CorruptMessage(String),
    /// Structurally valid but unacceptable batch (count mismatch, magic != 2, ...) →
    /// INVALID_RECORD (87).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Some records of a batch are invalid (KIP-467), e.g. records without a key on a compacted
    /// topic → INVALID_RECORD (87) with each bad record's index in `record_errors`. The batch is
    /// rejected as a whole; clients fail exactly the listed records and may retry the others.
    #[error("{message}")]
    InvalidRecords {
        /// Kafka's summary: how many records were rejected and the first three errors.
        message: String,
        /// One entry per rejected record.
        record_errors: Vec<RecordError>,
    },
    /// Batch larger than `max.message.bytes` → MESSAGE_TOO_LARGE (10).
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge {
        /// Batch size.
        size: usize,
        /// Limit.
        max: u32,
    },
    /// Offset outside [log start, log end] → OFFSET_OUT_OF_RANGE (1).
    #[error("offset {offset} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// Requested.
        offset: i64,
        /// Log start offset.
        log_start: i64,
        /// Log end offset.
        log_end: i64,
    },
    /// Unknown key or unparsable value → INVALID_CONFIG (40).
    #[error("invalid config {key}={value}: {reason}")]
    InvalidConfig {
        /// Config name.
        key: String,
        /// Offending value.
        value: String,
        /// Why.
        reason: String,
    },
    /// An idempotent batch's sequence does not follow the producer's last one →
    /// OUT_OF_ORDER_SEQUENCE_NUMBER (45).
    #[error("out of order sequence: {0}")]
    OutOfOrderSequence(String),
    /// An idempotent batch from an older producer epoch → INVALID_PRODUCER_EPOCH (47).
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    /// A producer wrote a non-transactional batch while its transaction is ongoing →
    /// INVALID_TXN_STATE (48).
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// A transaction marker from an older coordinator epoch than the producer's last marker →
    /// TRANSACTION_COORDINATOR_FENCED (52).
    #[error("transaction coordinator fenced: {0}")]
    TransactionCoordinatorFenced(String),
    /// The partition was deleted → UNKNOWN_TOPIC_OR_PARTITION (3).
    #[error("partition {0} is deleted")]
    Deleted(String),
    /// A checkpoint or index file on disk cannot be parsed.
    #[error("corrupt file {path}: {reason}")]
    CorruptFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The process ran out of file descriptors (EMFILE/ENFILE) even after the segment file cache
    /// closed what it could. Not a disk failure: the log directory stays online and the request
    /// can be retried once descriptors are free.
    #[error(
        "too many open files opening {path}: the process limit RLIMIT_NOFILE (ulimit -n) is \
         {rlimit_nofile} and log.max.open.files is {max_open_files}; raise the limit or lower \
         log.max.open.files"
    )]
    TooManyOpenFiles {
        /// The file that could not be opened.
        path: String,
        /// The soft `RLIMIT_NOFILE` of the process.
        rlimit_nofile: u64,
        /// The segment file cache size (`log.max.open.files`).
        max_open_files: usize,
    },
    /// A segment of the partition failed its check (bit flips, a cut segment) → KAFKA_STORAGE_ERROR
    /// (56): the damaged data is never served; the replica truncates and refetches.
    #[error("disk damage in {partition}: {reason}")]
    Damaged {
        /// `<topic>-<partition>`.
        partition: String,
        /// What is wrong.
        reason: String,
    },
    /// Disk failure → KAFKA_STORAGE_ERROR (56). Nothing is acknowledged after one.
    #[error("storage i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// One rejected record of a batch (Kafka's `RecordError`, the `record_errors` entry of a Produce
/// v8+ partition response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Index of the record within its batch (0 = the batch's first record).
    pub batch_index: i32,
    /// Why this record was rejected.
    pub message: String,
}

impl RecordError {
    /// Kafka's summary error for a batch with `errors` (non-empty): the count and the first
    /// three errors, as `RecordValidationException`'s message reads.
    pub fn summary(errors: &[RecordError]) -> String {
        let shown: Vec<String> = errors
            .iter()
            .take(3)
            .map(|e| {
                format!(
                    "RecordError(batchIndex={}, message='{}')",
                    e.batch_index, e.message
                )
            })
            .collect();
        format!(
            "One or more records have been rejected due to {} record errors in total, and only \
             showing the first three errors at most: [{}]",
            errors.len(),
            shown.join(", ")
        )
    }
}
