//! DescribeProducers (key 61): the producer state of partitions this broker leads (KIP-664).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::view::MetadataView;
use crate::replica::manager::ReplicaManager;

/// Per asked partition: NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION unless this broker
/// leads it, else every producer with state there — id, epoch, last sequence (-1 without
/// batches), last timestamp, the epoch of the coordinator of its last marker, and the first
/// offset of its open transaction (-1 when none), as Kafka's tools expect.
pub async fn handle(
    replicas: &ReplicaManager,
    view: &MetadataView,
    _version: i16,
    req: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let mut resp = DescribeProducersResponse::default();
    for t in req.topics {
        let mut tr = TopicResponse::default();
        for p in t.partition_indexes {
            let mut pr = PartitionResponse::default();
            pr.partition_index = p;
            let topic = t.name.0.as_str();
            let log = view
                .check_leader(topic, p, -1)
                .and_then(|_| replicas.require_log(topic, p));
            match log {
                Err(e) => {
                    pr.error_code = e.code();
                    pr.error_message = Some(StrBytes::from_string(e.message()));
                }
                Ok(log) => {
                    pr.active_producers = log
                        .producers()
                        .into_iter()
                        .map(|(id, e)| {
                            let mut s = ProducerState::default();
                            s.producer_id = id.into();
                            s.producer_epoch = i32::from(e.epoch);
                            s.last_sequence = e.batches.back().map_or(-1, |b| b.last_seq);
                            s.last_timestamp = e.last_timestamp;
                            s.coordinator_epoch = e.coordinator_epoch;
                            s.current_txn_start_offset = e.current_txn_first_offset.unwrap_or(-1);
                            s
                        })
                        .collect();
                }
            }
            if pr.error_code == 0 && pr.active_producers.is_empty() && view.topic(topic).is_none() {
                pr.error_code = ResponseError::UnknownTopicOrPartition.code();
            }
            tr.partitions.push(pr);
        }
        tr.name = t.name;
        resp.topics.push(tr);
    }
    resp
}
