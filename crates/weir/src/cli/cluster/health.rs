//! What `weir cluster rolling-restart` asks the cluster between restarts, each over a plain
//! connection with Weir's codec (`raw`): DescribeCluster v2 for the registered brokers (fenced
//! ones included, KIP-1073), the quorum's voters and the active controller, Metadata v12 asked of
//! every broker itself for its view of partition health, DescribeQuorum for whether every voter
//! holds the committed metadata log, ElectLeaders for the optional preferred election at the end.

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest,
    DescribeQuorumResponse, ElectLeadersRequest, ElectLeadersResponse, MetadataRequest,
    MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::cli::admin::TIMEOUT;
use crate::cli::raw::{call, failed};

/// A registered broker as DescribeCluster lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// `node.id`.
    pub id: i32,
    /// Its advertised `host:port` on the listener the request came in on.
    pub address: String,
    /// Fenced by the controller (stopped, shutting down, or not yet caught up after a start).
    pub fenced: bool,
}

/// The registered brokers, the metadata quorum's voters and the active controller's id.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    /// Every registered broker, fenced or not, by id.
    pub brokers: Vec<Broker>,
    /// The voters of the metadata quorum (`controller.quorum.voters`), by id; empty when the
    /// cluster does not say (DescribeCluster before v1).
    pub voters: Vec<i32>,
    /// The active controller (DescribeCluster with endpoint type 2, KIP-919), -1 if unknown.
    pub active_controller: i32,
}

/// Partition health as one broker's own metadata shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionHealth {
    /// Partitions of every topic, internal ones included.
    pub partitions: usize,
    /// Partitions whose ISR is smaller than their replica set.
    pub under_replicated: usize,
    /// Partitions without a leader.
    pub offline: usize,
    /// Partitions led by another replica than their first (preferred) one.
    pub not_preferred: usize,
    /// The brokers this broker lists as live (unfenced).
    pub live_brokers: Vec<i32>,
}

impl PartitionHealth {
    /// No under-replicated or offline partition.
    pub fn healthy(&self) -> bool {
        self.under_replicated == 0 && self.offline == 0
    }
}

