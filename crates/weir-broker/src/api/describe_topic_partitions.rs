//! DescribeTopicPartitions (key 75, KIP-966): topics and their partitions, paged by a cursor —
//! what `kafka-topics.sh --describe` of Kafka 3.8+ asks instead of Metadata.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::config::topic::validate_topic_name;
use crate::metadata::view::MetadataView;

/// The operations Kafka defines on a TOPIC, as the bit field of their AclOperation codes: READ
/// (3), WRITE (4), CREATE (5), DELETE (6), ALTER (7), DESCRIBE (8), DESCRIBE_CONFIGS (10),
/// ALTER_CONFIGS (11) — 3576, what Kafka answers without an authorizer (with one, the
/// authorization gate replaces it by the requester's).
const TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

/// Describe `req.topics` (all topics when empty), sorted by name, from the cursor's topic and
/// partition on, at most min(`response_partition_limit`, `max.request.partition.size.limit`)
/// partitions (at least 1); when more remain, `next_cursor` names the first one left out, as
/// Kafka's `describeTopicResponse`. A named topic that does not exist is
/// UNKNOWN_TOPIC_OR_PARTITION, with the topic operations as an existing one's (as Kafka;
/// INVALID_TOPIC_EXCEPTION for an illegal name, without them); with all topics
/// asked for, none is reported missing. A cursor with a negative partition, or whose topic is not
/// among those asked for, fails every asked topic with INVALID_REQUEST. Per partition: leader
/// (-1 and LEADER_NOT_AVAILABLE without one), leader epoch, replicas, ISR, offline replicas; the
/// eligible-leader-replica lists are empty (Weir has no ELR, as Kafka with it off).
pub fn handle(
    view: &MetadataView,
    max_partitions: i32,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let mut resp = DescribeTopicPartitionsResponse::default();
    let cursor = req
        .cursor
        .as_ref()
        .map(|c| (c.topic_name.0.to_string(), c.partition_index));
    let from = cursor.as_ref().map(|c| c.0.as_str()).unwrap_or("");
    let all = req.topics.is_empty();
    let mut names: Vec<String> = if all {
        view.topics().into_iter().map(|t| t.name).collect()
    } else {
        req.topics.iter().map(|t| t.name.0.to_string()).collect()
    };
    names.retain(|n| n.as_str() >= from);
    names.sort();
    names.dedup();
    if let Some((topic, partition)) = &cursor {
        if *partition < 0 || !names.contains(topic) {
            resp.topics = req
                .topics
                .iter()
                .map(|t| error_topic(t.name.0.as_str(), ResponseError::InvalidRequest))
                .collect();
            return resp;
        }
    }
    let mut remaining =
        usize::try_from(max_partitions.min(req.response_partition_limit).max(1)).unwrap_or(1);
    for name in names {
        if remaining == 0 {
            resp.next_cursor = Some(cursor_at(&name, 0));
            break;
        }
        let Some(meta) = view.topic(&name) else {
            if !all {
                let missing = if validate_topic_name(&name).is_err() {
                    error_topic(&name, ResponseError::InvalidTopicException)
                } else {
                    // Kafka reports the operations on a topic it does not have too.
                    let mut t = error_topic(&name, ResponseError::UnknownTopicOrPartition);
                    t.topic_authorized_operations = TOPIC_OPERATIONS;
                    t
                };
                resp.topics.push(missing);
            }
            continue;
        };
        let entry = super::metadata::topic_entry(view, &meta);
        let start = match &cursor {
            Some((t, p)) if *t == name => usize::try_from(*p).unwrap_or(0),
            _ => 0,
        };
        let total = entry.partitions.len();
        let end = total.min(start.saturating_add(remaining));
        let mut t = DescribeTopicPartitionsResponseTopic::default();
        t.name = Some(TopicName(StrBytes::from_string(name.clone())));
        t.topic_id = entry.topic_id;
        t.is_internal = entry.is_internal;
        t.topic_authorized_operations = TOPIC_OPERATIONS;
        t.partitions = entry
            .partitions
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .map(|p| {
                let mut d = DescribeTopicPartitionsResponsePartition::default();
                d.error_code = p.error_code;
                d.partition_index = p.partition_index;
                d.leader_id = p.leader_id;
                d.leader_epoch = p.leader_epoch;
                d.replica_nodes = p.replica_nodes;
                d.isr_nodes = p.isr_nodes;
                d.eligible_leader_replicas = Some(Vec::new());
                d.last_known_elr = Some(Vec::new());
                d.offline_replicas = p.offline_replicas;
                d
            })
            .collect();
        remaining -= t.partitions.len();
        resp.topics.push(t);
        if end < total {
            resp.next_cursor = Some(cursor_at(&name, i32::try_from(end).unwrap_or(i32::MAX)));
            break;
        }
    }
    resp
}

fn cursor_at(topic: &str, partition: i32) -> Cursor {
    let mut c = Cursor::default();
    c.topic_name = TopicName(StrBytes::from_string(topic.to_string()));
    c.partition_index = partition;
    c
}

fn error_topic(name: &str, code: ResponseError) -> DescribeTopicPartitionsResponseTopic {
    let mut t = DescribeTopicPartitionsResponseTopic::default();
    t.name = Some(TopicName(StrBytes::from_string(name.to_string())));
    t.error_code = code.code();
    t
}
