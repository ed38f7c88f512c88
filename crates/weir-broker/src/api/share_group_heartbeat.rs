//! ShareGroupHeartbeat (key 76, v1): share-group membership on the group's coordinator
//! (KIP-932). A member that leaves (epoch -1) keeps its share sessions: as in Kafka, its records
//! are released when it closes them (ShareFetch / ShareAcknowledge with epoch -1, which a
//! closing client sends after leaving) or when their locks expire.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::share_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse};
use kafka_protocol::protocol::StrBytes;
use weir_share_coordinator::HeartbeatRequest;

use super::context::RequestContext;
use crate::error::BrokerError;
use crate::share::groups::ShareGroupCoordinator;

/// Join (epoch 0), heartbeat, or leave (-1); errors as Kafka (NOT_COORDINATOR,
/// UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH, INVALID_REQUEST, GROUP_MAX_SIZE_REACHED). An empty
/// group id is an invalid request (Kafka's request validation, before the coordinator).
pub async fn handle(
    groups: &ShareGroupCoordinator,
    ctx: &RequestContext,
    _version: i16,
    req: ShareGroupHeartbeatRequest,
) -> ShareGroupHeartbeatResponse {
    if req.group_id.is_empty() {
        let mut resp = ShareGroupHeartbeatResponse::default();
        resp.error_code = ResponseError::InvalidRequest.code();
        resp.error_message = Some(StrBytes::from_static_str("GroupId can't be empty."));
        return resp;
    }
    let hb = HeartbeatRequest {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        rack_id: req.rack_id.as_ref().map(|r| r.to_string()),
        subscribed_topic_names: req
            .subscribed_topic_names
            .as_ref()
            .map(|t| t.iter().map(|n| n.to_string()).collect()),
        client_id: ctx.client_id().to_string(),
        client_host: ctx.client_host(),
    };
    let mut resp = ShareGroupHeartbeatResponse::default();
    match groups.heartbeat(hb).await {
        Ok((r, _left)) => {
            resp.member_id = Some(StrBytes::from_string(r.member_id));
            resp.member_epoch = r.member_epoch;
            resp.heartbeat_interval_ms = r.heartbeat_interval_ms;
            resp.assignment = r.assignment.map(|a| {
                let mut out = Assignment::default();
                out.topic_partitions = a
                    .into_iter()
                    .map(|(t, ps)| {
                        let mut tp = TopicPartitions::default();
                        tp.topic_id = uuid::Uuid::from_bytes(t.0);
                        tp.partitions = ps;
                        tp
                    })
                    .collect();
                out
            });
        }
        Err(e) => {
            let e = BrokerError::from(e);
            resp.error_code = e.code();
            resp.error_message = Some(StrBytes::from_string(e.message()));
            resp.member_id = Some(req.member_id);
            resp.member_epoch = -1;
        }
    }
    resp
}
