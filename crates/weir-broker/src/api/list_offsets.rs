//! ListOffsets (key 2): earliest, latest, by timestamp, max timestamp; the tiered-storage
//! timestamps (-4, -5, -6) as Kafka answers them for a topic without tiered storage.

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
/// (v10 adds `timeout_ms`, the bound of a tiered-storage lookup: without tiered storage every
/// lookup is local and it has nothing to bound.)
pub const LATEST_TIERED: i64 = -5;
/// `timestamp` -6 (v11+, KIP-1023): the earliest offset not yet uploaded to tiered storage;
/// Kafka answers offset -1, timestamp -1, leader epoch -1 for a topic without tiered storage,
/// which every Weir topic is.
pub const EARLIEST_PENDING_UPLOAD: i64 = -6;

/// Answer each partition with `(timestamp, offset, leader_epoch)`. Timestamps ≥ 0 find the
/// first record whose timestamp is ≥ the target and MAX_TIMESTAMP the first record holding the
/// largest timestamp, both exact to the record as Kafka (`PartitionLog::offset_for_timestamp`,
/// `PartitionLog::max_timestamp`; below the high watermark for consumers, below the last
/// stable offset for READ_COMMITTED ones, which is also their LATEST);
/// none → offset -1, timestamp -1, as Kafka. Unknown partition → UNKNOWN_TOPIC_OR_PARTITION;
/// `current_leader_epoch` newer/older than the leader epoch → UNKNOWN_LEADER_EPOCH /
/// FENCED_LEADER_EPOCH; not the leader → NOT_LEADER_OR_FOLLOWER.
pub async fn handle(
    replicas: &ReplicaManager,
    view: &MetadataView,
    version: i16,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let bound = match (i32::from(req.replica_id) < 0, req.isolation_level) {
        (false, _) => Bound::LogEnd,
        (true, 1) => Bound::LastStable,
        (true, _) => Bound::HighWatermark,
    };
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
                bound,
            ) {
                Ok(Some((timestamp, offset))) => {
                    pr.error_code = 0;
                    pr.timestamp = timestamp;
                    pr.offset = offset;
                    // v4+ only: the codec refuses to encode a field an older version lacks.
                    if version >= 4 {
                        pr.leader_epoch = view
                            .partition(&topic, p.partition_index)
                            .map(|i| i.leader_epoch)
                            .unwrap_or(-1);
                    }
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

/// How far a ListOffsets caller may see: replicas the log end, READ_UNCOMMITTED consumers the
/// high watermark, READ_COMMITTED consumers the last stable offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    LogEnd,
    HighWatermark,
    LastStable,
}

/// `(timestamp, offset)` for one partition, None when no offset matches.
fn lookup(
    replicas: &ReplicaManager,
    view: &MetadataView,
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    timestamp: i64,
    bound: Bound,
) -> Result<Option<(i64, i64)>, BrokerError> {
    let log = replicas.require_log(topic, partition)?;
    view.check_leader(topic, partition, current_leader_epoch)?;
    let limit = match bound {
        Bound::LogEnd => log.log_end_offset(),
        Bound::HighWatermark => log.high_watermark(),
        Bound::LastStable => log.last_stable_offset(),
    };
    Ok(match timestamp {
        LATEST => Some((-1, limit)),
        EARLIEST | EARLIEST_LOCAL => Some((-1, log.log_start_offset())),
        MAX_TIMESTAMP => log.max_timestamp()?.filter(|(_, offset)| *offset < limit),
        LATEST_TIERED | EARLIEST_PENDING_UPLOAD => None,
        t if t >= 0 => log
            .offset_for_timestamp(t)?
            .filter(|(offset, _)| *offset < limit)
            .map(|(offset, ts)| (ts, offset)),
        _ => None,
    })
}
