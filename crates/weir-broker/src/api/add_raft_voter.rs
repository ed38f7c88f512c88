//! AddRaftVoter (key 80, KIP-853): make a controller that follows the metadata log as an
//! observer a voter — what `kafka-metadata-quorum.sh add-controller` and `weir quorum add-voter`
//! send.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{AddRaftVoterRequest, AddRaftVoterResponse};
use kafka_protocol::protocol::StrBytes;
use weir_meta::raft::voter_set::VoterChange;
use weir_meta::raft::MetaNode;

use crate::error::BrokerError;

/// The CONTROLLER listener's name: the endpoint a new voter is reached on.
const CONTROLLER_LISTENER: &str = "CONTROLLER";

/// Bounds on the request's `timeout_ms` (the wait for the new voter to catch up and the change
/// to commit).
const MIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// The timeout a voter change gets from a request's `timeout_ms`.
pub(crate) fn change_timeout(timeout_ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0)).clamp(MIN_TIMEOUT, MAX_TIMEOUT)
}

/// The error response for `code` with `message`.
fn refused(code: ResponseError, message: String) -> AddRaftVoterResponse {
    let mut resp = AddRaftVoterResponse::default();
    resp.error_code = code.code();
    resp.error_message = Some(StrBytes::from_string(message));
    resp
}

/// Add `voter_id`, reached at its `CONTROLLER` listener, to the voter set (through the Raft leader,
/// asked over the CONTROLLER transport when this node does not lead, as Kafka's brokers forward
/// to the active controller), answering once the new voter set is committed. The node becomes a
/// learner first if it is not one yet and must catch up within `timeout_ms`. Errors:
/// INCONSISTENT_CLUSTER_ID (another cluster's id), INVALID_REQUEST (no CONTROLLER endpoint, a
/// negative id, or a new voter set without a live majority), DUPLICATE_VOTER (already a voter),
/// REQUEST_TIMED_OUT (not caught up in time, or another voter change in progress),
/// NOT_CONTROLLER (no leader reachable). Deviation: Weir keys voters by node id only; the
/// directory id is accepted and not checked.
pub async fn handle(
    quorum: &MetaNode,
    cluster_id: &str,
    req: AddRaftVoterRequest,
) -> AddRaftVoterResponse {
    if req
        .cluster_id
        .as_ref()
        .is_some_and(|c| !c.is_empty() && c.as_str() != cluster_id)
    {
        return refused(
            ResponseError::InconsistentClusterId,
            format!("this is cluster {cluster_id}"),
        );
    }
    let Ok(id) = u64::try_from(req.voter_id) else {
        return refused(
            ResponseError::InvalidRequest,
            format!("invalid voter id {}", req.voter_id),
        );
    };
    let Some(endpoint) = req
        .listeners
        .iter()
        .find(|l| l.name.as_str().eq_ignore_ascii_case(CONTROLLER_LISTENER))
    else {
        return refused(
            ResponseError::InvalidRequest,
            format!("the request has no endpoint for the {CONTROLLER_LISTENER} listener"),
        );
    };
    let addr = format!("{}:{}", endpoint.host.as_str(), endpoint.port);
    let change = VoterChange::Add { id, addr };
    match quorum
        .change_voters(change, change_timeout(req.timeout_ms))
        .await
    {
        Ok(()) => AddRaftVoterResponse::default(),
        Err(e) => {
            let e = BrokerError::from(e);
            let mut resp = AddRaftVoterResponse::default();
            resp.error_code = e.code();
            resp.error_message = Some(StrBytes::from_string(e.message()));
            resp
        }
    }
}
