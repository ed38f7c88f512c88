//! ElectLeaders (key 43, KIP-183 / KIP-460): preferred or unclean leader elections an operator
//! asks for — what `kafka-leader-election.sh` and `weir leaders elect` send.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use weir_meta::election::ElectionType;

use crate::admin::reassignment::is_request_level;
use crate::admin::topics::TopicAdmin;

/// Elect each listed partition's leader (every partition when `topic_partitions` is null, and
/// then every topic is listed with only the partitions whose leader changed or failed to, as
/// Kafka does).
/// Election type 0 is preferred (the only one before v1), 1 unclean; another is INVALID_REQUEST.
/// Per partition: ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
/// ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION; when the metadata quorum is
/// unavailable the request fails as a whole (top-level error, repeated on every partition left).
pub async fn handle(
    admin: &TopicAdmin,
    version: i16,
    req: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let mut resp = ElectLeadersResponse::default();
    let kind = match (version, req.election_type) {
        (0, _) | (_, 0) => ElectionType::Preferred,
        (_, 1) => ElectionType::Unclean,
        _ => {
            resp.error_code = ResponseError::InvalidRequest.code();
            return resp;
        }
    };
    let deadline = crate::admin::proposal::deadline_of(req.timeout_ms);
    let all = req.topic_partitions.is_none();
    let asked: Vec<(String, Vec<i32>)> = match req.topic_partitions {
        Some(list) => list
            .into_iter()
            .map(|t| (t.topic.0.to_string(), t.partitions))
            .collect(),
        None => admin.all_partitions(),
    };
    let mut failed: Option<(i16, String)> = None;
    for (topic, partitions) in asked {
        let mut tr = ReplicaElectionResult::default();
        tr.topic = TopicName(StrBytes::from_string(topic.clone()));
        for partition in partitions {
            let mut pr = PartitionResult::default();
            pr.partition_id = partition;
            if failed.is_none() {
                match admin.elect_leader(&topic, partition, kind, deadline).await {
                    Ok(()) => {}
                    Err(e) if is_request_level(&e) => failed = Some((e.code(), e.message())),
                    Err(e) if all && e.code() == ResponseError::ElectionNotNeeded.code() => {
                        continue
                    }
                    Err(e) => {
                        pr.error_code = e.code();
                        pr.error_message = Some(StrBytes::from_string(e.message()));
                    }
                }
            }
            if let Some((code, message)) = &failed {
                pr.error_code = *code;
                pr.error_message = Some(StrBytes::from_string(message.clone()));
            }
            tr.partition_result.push(pr);
        }
        // Over all partitions Kafka lists every topic, with only the reported partitions.
        if all || !tr.partition_result.is_empty() {
            resp.replica_election_results.push(tr);
        }
    }
    if let Some((code, _)) = failed {
        resp.error_code = code;
    }
    resp
}
