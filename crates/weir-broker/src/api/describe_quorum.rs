//! DescribeQuorum (key 55): the metadata quorum's leader, epoch, high watermark and each voter's
//! and observer's progress — what `kafka-metadata-quorum.sh describe` shows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{
    BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use weir_meta::raft::progress::ReplicaProgress;
use weir_meta::raft::MetaNode;
use weir_meta::MetaError;

use crate::error::BrokerError;

/// Kafka's metadata log partition, the only one DescribeQuorum describes.
const METADATA_TOPIC: &str = "__cluster_metadata";

/// How long a node that does not lead waits for the leader's answer.
const ASK_LEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Answered from the Raft leader (asked over the CONTROLLER listener when this node does not
/// lead), as Kafka's brokers forward it to the controller. A request for anything but
/// `__cluster_metadata`-0 gets UNKNOWN_TOPIC_OR_PARTITION on each asked partition; no leader reachable is
/// NOT_LEADER_OR_FOLLOWER on the partition. Offsets are Raft log positions (one past the last
/// entry). Deviation: openraft does not expose when each follower last fetched, so a replica
/// holding every committed entry reports the time of the answer as its last fetch and last
/// caught-up time, and a lagging one -1 for both; replica directory ids are the zero uuid.
/// From v2 `nodes` lists the voters' CONTROLLER endpoints as the log's voter set records them
/// (KIP-853: voters added with AddRaftVoter included; when no leader answers, this node's log,
/// else `voters`, `controller.quorum.voters`). They speak Weir's Raft transport, not the Kafka protocol.
pub async fn handle(
    quorum: &MetaNode,
    voters: &str,
    version: i16,
    req: DescribeQuorumRequest,
) -> DescribeQuorumResponse {
    let mut resp = DescribeQuorumResponse::default();
    let valid = matches!(req.topics.as_slice(), [t] if t.topic_name.0.as_str() == METADATA_TOPIC
        && matches!(t.partitions.as_slice(), [p] if p.partition_index == 0));
    if !valid {
        // As Kafka's `getPartitionLevelErrorResponse`: every asked partition gets the error.
        resp.topics = req
            .topics
            .iter()
            .map(|t| {
                let mut out = TopicData::default();
                out.topic_name = t.topic_name.clone();
                out.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut e = PartitionData::default();
                        e.partition_index = p.partition_index;
                        e.error_code = ResponseError::UnknownTopicOrPartition.code();
                        e
                    })
                    .collect();
                out
            })
            .collect();
        return resp;
    }
    let mut part = PartitionData::default();
    let mut endpoints = quorum.voter_endpoints();
    if endpoints.is_empty() {
        endpoints = weir_meta::raft::node::parse_voters(voters).unwrap_or_default();
    }
    match quorum.describe_quorum(ASK_LEADER_TIMEOUT).await {
        Ok(q) => {
            endpoints = q.voter_endpoints.iter().cloned().collect();
            part.leader_id = BrokerId(i32::try_from(q.leader).unwrap_or(-1));
            part.leader_epoch = i32::try_from(q.term).unwrap_or(i32::MAX);
            part.high_watermark = q.high_watermark;
            part.current_voters = q.voters.iter().map(replica).collect();
            part.observers = q.observers.iter().map(replica).collect();
        }
        Err(MetaError::NotController(_)) => {
            part.error_code = ResponseError::NotLeaderOrFollower.code();
            part.leader_id = BrokerId(-1);
            part.leader_epoch = -1;
            part.high_watermark = -1;
        }
        Err(e) => {
            resp.error_code = BrokerError::from(e).code();
            return resp;
        }
    }
    let mut topic = TopicData::default();
    topic.topic_name = TopicName(StrBytes::from_static_str(METADATA_TOPIC));
    topic.partitions = vec![part];
    resp.topics = vec![topic];
    if version < 2 {
        // `nodes` is a v2 field: the codec refuses to encode it in older versions.
        return resp;
    }
    resp.nodes = endpoints
        .into_iter()
        .filter_map(|(id, addr)| {
            let (host, port) = addr.rsplit_once(':')?;
            let mut l = Listener::default();
            l.name = StrBytes::from_static_str("CONTROLLER");
            l.host = StrBytes::from_string(host.to_string());
            l.port = port.parse().ok()?;
            let mut n = Node::default();
            n.node_id = BrokerId(i32::try_from(id).ok()?);
            n.listeners = vec![l];
            Some(n)
        })
        .collect();
    resp
}

fn replica(p: &ReplicaProgress) -> ReplicaState {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let seen = if p.caught_up { now } else { -1 };
    let mut r = ReplicaState::default();
    r.replica_id = BrokerId(i32::try_from(p.id).unwrap_or(-1));
    r.log_end_offset = p.log_end_offset;
    r.last_fetch_timestamp = seen;
    r.last_caught_up_timestamp = seen;
    r
}
