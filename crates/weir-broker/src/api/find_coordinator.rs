//! FindCoordinator (key 10): a group's coordinator is the leader of its `__consumer_offsets`
//! partition, a transactional id's the leader of its `__transaction_state` partition.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::view::MetadataView;
use weir_group_coordinator::{GroupCoordinator, OFFSETS_TOPIC};
use weir_share_coordinator::{ShareStateCoordinator, SHARE_GROUP_STATE_TOPIC};
use weir_txn_coordinator::{TxnCoordinator, TRANSACTION_STATE_TOPIC};

/// Group keys (key_type 0) are answered with the advertised endpoint of the broker leading the
/// group's `__consumer_offsets` partition, transaction keys (key_type 1) with the leader of the
/// transactional id's `__transaction_state` partition (COORDINATOR_NOT_AVAILABLE while it has
/// no leader), share keys (key_type 2, KIP-932: `group:topicId:partition`) with the leader of
/// the key's `__share_group_state` partition, after making sure the topic exists; v0–v3 carry one `key`, v4+ a batch of
/// `coordinator_keys`. Other key types and an empty share key get INVALID_REQUEST (42); an empty
/// group or transactional id is a key like any other, as in Kafka.
pub async fn handle(
    groups: &GroupCoordinator,
    txn: &TxnCoordinator,
    share: &ShareStateCoordinator,
    view: &MetadataView,
    listener: &str,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let (topic, internal) = match req.key_type {
        0 => (OFFSETS_TOPIC, groups.ensure_offsets_topic().await),
        1 => (TRANSACTION_STATE_TOPIC, txn.ensure_topic().await),
        2 => (
            SHARE_GROUP_STATE_TOPIC,
            share.ensure_topic().await.map_err(|e| match e {
                weir_share_coordinator::ShareError::Coordinator(c) => c,
                other => weir_coordinator::CoordinatorError::NotAvailable(other.message()),
            }),
        ),
        _ => ("", Ok(0)),
    };
    let coordinator_of = |key: &str| -> Option<i32> {
        let p = match req.key_type {
            0 => groups.coordinator_partition(key)?,
            1 => txn.coordinator_partition(key)?,
            _ => {
                let n = view.topic(SHARE_GROUP_STATE_TOPIC)?.partitions;
                weir_share_coordinator::partition_for(key, n)
            }
        };
        view.partition(topic, p)
            .map(|i| i.leader)
            .filter(|&l| l >= 0)
    };
    // (error code, message, coordinator id, host, port)
    let answer = |key: &str| -> (i16, Option<String>, i32, String, i32) {
        let fail =
            |code: ResponseError, msg: String| (code.code(), Some(msg), -1, String::new(), -1);
        if topic.is_empty() {
            return fail(
                ResponseError::InvalidRequest,
                format!("unknown coordinator key type {}", req.key_type),
            );
        }
        if key.is_empty() && req.key_type == 2 {
            return fail(
                ResponseError::InvalidRequest,
                "empty coordinator key".into(),
            );
        }
        if let Err(e) = &internal {
            return fail(ResponseError::CoordinatorNotAvailable, e.message());
        }
        match coordinator_of(key).and_then(|id| {
            view.broker_endpoint_on(id, listener)
                .map(|(h, p)| (id, h, p))
        }) {
            Some((id, host, port)) => (0, None, id, host, port),
            None => fail(
                ResponseError::CoordinatorNotAvailable,
                format!("the {topic} partition of {key} has no live leader"),
            ),
        }
    };
    let mut resp = FindCoordinatorResponse::default();
    if version < 4 {
        let (code, msg, id, host, port) = answer(&req.key);
        resp.error_code = code;
        resp.error_message = msg.map(StrBytes::from_string);
        resp.node_id = id.into();
        resp.host = StrBytes::from_string(host);
        resp.port = port;
        return resp;
    }
    resp.coordinators = req
        .coordinator_keys
        .iter()
        .map(|key| {
            let (code, msg, id, host, port) = answer(key);
            let mut c = Coordinator::default();
            c.key = key.clone();
            c.node_id = id.into();
            c.host = StrBytes::from_string(host);
            c.port = port;
            c.error_code = code;
            c.error_message = msg.map(StrBytes::from_string);
            c
        })
        .collect();
    resp
}
