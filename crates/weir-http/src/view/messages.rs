//! The message browser's read: records of one partition from the local replica, from an offset,
//! below the high watermark, decoded (key, value, headers) and bounded in bytes and count.

use serde::Serialize;
use weir_log::batch::{BatchHeader, HEADER_LEN};
use weir_log::records::parse_records;
use weir_log::TopicPartition;

use super::OpsView;

/// The most bytes of record batches one read may return.
pub const MAX_BYTES_LIMIT: usize = 1 << 20;
/// The most records one read may return.
pub const MAX_RECORDS_LIMIT: usize = 500;

/// Bytes shown as UTF-8 text when they are valid UTF-8, and always as hex.
#[derive(Debug, Serialize)]
pub struct Data {
    /// The bytes as text, if valid UTF-8.
    pub text: Option<String>,
    /// The bytes in hex.
    pub hex: String,
    /// Length in bytes.
    pub size: usize,
}

impl Data {
    fn of(bytes: &[u8]) -> Self {
        Data {
            text: std::str::from_utf8(bytes).ok().map(str::to_string),
            hex: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            size: bytes.len(),
        }
    }
}

/// One record.
#[derive(Debug, Serialize)]
pub struct Message {
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch; the batch's max timestamp for LogAppendTime).
    pub timestamp: i64,
    /// Key; None for a null key.
    pub key: Option<Data>,
    /// Value; None for a null value (a tombstone).
    pub value: Option<Data>,
    /// Headers in order.
    pub headers: Vec<(String, Option<Data>)>,
}

/// A page of records.
#[derive(Debug, Serialize)]
pub struct MessagePage {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The records, in offset order.
    pub records: Vec<Message>,
    /// Where the next page starts.
    pub next_offset: i64,
    /// Log start offset of the replica.
    pub log_start: i64,
    /// High watermark (records at or past it are not shown).
    pub high_watermark: i64,
    /// Records in compressed batches, which the browser does not decode.
    pub skipped_compressed: usize,
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the log start offset.
    LogStart,
    /// At this offset (clamped to the log start … high watermark).
    Offset(i64),
    /// At the first record whose timestamp is at or after this one (ms since the epoch).
    Timestamp(i64),
}

/// Why a read has no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// No such topic or partition.
    NotFound(String),
    /// The partition has no replica on this broker.
    NotLocal(String),
    /// The request asks for too much (a batch larger than `max_bytes`).
    TooLarge(String),
    /// The log could not be read.
    Log(String),
}

impl OpsView<'_> {
    /// Up to `limit` records of `topic`/`partition` from `start`, reading at most `max_bytes`
    /// of batches. A first batch larger than `max_bytes` is refused rather than returned whole.
    pub fn read_messages(
        &self,
        topic: &str,
        partition: i32,
        start_at: Start,
        limit: usize,
        max_bytes: usize,
    ) -> Result<MessagePage, ReadError> {
        let exists = self
            .b
            .view
            .image()
            .topics
            .get(topic)
            .is_some_and(|t| usize::try_from(partition).is_ok_and(|p| p < t.partitions.len()));
        if !exists {
            return Err(ReadError::NotFound(format!(
                "no partition {partition} of topic {topic}"
            )));
        }
        let log = self
            .b
            .replicas
            .logs()
            .get(&TopicPartition::new(topic, partition))
            .ok_or_else(|| {
                ReadError::NotLocal(format!(
                    "partition {partition} of {topic} has no replica on node {}; open the console \
                     of a broker that holds one",
                    self.node_id()
                ))
            })?;
        let (start, hw) = (log.log_start_offset(), log.high_watermark());
        let from = match start_at {
            Start::LogStart => start,
            Start::Offset(o) => o,
            Start::Timestamp(ts) => log
                .offset_for_timestamp(ts)
                .map_err(|e| ReadError::Log(e.to_string()))?
                .map_or(hw, |(o, _)| o),
        }
        .clamp(start, hw);
        let mut page = MessagePage {
            topic: topic.to_string(),
            partition,
            records: Vec::new(),
            next_offset: from,
            log_start: start,
            high_watermark: hw,
            skipped_compressed: 0,
        };
        if from >= hw {
            return Ok(page);
        }
        let read = log
            .read(from, max_bytes, hw)
            .map_err(|e| ReadError::Log(e.to_string()))?;
        let bytes = read
            .records
            .to_bytes()
            .map_err(|e| ReadError::Log(e.to_string()))?;
        let mut pos = 0;
        while pos + HEADER_LEN <= bytes.len() && page.records.len() < limit {
            let h = BatchHeader::parse(&bytes[pos..]).map_err(|e| ReadError::Log(e.to_string()))?;
            if pos + h.total_len > bytes.len() {
                break;
            }
            if pos + h.total_len > max_bytes {
                if pos == 0 {
                    return Err(ReadError::TooLarge(format!(
                        "the batch at offset {} is {} bytes, more than max_bytes={max_bytes} \
                         (at most {MAX_BYTES_LIMIT})",
                        h.base_offset, h.total_len
                    )));
                }
                break;
            }
            let batch = &bytes[pos..pos + h.total_len];
            pos += h.total_len;
            page.next_offset = page.next_offset.max(h.next_offset());
            if h.attributes & 0x20 != 0 {
                continue; // a transaction marker
            }
            if h.compression() != 0 {
                page.skipped_compressed += h.records_count.max(0) as usize;
                continue;
            }
            let log_append_time = h.attributes & 0x08 != 0;
            let records = parse_records(batch, &h).map_err(|e| ReadError::Log(e.to_string()))?;
            for r in records {
                let offset = h.base_offset + r.offset_delta;
                if offset < from || offset >= hw {
                    continue;
                }
                if page.records.len() >= limit {
                    page.next_offset = offset;
                    break;
                }
                page.records.push(Message {
                    offset,
                    timestamp: if log_append_time {
                        h.max_timestamp
                    } else {
                        h.base_timestamp + r.timestamp_delta
                    },
                    key: r.key.map(Data::of),
                    value: r.value.map(Data::of),
                    headers: r
                        .headers
                        .iter()
                        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.map(Data::of)))
                        .collect(),
                });
                page.next_offset = offset + 1;
            }
        }
        page.next_offset = page.next_offset.min(hw);
        Ok(page)
    }
}
