//! Metadata (key 3): brokers, cluster id, controller, topics and partitions.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tracing::info;

use crate::admin::proposal::deadline_of;
use crate::admin::topics::TopicAdmin;
use crate::config::topic::validate_topic_name;
use crate::config::BrokerConfig;
use crate::metadata::topic_meta::TopicMeta;
use crate::metadata::view::MetadataView;

/// Describe the cluster from the applied metadata image: unfenced brokers with their advertised
/// endpoints, the active controller (Raft leader), and per partition leader, leader epoch,
/// replicas and ISR. `topics` null (or empty in v0) lists every topic;
/// named topics that do not exist are auto-created (`admin.create_topic(name, -1, -1, {}, false, _)`)
/// when `auto.create.topics.enable` is true and the request allows it (v4+
/// `allow_auto_topic_creation`), else UNKNOWN_TOPIC_OR_PARTITION; illegal names get
/// INVALID_TOPIC_EXCEPTION. Topics requested by id (v10+) that do not exist get UNKNOWN_TOPIC_ID.
///
/// Deviation: Kafka answers LEADER_NOT_AVAILABLE for a topic it has just auto-created (creation
/// is asynchronous there); Weir creates the topic synchronously and returns its full metadata
/// with no error.
pub async fn handle(
    view: &MetadataView,
    admin: &TopicAdmin,
    config: &BrokerConfig,
    cluster_id: &str,
    listener: &str,
    version: i16,
    req: MetadataRequest,
) -> MetadataResponse {
    let mut resp = MetadataResponse::default();
    resp.throttle_time_ms = 0;
    resp.brokers = brokers(view, listener);
    resp.cluster_id = Some(StrBytes::from_string(cluster_id.to_string()));
    resp.controller_id = view.client_visible_controller().into();

    let list_all = match &req.topics {
        None => true,
        Some(t) => version == 0 && t.is_empty(),
    };
    if list_all {
        let mut metas = view.topics();
        metas.sort_by(|a, b| a.name.cmp(&b.name));
        resp.topics = metas.iter().map(|m| topic_entry(view, m)).collect();
        return resp;
    }
    let auto_create =
        config.auto_create_topics_enable && (version < 4 || req.allow_auto_topic_creation);
    for t in req.topics.unwrap_or_default() {
        // A topic id wins over a missing or empty name (the Java AdminClient's
        // describeTopics(TopicCollection.ofTopicIds(..)) sends name "" with the id), as in Kafka.
        let name = t.name.filter(|n| !n.0.is_empty() || t.topic_id.is_nil());
        let entry = match name {
            Some(name) => by_name(view, admin, name.0.as_str(), auto_create).await,
            None if !t.topic_id.is_nil() => match view.topic_by_id(t.topic_id) {
                Some(meta) => topic_entry(view, &meta),
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

async fn by_name(
    view: &MetadataView,
    admin: &TopicAdmin,
    name: &str,
    auto_create: bool,
) -> MetadataResponseTopic {
    if let Some(meta) = view.topic(name) {
        return topic_entry(view, &meta);
    }
    if validate_topic_name(name).is_err() {
        return error_entry(Some(name), ResponseError::InvalidTopicException);
    }
    if !auto_create {
        return error_entry(Some(name), ResponseError::UnknownTopicOrPartition);
    }
    // Two clients asking for the same new topic at once: Raft orders the two CreateTopic records
    // and the second fails validation (TOPIC_ALREADY_EXISTS), answered below with the first's.
    match admin
        .create_topic(name, -1, -1, BTreeMap::new(), false, deadline_of(0))
        .await
    {
        Ok(meta) => {
            info!(
                topic = name,
                partitions = meta.partitions,
                "auto-created topic"
            );
            topic_entry(view, &meta)
        }
        Err(e) => {
            // A concurrent request may have created it first.
            if let Some(meta) = view.topic(name) {
                return topic_entry(view, &meta);
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

/// The unfenced brokers of the image with their endpoints on `listener` (the one the request
/// came in on); this broker with its live advertised endpoint (the port actually bound when
/// configured as 0) unless it is fenced.
pub fn brokers(view: &MetadataView, listener: &str) -> Vec<MetadataResponseBroker> {
    let image = view.image();
    let mut out: Vec<MetadataResponseBroker> = image
        .brokers
        .values()
        .filter(|b| !b.fenced && b.id != view.node_id())
        .filter_map(|b| {
            let ep = b
                .listeners
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(listener))
                .or_else(|| b.listeners.first())?;
            let mut m = MetadataResponseBroker::default();
            m.node_id = b.id.into();
            m.host = StrBytes::from_string(ep.host.clone());
            m.port = i32::from(ep.port);
            m.rack = b.rack.clone().map(StrBytes::from_string);
            Some(m)
        })
        .collect();
    // This broker itself, with its live endpoint, unless the controller has fenced it (a fresh
    // incarnation is fenced until its first heartbeat, as in KRaft).
    if view.is_broker() && !view.self_fenced() {
        let (host, port) = view.advertised_endpoint_on(listener);
        let mut m = MetadataResponseBroker::default();
        m.node_id = view.node_id().into();
        m.host = StrBytes::from_string(host);
        m.port = port;
        m.rack = view.identity().rack.clone().map(StrBytes::from_string);
        out.push(m);
    }
    out
}

/// A full topic entry from the image: leader, leader epoch, replicas, ISR and offline replicas
/// (fenced brokers) per partition; LEADER_NOT_AVAILABLE (5) for a partition without a leader.
pub(super) fn topic_entry(view: &MetadataView, meta: &TopicMeta) -> MetadataResponseTopic {
    let image = view.image();
    let mut e = MetadataResponseTopic::default();
    e.error_code = 0;
    e.name = Some(TopicName(StrBytes::from_string(meta.name.clone())));
    e.topic_id = meta.id;
    e.is_internal = meta.name == "__consumer_offsets" || meta.name == "__transaction_state";
    let parts = image
        .topics
        .get(&meta.name)
        .map(|t| t.partitions.clone())
        .unwrap_or_default();
    let fenced = |r: &i32| image.brokers.get(r).is_none_or(|b| b.fenced);
    e.partitions = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut part = MetadataResponsePartition::default();
            part.error_code = if p.leader < 0 {
                ResponseError::LeaderNotAvailable.code()
            } else {
                0
            };
            part.partition_index = i as i32;
            part.leader_id = p.leader.into();
            part.leader_epoch = p.leader_epoch;
            part.replica_nodes = p.replicas.iter().map(|r| (*r).into()).collect();
            part.isr_nodes = p.isr.iter().map(|r| (*r).into()).collect();
            part.offline_replicas = p
                .replicas
                .iter()
                .filter(|r| fenced(r) && **r != view.node_id())
                .map(|r| (*r).into())
                .collect();
            part
        })
        .collect();
    e
}
