//! RemoveRaftVoter (key 81, KIP-853): take a controller out of the voter set — what
//! `kafka-metadata-quorum.sh remove-controller` and `weir quorum remove-voter` send.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{RemoveRaftVoterRequest, RemoveRaftVoterResponse};
use kafka_protocol::protocol::StrBytes;
use weir_meta::raft::voter_set::VoterChange;
use weir_meta::raft::MetaNode;

use crate::error::BrokerError;

/// How long the change may take (the request has no timeout field).
const TIMEOUT: Duration = Duration::from_secs(30);

/// Remove `voter_id` from the voter set through the Raft leader (asked over the CONTROLLER
/// transport when this node does not lead), answering once the new set is committed; a removed
/// node that keeps running follows the log as an observer, and a removed leader steps down.
/// Errors: INCONSISTENT_CLUSTER_ID, VOTER_NOT_FOUND (not a voter, or the only voter — as Kafka),
/// INVALID_REQUEST (Weir's addition: the old or new voter set would have no live majority, so
/// the change could not commit and the quorum would be lost), REQUEST_TIMED_OUT (another change
/// in progress, or not committed in time), NOT_CONTROLLER (no leader reachable). Deviation: the
/// directory id is accepted and not checked.
pub async fn handle(
    quorum: &MetaNode,
    cluster_id: &str,
    req: RemoveRaftVoterRequest,
) -> RemoveRaftVoterResponse {
    let mut resp = RemoveRaftVoterResponse::default();
    if req
        .cluster_id
        .as_ref()
        .is_some_and(|c| !c.is_empty() && c.as_str() != cluster_id)
    {
        resp.error_code = ResponseError::InconsistentClusterId.code();
        resp.error_message = Some(StrBytes::from_string(format!(
            "this is cluster {cluster_id}"
        )));
        return resp;
    }
    let Ok(id) = u64::try_from(req.voter_id) else {
        resp.error_code = ResponseError::VoterNotFound.code();
        resp.error_message = Some(StrBytes::from_string(format!("no voter {}", req.voter_id)));
        return resp;
    };
    if let Err(e) = quorum
        .change_voters(VoterChange::Remove { id }, TIMEOUT)
        .await
    {
        let e = BrokerError::from(e);
        resp.error_code = e.code();
        resp.error_message = Some(StrBytes::from_string(e.message()));
    }
    resp
}
