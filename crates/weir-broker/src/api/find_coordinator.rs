//! FindCoordinator (key 10): a group's coordinator is the leader of its `__consumer_offsets`
//! partition.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::view::MetadataView;
use weir_group_coordinator::{GroupCoordinator, OFFSETS_TOPIC};

/// Group keys (key_type 0) are answered with the advertised endpoint of the broker leading the
/// group's `__consumer_offsets` partition (COORDINATOR_NOT_AVAILABLE while it has no leader),
/// after making sure the topic exists; v0–v3 carry one `key`, v4+ a batch of `coordinator_keys`.
/// Transaction keys (key_type 1) get COORDINATOR_NOT_AVAILABLE (15): Weir has no transaction
/// coordinator yet. An empty group id gets INVALID_REQUEST (42).
pub async fn handle(
    groups: &GroupCoordinator,
    view: &MetadataView,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let offsets_topic = if req.key_type == 0 {
        groups.ensure_offsets_topic().await
    } else {
        Ok(0)
    };
    // The coordinator of a group is the leader of its __consumer_offsets partition.
    let coordinator_of = |key: &str| -> Option<i32> {
        let p = groups.coordinator_partition(key)?;
        view.partition(OFFSETS_TOPIC, p)
            .map(|i| i.leader)
            .filter(|&l| l >= 0)
    };
    // (error code, message, coordinator id, host, port)
    let answer = |key: &str| -> (i16, Option<String>, i32, String, i32) {
        let fail =
            |code: ResponseError, msg: String| (code.code(), Some(msg), -1, String::new(), -1);
        if req.key_type != 0 {
            return fail(
                ResponseError::CoordinatorNotAvailable,
                "Weir has no transaction coordinator yet".into(),
            );
        }
        if key.is_empty() {
            return fail(ResponseError::InvalidRequest, "empty group id".into());
        }
        if let Err(e) = &offsets_topic {
            return fail(ResponseError::CoordinatorNotAvailable, e.message());
        }
        match coordinator_of(key).and_then(|id| view.broker_endpoint(id).map(|(h, p)| (id, h, p))) {
            Some((id, host, port)) => (0, None, id, host, port),
            None => fail(
                ResponseError::CoordinatorNotAvailable,
                format!("the __consumer_offsets partition of group {key} has no live leader"),
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
