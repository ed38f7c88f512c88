//! OffsetForLeaderEpoch (key 23): where a leader epoch ends in this leader's log (KIP-101 /
//! KIP-279; consumers use it to detect truncation after a leader change, KIP-320).

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::metadata::view::MetadataView;
use crate::replica::manager::ReplicaManager;

/// For each partition: the largest epoch ≤ the requested one that this leader knows and the
/// offset where it ends (the start of the next epoch, or the log end offset for the latest
/// epoch), as Kafka's `LeaderEpochFileCache.endOffsetFor`; (-1, -1) when the requested epoch is
/// newer than any known. Only the leader answers: NOT_LEADER_OR_FOLLOWER elsewhere,
/// FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH for a stale or future `current_leader_epoch`,
/// UNKNOWN_TOPIC_OR_PARTITION for partitions that do not exist.
pub async fn handle(
    replicas: &ReplicaManager,
    view: &MetadataView,
    _version: i16,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let mut resp = OffsetForLeaderEpochResponse::default();
    for t in req.topics {
        let mut tr = OffsetForLeaderTopicResult::default();
        let name = t.topic.0.as_str().to_string();
        tr.topic = t.topic;
        for p in t.partitions {
            let mut e = EpochEndOffset::default();
            e.partition = p.partition;
            e.leader_epoch = -1;
            e.end_offset = -1;
            let answer = replicas.require_log(&name, p.partition).and_then(|log| {
                view.check_leader(&name, p.partition, p.current_leader_epoch)
                    .map(|_| log)
            });
            match answer {
                Ok(log) => {
                    let (epoch, end) = log.end_offset_for_epoch(p.leader_epoch);
                    e.error_code = 0;
                    e.leader_epoch = epoch;
                    e.end_offset = end;
                }
                Err(err) => e.error_code = err.code(),
            }
            tr.partitions.push(e);
        }
        resp.topics.push(tr);
    }
    resp
}