/// The registered brokers (DescribeCluster v2 with fenced brokers) from the first reachable
/// bootstrap server, and the active controller.
pub fn membership(bootstrap: &str) -> Result<Membership, String> {
    let mut req = DescribeClusterRequest::default();
    req.endpoint_type = 1;
    req.include_fenced_brokers = true;
    let resp: DescribeClusterResponse = call(bootstrap, ApiKey::DescribeCluster, 2, &req)?;
    if resp.error_code != 0 {
        return Err(failed(
            "describe cluster",
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    let mut brokers: Vec<Broker> = resp
        .brokers
        .iter()
        .map(|b| Broker {
            id: b.broker_id.0,
            address: format!("{}:{}", b.host.as_str(), b.port),
            fenced: b.is_fenced,
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    brokers.dedup_by_key(|b| b.id);
    // The voters and the active controller (endpoint type 2, KIP-919): a broker's answer for
    // endpoint type 1 names any live broker as controller.
    let mut req = DescribeClusterRequest::default();
    req.endpoint_type = 2;
    let controllers =
        call::<_, DescribeClusterResponse>(bootstrap, ApiKey::DescribeCluster, 1, &req)
            .ok()
            .filter(|r| r.error_code == 0 && r.endpoint_type == 2);
    let mut voters: Vec<i32> = controllers
        .iter()
        .flat_map(|r| r.brokers.iter().map(|b| b.broker_id.0))
        .collect();
    voters.sort_unstable();
    voters.dedup();
    Ok(Membership {
        brokers,
        voters,
        active_controller: controllers.map_or(-1, |r| r.controller_id.0),
    })
}

/// Whether the metadata quorum has a leader and every voter holds every committed entry (its
/// log end at or past the high watermark), from DescribeQuorum; `Ok(None)` when it does,
/// otherwise what is missing.
pub fn quorum_lag(bootstrap: &str) -> Result<Option<String>, String> {
    let mut part = PartitionData::default();
    part.partition_index = 0;
    let mut topic = TopicData::default();
    topic.topic_name = TopicName(StrBytes::from_static_str("__cluster_metadata"));
    topic.partitions = vec![part];
    let mut req = DescribeQuorumRequest::default();
    req.topics = vec![topic];
    let resp: DescribeQuorumResponse = call(bootstrap, ApiKey::DescribeQuorum, 2, &req)?;
    if resp.error_code != 0 {
        return Err(failed(
            "describe quorum",
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    let Some(p) = resp.topics.first().and_then(|t| t.partitions.first()) else {
        return Err("describe quorum: no partition in the answer".into());
    };
    if p.error_code != 0 {
        return Ok(Some(failed(
            "metadata quorum",
            p.error_code,
            p.error_message.as_ref(),
        )));
    }
    if p.leader_id.0 < 0 {
        return Ok(Some("the metadata quorum has no leader".into()));
    }
    Ok(p.current_voters
        .iter()
        .find(|v| v.log_end_offset < p.high_watermark)
        .map(|v| {
            format!(
                "metadata quorum voter {} is behind (log end {} < high watermark {})",
                v.replica_id.0, v.log_end_offset, p.high_watermark
            )
        }))
}

/// Partition health as the broker at `address` sees it (Metadata v12 of every topic, asked of
/// that broker alone, so a restarted broker answers from its own, new process).
pub fn partition_health(address: &str) -> Result<PartitionHealth, String> {
    let mut req = MetadataRequest::default();
    req.topics = None;
    req.allow_auto_topic_creation = false;
    let resp: MetadataResponse = call(address, ApiKey::Metadata, 12, &req)?;
    let mut h = PartitionHealth {
        live_brokers: resp.brokers.iter().map(|b| b.node_id.0).collect(),
        ..PartitionHealth::default()
    };
    h.live_brokers.sort_unstable();
    for t in resp.topics.iter().filter(|t| t.error_code == 0) {
        for p in &t.partitions {
            h.partitions += 1;
            if p.isr_nodes.len() < p.replica_nodes.len() {
                h.under_replicated += 1;
            }
            if p.leader_id.0 < 0 {
                h.offline += 1;
            } else if p
                .replica_nodes
                .first()
                .is_some_and(|r| r.0 != p.leader_id.0)
            {
                h.not_preferred += 1;
            }
        }
    }
    Ok(h)
}

/// The cluster is ready for the next restart when every registered broker is unfenced and each
/// of them, asked itself, lists all of them as live and has no under-replicated or offline
/// partition, and the metadata quorum has a leader and no voter behind. `Ok(None)` when it is;
/// otherwise what is still missing, for the progress output.
pub fn not_ready(bootstrap: &str) -> Result<Option<String>, String> {
    let m = membership(bootstrap)?;
    if !m.voters.is_empty() {
        if let Some(why) = quorum_lag(bootstrap)? {
            return Ok(Some(why));
        }
    }
    if let Some(b) = m.brokers.iter().find(|b| b.fenced) {
        return Ok(Some(format!("broker {} is fenced", b.id)));
    }
    let ids: Vec<i32> = m.brokers.iter().map(|b| b.id).collect();
    for b in &m.brokers {
        let h = match partition_health(&b.address) {
            Ok(h) => h,
            Err(e) => return Ok(Some(format!("broker {} does not answer: {e}", b.id))),
        };
        if h.live_brokers != ids {
            return Ok(Some(format!(
                "broker {} lists live brokers {:?}, registered are {ids:?}",
                b.id, h.live_brokers
            )));
        }
        if !h.healthy() {
            return Ok(Some(format!(
                "broker {} sees {} under-replicated and {} offline partition(s)",
                b.id, h.under_replicated, h.offline
            )));
        }
    }
    Ok(None)
}

/// ElectLeaders PREFERRED over every partition: the number of partitions whose leader changed,
/// or the first partition error other than ELECTION_NOT_NEEDED.
pub fn elect_preferred(bootstrap: &str) -> Result<usize, String> {
    let mut req = ElectLeadersRequest::default();
    req.election_type = 0;
    req.timeout_ms = TIMEOUT.as_millis() as i32;
    req.topic_partitions = None;
    let resp: ElectLeadersResponse = call(bootstrap, ApiKey::ElectLeaders, 2, &req)?;
    if resp.error_code != 0 {
        return Err(failed("elect preferred leaders", resp.error_code, None));
    }
    let mut elected = 0;
    for t in &resp.replica_election_results {
        for p in &t.partition_result {
            match p.error_code {
                0 => elected += 1,
                84 => {} // ELECTION_NOT_NEEDED
                code => {
                    let name = format!("{}-{}", t.topic.0.as_str(), p.partition_id);
                    return Err(failed(&name, code, p.error_message.as_ref()));
                }
            }
        }
    }
    Ok(elected)
}
