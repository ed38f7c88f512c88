//! Metadata (key 3): brokers, cluster id, controller, topics and partitions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, RequestHeader, TopicName};
use kafka_protocol::protocol::StrBytes;
use tracing::info;

use crate::broker::{Broker, LEADER_EPOCH};
use crate::topic_admin::validate_topic_name;
use crate::topics::TopicMeta;

/// Held while auto-creating a topic.
static AUTO_CREATE: Mutex<()> = Mutex::new(());

/// Describe this single-node cluster. `topics` null (or empty in v0) lists every topic;
/// named topics that do not exist are auto-created (`broker.create_topic(name, -1, -1, {}, false)`)
/// when `auto.create.topics.enable` is true and the request allows it (v4+
/// `allow_auto_topic_creation`), else UNKNOWN_TOPIC_OR_PARTITION; illegal names get
/// INVALID_TOPIC_EXCEPTION. Topics requested by id (v10+) that do not exist get UNKNOWN_TOPIC_ID.
///
/// Deviation: Kafka answers LEADER_NOT_AVAILABLE for a topic it has just auto-created (creation
/// is asynchronous there); Weir creates the topic synchronously and returns its full metadata
/// with no error.
pub async fn handle(
    broker: &Arc<Broker>,
    _header: &RequestHeader,
    version: i16,
    req: MetadataRequest,
) -> MetadataResponse {
    let node_id = broker.config.node_id;
    let (host, port) = broker.advertised_endpoint();
    let mut resp = MetadataResponse::default();
    resp.throttle_time_ms = 0;
    let mut b = MetadataResponseBroker::default();
    b.node_id = node_id.into();
    b.host = StrBytes::from_string(host);
    b.port = port;
    b.rack = broker.config.broker_rack.clone().map(StrBytes::from_string);
    resp.brokers = vec![b];
    resp.cluster_id = Some(StrBytes::from_string(broker.cluster_id.clone()));
    resp.controller_id = node_id.into();

    let list_all = match &req.topics {
        None => true,
        Some(t) => version == 0 && t.is_empty(),
    };
    if list_all {
        let mut metas = broker.topics.list();
        metas.sort_by(|a, b| a.name.cmp(&b.name));
        resp.topics = metas.iter().map(|m| topic_entry(broker, m)).collect();
        return resp;
    }
    let auto_create =
        broker.config.auto_create_topics_enable && (version < 4 || req.allow_auto_topic_creation);
    for t in req.topics.unwrap_or_default() {
        let entry = match t.name {
            Some(name) => by_name(broker, name.0.as_str(), auto_create),
            None if !t.topic_id.is_nil() => match broker.topics.get_by_id(t.topic_id) {
                Some(meta) => topic_entry(broker, &meta),
                None => {
                    let mut e = error_entry(None, ResponseError::UnknownTopicId);
                    e.topic_id = t.topic_id;
                    e
                }
            },
            None => error_entry(None, ResponseError::InvalidRequest),
        };
        resp.topics.push(entry);
    }
    resp
}

fn by_name(broker: &Arc<Broker>, name: &str, auto_create: bool) -> MetadataResponseTopic {
    if let Some(meta) = broker.topics.get(name) {
        return topic_entry(broker, &meta);
    }
    if validate_topic_name(name).is_err() {
        return error_entry(Some(name), ResponseError::InvalidTopicException);
    }
    if !auto_create {
        return error_entry(Some(name), ResponseError::UnknownTopicOrPartition);
    }
    // Serialise auto-creation so two clients asking for the same new topic at once cannot both
    // create it (the second would replace the first's topic id).
    let _guard = AUTO_CREATE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(meta) = broker.topics.get(name) {
        return topic_entry(broker, &meta);
    }
    match broker.create_topic(name, -1, -1, BTreeMap::new(), false) {
        Ok(meta) => {
            info!(
                topic = name,
                partitions = meta.partitions,
                "auto-created topic"
            );
            topic_entry(broker, &meta)
        }
        Err(e) => {
            // A concurrent request may have created it first.
            if let Some(meta) = broker.topics.get(name) {
                return topic_entry(broker, &meta);
            }
            let mut entry = error_entry(Some(name), ResponseError::UnknownTopicOrPartition);
            entry.error_code = e.code();
            entry
        }
    }
}

fn error_entry(name: Option<&str>, code: ResponseError) -> MetadataResponseTopic {
    let mut e = MetadataResponseTopic::default();
    e.error_code = code.code();
    e.name = name.map(|n| TopicName(StrBytes::from_string(n.to_string())));
    e
}

/// A full topic entry: every partition led by this node, epoch 0, replicas = ISR = [node].
fn topic_entry(broker: &Broker, meta: &TopicMeta) -> MetadataResponseTopic {
    let node = broker.config.node_id;
    let mut e = MetadataResponseTopic::default();
    e.error_code = 0;
    e.name = Some(TopicName(StrBytes::from_string(meta.name.clone())));
    e.topic_id = meta.id;
    e.is_internal = meta.name == "__consumer_offsets" || meta.name == "__transaction_state";
    e.partitions = (0..meta.partitions)
        .map(|p| {
            let mut part = MetadataResponsePartition::default();
            part.error_code = 0;
            part.partition_index = p;
            part.leader_id = node.into();
            part.leader_epoch = LEADER_EPOCH;
            part.replica_nodes = vec![node.into()];
            part.isr_nodes = vec![node.into()];
            part.offline_replicas = Vec::new();
            part
        })
        .collect();
    e
}
