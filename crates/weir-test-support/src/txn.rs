//! Helpers for transaction tests: transactional librdkafka producers, the transaction
//! coordinator of an id, and a partition's high watermark / last stable offset.

use std::time::Duration;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::producer::{BaseProducer, Producer};

use crate::clients::{producer, AckLog};
use crate::raw::RawClient;

/// A transactional librdkafka producer (`transactional.id` = `id`, acks=all) with its
/// transactions initialised; `extra` overrides settings (e.g. `transaction.timeout.ms`).
pub fn transactional_producer(
    bootstrap: &str,
    id: &str,
    extra: &[(&str, &str)],
) -> (BaseProducer<AckLog>, AckLog) {
    // librdkafka requires message.timeout.ms <= transaction.timeout.ms.
    let timeout = extra
        .iter()
        .find(|(k, _)| *k == "transaction.timeout.ms")
        .map_or("60000", |(_, v)| *v);
    let mut cfg: Vec<(&str, &str)> = vec![
        ("transactional.id", id),
        ("acks", "all"),
        ("message.timeout.ms", timeout),
    ];
    cfg.extend_from_slice(extra);
    let (p, acks) = producer(bootstrap, &cfg);
    p.init_transactions(Duration::from_secs(60))
        .expect("init_transactions");
    (p, acks)
}

/// The node id of the transaction coordinator of `id` as the broker at `bootstrap` answers
/// FindCoordinator (None on an error or no answer).
pub fn txn_coordinator(bootstrap: &str, id: &str) -> Option<i32> {
    let mut c = RawClient::try_connect(bootstrap).ok()?;
    c.set_timeout(Duration::from_secs(5));
    let r: FindCoordinatorResponse = c
        .try_call(
            ApiKey::FindCoordinator,
            3,
            &FindCoordinatorRequest::default()
                .with_key(StrBytes::from_string(id.to_string()))
                .with_key_type(1),
        )
        .ok()?;
    (r.error_code == 0).then_some(r.node_id.0)
}

/// ListOffsets LATEST of `topic`-`partition` from its leader at `bootstrap`: the high watermark
/// (`read_committed` false) or the last stable offset (true); None on any error.
pub fn latest_offset(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    read_committed: bool,
) -> Option<i64> {
    let mut c = RawClient::try_connect(bootstrap).ok()?;
    c.set_timeout(Duration::from_secs(5));
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = -1;
    p.current_leader_epoch = -1;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = (-1).into();
    req.isolation_level = i8::from(read_committed);
    req.topics = vec![t];
    let resp: ListOffsetsResponse = c.try_call(ApiKey::ListOffsets, 7, &req).ok()?;
    let p = resp.topics.first()?.partitions.first()?;
    (p.error_code == 0).then_some(p.offset)
}
