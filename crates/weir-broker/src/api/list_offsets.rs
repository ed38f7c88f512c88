//! ListOffsets (key 2): earliest, latest, by timestamp, max timestamp.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::replica::manager::ReplicaManager;

/// `timestamp` -1: the latest offset (high watermark for consumers, last stable offset for
/// READ_COMMITTED — equal while Weir has no transactions — log end offset for replicas).
pub const LATEST: i64 = -1;
/// `timestamp` -2: the log start offset.
pub const EARLIEST: i64 = -2;
/// `timestamp` -3 (v7+): the offset of the record with the largest timestamp.
pub const MAX_TIMESTAMP: i64 = -3;
/// `timestamp` -4 (v8+): earliest local offset; without tiered storage, the log start offset.
pub const EARLIEST_LOCAL: i64 = -4;
/// `timestamp` -5 (v9+): latest tiered offset; without tiered storage there is none (-1).
pub const LATEST_TIERED: i64 = -5;

/// Answer each partition with `(timestamp, offset, leader_epoch)`. Timestamps ≥ 0 find the
/// first offset whose timestamp is ≥ the target (below the high watermark for consumers);
/// none → offset -1, timestamp -1, as Kafka. Unknown partition → UNKNOWN_TOPIC_OR_PARTITION;
/// `current_leader_epoch` newer/older than the leader epoch → UNKNOWN_LEADER_EPOCH /
/// FENCED_LEADER_EPOCH; not the leader → NOT_LEADER_OR_FOLLOWER.
pub async fn handle(
    replicas: &ReplicaManager,
    view: &MetadataView,
    _version: i16,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let is_consumer = i32::from(req.replica_id) < 0;
    let mut resp = ListOffsetsResponse::default();
    resp.throttle_time_ms = 0;
    for t in req.topics {
        let mut tr = ListOffsetsTopicResponse::default();
        let topic = t.name.0.as_str().to_string();
        tr.name = t.name;
        for p in t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            match lookup(
                replicas,
                view,
                &topic,
                p.partition_index,
                p.current_leader_epoch,
                p.timestamp,
                is_consumer,
            ) {
                Ok(Some((timestamp, offset))) => {
                    pr.error_code = 0;
                    pr.timestamp = timestamp;
                    pr.offset = offset;
                    pr.leader_epoch = view
                        .partition(&topic, p.partition_index)
                        .map(|i| i.leader_epoch)
                        .unwrap_or(-1);
                }
                Ok(None) => {
                    pr.error_code = 0;
                    pr.timestamp = -1;
                    pr.offset = -1;
                    pr.leader_epoch = -1;
                }
                Err(e) => {
                    pr.error_code = e.code();
                    pr.timestamp = -1;
                    pr.offset = -1;
                    pr.leader_epoch = -1;
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    resp
}

/// Within the first batch of `bytes` (a v2 record batch), the first record whose timestamp is
/// ≥ `target`, as `(offset, timestamp)`. weir-log locates timestamps at batch granularity;
/// this narrows the answer to the exact record as Kafka does. Compressed batches are not
/// decompressed here: `None`, and the caller answers with the batch's base offset and max
/// timestamp (never later than Kafka's answer).
fn first_record_at_or_after(bytes: &[u8], target: i64) -> Option<(i64, i64)> {
    const HEADER: usize = 61;
    let header = bytes.get(..HEADER)?;
    let be_i64 = |at: usize| -> Option<i64> {
        Some(i64::from_be_bytes(header.get(at..at + 8)?.try_into().ok()?))
    };
    let base_offset = be_i64(0)?;
    let batch_len =
        usize::try_from(i32::from_be_bytes(header.get(8..12)?.try_into().ok()?)).ok()?;
    let magic = header[16];
    let attributes = u16::from_be_bytes(header.get(21..23)?.try_into().ok()?);
    let base_ts = be_i64(27)?;
    let max_ts = be_i64(35)?;
    let count = i32::from_be_bytes(header.get(57..61)?.try_into().ok()?);
    if magic != 2 || attributes & 0x07 != 0 {
        return None;
    }
    if attributes & 0x08 != 0 {
        // LogAppendTime: every record carries the batch's max timestamp.
        return (max_ts >= target).then_some((base_offset, max_ts));
    }
    let end = bytes.len().min(batch_len.checked_add(12)?);
    let mut pos = HEADER;
    for _ in 0..count {
        let (len, n) = read_varint(bytes.get(pos..end)?)?;
        let body_start = pos + n;
        let body_end = body_start.checked_add(usize::try_from(len).ok()?)?;
        let body = bytes.get(body_start..body_end.min(end))?;
        let (ts_delta, a) = read_varint(body.get(1..)?)?;
        let (offset_delta, _) = read_varint(body.get(1 + a..)?)?;
        let ts = base_ts.checked_add(ts_delta)?;
        if ts >= target {
            return Some((base_offset.checked_add(offset_delta)?, ts));
        }
        pos = body_end;
    }
    None
}

/// A zigzag varint/varlong: (value, bytes used).
fn read_varint(bytes: &[u8]) -> Option<(i64, usize)> {
    let mut raw: u64 = 0;
    for (i, b) in bytes.iter().take(10).enumerate() {
        raw |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let value = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
            return Some((value, i + 1));
        }
    }
    None
}

/// `(timestamp, offset)` for one partition, None when no offset matches.
fn lookup(
    replicas: &ReplicaManager,
    view: &MetadataView,
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    timestamp: i64,
    is_consumer: bool,
) -> Result<Option<(i64, i64)>, BrokerError> {
    let log = replicas.require_log(topic, partition)?;
    view.check_leader(topic, partition, current_leader_epoch)?;
    let limit = if is_consumer {
        log.high_watermark()
    } else {
        log.log_end_offset()
    };
    Ok(match timestamp {
        LATEST => Some((-1, limit)),
        EARLIEST | EARLIEST_LOCAL => Some((-1, log.log_start_offset())),
        MAX_TIMESTAMP => log.max_timestamp().filter(|(_, offset)| *offset < limit),
        LATEST_TIERED => None,
        t if t >= 0 => match log.offset_for_timestamp(t)? {
            Some((base, batch_max_ts)) if base < limit => {
                let exact = log
                    .read(base, 1, limit)
                    .ok()
                    .and_then(|r| r.records.to_bytes().ok())
                    .and_then(|bytes| first_record_at_or_after(&bytes, t));
                match exact {
                    Some((offset, ts)) if offset < limit => Some((ts, offset)),
                    Some(_) => None,
                    None => Some((batch_max_ts, base)),
                }
            }
            _ => None,
        },
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_varints() {
        assert_eq!(read_varint(&[0x00]), Some((0, 1)));
        assert_eq!(read_varint(&[0x01]), Some((-1, 1)));
        assert_eq!(read_varint(&[0x02]), Some((1, 1)));
        assert_eq!(read_varint(&[0xac, 0x02]), Some((150, 2)));
        assert_eq!(read_varint(&[0x80]), None);
    }

    #[test]
    fn garbage_batches_give_none() {
        assert_eq!(first_record_at_or_after(&[], 0), None);
        assert_eq!(first_record_at_or_after(&[0xff; 80], 0), None);
    }
}
