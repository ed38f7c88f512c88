//! WriteTxnMarkers (key 27): a transaction coordinator asks this broker, as partition leader,
//! to write COMMIT / ABORT markers.

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use weir_log::txn_marker::TxnMarker;
use weir_log::{TopicPartition, TxnResult};

use crate::coordinators::markers::LocalMarkers;

/// Every marker of the request is written to each of its partitions (this broker must lead
/// them: NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION otherwise) with acks=all and
/// answered per partition: NONE once replicated, or the log's INVALID_PRODUCER_EPOCH /
/// TRANSACTION_COORDINATOR_FENCED, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT. A marker for a
/// `__consumer_offsets` partition also completes the producer's pending offsets there. v2
/// (KIP-1228) names each marker's transaction version: 2 makes the leader's epoch check strict
/// (a marker must bump the producer epoch, unless it is an idempotent retry); v1 markers are
/// checked as transaction version 0/1, as Kafka does.
pub async fn handle(
    markers: &LocalMarkers,
    _version: i16,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let mut resp = WriteTxnMarkersResponse::default();
    for m in req.markers {
        let marker = TxnMarker {
            producer_id: m.producer_id.0,
            producer_epoch: m.producer_epoch,
            coordinator_epoch: m.coordinator_epoch,
            result: if m.transaction_result {
                TxnResult::Commit
            } else {
                TxnResult::Abort
            },
            // v1 has no such field: the codec's default, 0 (legacy).
            transaction_version: i16::from(m.transaction_version),
        };
        let mut out = WritableTxnMarkerResult::default();
        out.producer_id = m.producer_id;
        for t in m.topics {
            let mut tr = WritableTxnMarkerTopicResult::default();
            for p in t.partition_indexes {
                let tp = TopicPartition::new(t.name.0.as_str(), p);
                let mut pr = WritableTxnMarkerPartitionResult::default();
                pr.partition_index = p;
                pr.error_code = markers.write(&tp, &marker).await;
                tr.partitions.push(pr);
            }
            tr.name = t.name;
            out.topics.push(tr);
        }
        resp.markers.push(out);
    }
    resp
}
