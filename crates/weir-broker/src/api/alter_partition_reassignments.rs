//! AlterPartitionReassignments (key 45, KIP-455): start or cancel (null replicas) the
//! reassignment of each listed partition. Errors are per partition; when the metadata quorum is
//! unavailable the request fails as a whole (top-level error, repeated on every partition).

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::admin::reassignment::is_request_level;
use crate::admin::topics::TopicAdmin;

/// Start or cancel the requested reassignments, in request order.
pub async fn handle(
    admin: &TopicAdmin,
    version: i16,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    // v0 has no such field: the replication factor may change, as before KIP-860.
    let allow_rf_change = version < 1 || req.allow_replication_factor_change;
    let deadline = crate::admin::proposal::deadline_of(req.timeout_ms);
    let mut resp = AlterPartitionReassignmentsResponse::default();
    resp.allow_replication_factor_change = allow_rf_change;
    let mut failed: Option<(i16, String)> = None;
    for t in req.topics {
        let mut tr = ReassignableTopicResponse::default();
        tr.name = t.name.clone();
        for p in t.partitions {
            let mut pr = ReassignablePartitionResponse::default();
            pr.partition_index = p.partition_index;
            if failed.is_none() {
                let target = p
                    .replicas
                    .map(|r| r.into_iter().map(|b| b.0).collect::<Vec<i32>>());
                if let Err(e) = admin
                    .reassign_partition(
                        &t.name.0,
                        p.partition_index,
                        target,
                        allow_rf_change,
                        deadline,
                    )
                    .await
                {
                    if is_request_level(&e) {
                        failed = Some((e.code(), e.message()));
                    } else {
                        pr.error_code = e.code();
                        pr.error_message = Some(StrBytes::from_string(e.message()));
                    }
                }
            }
            if let Some((code, message)) = &failed {
                pr.error_code = *code;
                pr.error_message = Some(StrBytes::from_string(message.clone()));
            }
            tr.partitions.push(pr);
        }
        resp.responses.push(tr);
    }
    if let Some((code, message)) = failed {
        resp.error_code = code;
        resp.error_message = Some(StrBytes::from_string(message));
    }
    resp
}
