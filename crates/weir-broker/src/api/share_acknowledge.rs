//! ShareAcknowledge (key 79, v1-v2): acknowledgements outside a fetch, in the member's share
//! session (KIP-932); v2 adds the Renew acknowledge type and the acquisition lock timeout in
//! the response (KIP-1222).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::share_acknowledge_response::{
    PartitionData, ShareAcknowledgeTopicResponse,
};
use kafka_protocol::messages::{ShareAcknowledgeRequest, ShareAcknowledgeResponse};
use kafka_protocol::protocol::StrBytes;

use super::share_ack_common::{ack_batches, leader_of};
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::share::manager::{share_key, SharePartitionManager};
use crate::share::sessions::SessionStep;

/// Move the session on (epoch 0 is INVALID_SHARE_SESSION_EPOCH: an acknowledge cannot open a
/// session; -1 closes it and releases what the member still holds), then apply each
/// partition's acknowledgements (INVALID_RECORD_STATE, INVALID_REQUEST, NOT_LEADER_OR_FOLLOWER
/// per partition; Renew only from v2, and INVALID_RECORD_STATE when the group's
/// `share.renew.acknowledge.enable` is false). v2 answers the group's lock duration in
/// `acquisition_lock_timeout_ms` (what a renewed lock now lasts).
pub async fn handle(
    share: &SharePartitionManager,
    view: &MetadataView,
    version: i16,
    req: ShareAcknowledgeRequest,
) -> ShareAcknowledgeResponse {
    let mut resp = ShareAcknowledgeResponse::default();
    let group = req
        .group_id
        .as_ref()
        .map(|g| g.to_string())
        .unwrap_or_default();
    let member = req
        .member_id
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    let step = if group.is_empty() || member.is_empty() {
        Err(BrokerError::kafka(
            ResponseError::InvalidRequest,
            "group id and member id are required",
        ))
    } else {
        share
            .sessions()
            .step(&group, &member, req.share_session_epoch, false, &[], &[])
    };
    let step = match step {
        Ok(s) => s,
        Err(e) => {
            resp.error_code = e.code();
            resp.error_message = Some(StrBytes::from_string(e.message()));
            return resp;
        }
    };
    resp.acquisition_lock_timeout_ms = share.config(&group).record_lock_duration_ms;
    let mut out: BTreeMap<(uuid::Uuid, i32), PartitionData> = BTreeMap::new();
    for t in &req.topics {
        for p in &t.partitions {
            let k = (t.topic_id, p.partition_index);
            let wire = p
                .acknowledgement_batches
                .iter()
                .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()));
            let r = match ack_batches(version, wire) {
                Ok(batches) => {
                    let key = share_key(&group, k.0, k.1);
                    share.acknowledge(&key, k.0, &member, &batches).await
                }
                Err(e) => Err(e),
            };
            let mut d = PartitionData::default();
            d.partition_index = k.1;
            let (leader, epoch) = leader_of(view, k.0, k.1);
            d.current_leader.leader_id = leader;
            d.current_leader.leader_epoch = epoch;
            if let Err(e) = r {
                d.error_code = e.code();
                d.error_message = Some(StrBytes::from_string(e.message()));
            }
            out.insert(k, d);
        }
    }
    if let SessionStep::Closed(parts) = step {
        share.release_member(&group, &member, Some(&parts)).await;
    }
    for ((topic_id, _), d) in out {
        match resp.responses.last_mut() {
            Some(t) if t.topic_id == topic_id => t.partitions.push(d),
            _ => {
                let mut t = ShareAcknowledgeTopicResponse::default();
                t.topic_id = topic_id;
                t.partitions.push(d);
                resp.responses.push(t);
            }
        }
    }
    resp
}
