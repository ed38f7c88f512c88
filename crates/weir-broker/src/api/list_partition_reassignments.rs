//! ListPartitionReassignments (key 46, KIP-455): the reassignments in progress, of every
//! partition (null topics) or of the requested ones, with their replicas, adding replicas and
//! removing replicas. Partitions without one (or unknown) are left out, as in Kafka.

use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::admin::topics::TopicAdmin;

fn ids(v: &[i32]) -> Vec<BrokerId> {
    v.iter().copied().map(BrokerId).collect()
}

/// List the ongoing reassignments, grouped by topic.
pub async fn handle(
    admin: &TopicAdmin,
    _version: i16,
    req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let requested: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    let mut resp = ListPartitionReassignmentsResponse::default();
    for r in admin.ongoing_reassignments(requested.as_deref()) {
        let mut p = OngoingPartitionReassignment::default();
        p.partition_index = r.partition;
        p.replicas = ids(&r.info.replicas);
        p.adding_replicas = ids(&r.info.adding_replicas);
        p.removing_replicas = ids(&r.info.removing_replicas);
        match resp.topics.last_mut() {
            Some(t) if t.name.0.as_str() == r.topic => t.partitions.push(p),
            _ => {
                let mut t = OngoingTopicReassignment::default();
                t.name = TopicName(StrBytes::from_string(r.topic));
                t.partitions.push(p);
                resp.topics.push(t);
            }
        }
    }
    resp
}
