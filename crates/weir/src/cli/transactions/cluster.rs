//! The requests behind `weir transactions`, each over a plain connection with Weir's codec
//! (`raw`): Metadata for the brokers and partition replicas, FindCoordinator for a transactional
//! id, ListTransactions / DescribeTransactions at a coordinator, DescribeProducers and
//! WriteTxnMarkers at a partition's broker.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::describe_producers_response::ProducerState;
use kafka_protocol::messages::describe_transactions_response::TransactionState;
use kafka_protocol::messages::list_transactions_response::TransactionState as Listing;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    ApiKey, DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    ListTransactionsRequest, ListTransactionsResponse, MetadataRequest, MetadataResponse,
    ProducerId, TopicName, TransactionalId, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::cli::raw::{call, failed};

/// FindCoordinator key type of a transactional id.
const TRANSACTION_KEY_TYPE: i8 = 1;

/// A (topic, partition) pair.
pub type TopicPartition = (String, i32);

/// What Metadata says about the cluster: broker addresses and every partition's leader and
/// replicas.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Broker id → `host:port`.
    pub brokers: BTreeMap<i32, String>,
    /// Every partition of every topic, with its leader and replicas.
    pub partitions: Vec<PartitionInfo>,
}

/// One partition in [`Cluster`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Topic and partition.
    pub tp: TopicPartition,
    /// Leader broker id (-1 without a leader).
    pub leader: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
}

impl Cluster {
    /// Metadata of every topic (internal ones included) from the first reachable bootstrap
    /// server.
    pub fn fetch(bootstrap: &str) -> Result<Cluster, String> {
        let mut req = MetadataRequest::default();
        req.topics = None;
        req.allow_auto_topic_creation = false;
        let resp: MetadataResponse = call(bootstrap, ApiKey::Metadata, 12, &req)?;
        let mut c = Cluster::default();
        for b in &resp.brokers {
            c.brokers
                .insert(b.node_id.0, format!("{}:{}", b.host.as_str(), b.port));
        }
        for t in &resp.topics {
            let Some(name) = t.name.as_ref() else {
                continue;
            };
            if t.error_code != 0 {
                eprintln!(
                    "weir: {}",
                    failed(
                        &format!("metadata of {}", name.0.as_str()),
                        t.error_code,
                        None
                    )
                );
                continue;
            }
            for p in &t.partitions {
                c.partitions.push(PartitionInfo {
                    tp: (name.0.to_string(), p.partition_index),
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                });
            }
        }
        c.partitions.sort_by(|a, b| a.tp.cmp(&b.tp));
        Ok(c)
    }

    /// `host:port` of broker `id`.
    pub fn address(&self, id: i32) -> Result<&str, String> {
        self.brokers
            .get(&id)
            .map(String::as_str)
            .ok_or_else(|| format!("broker {id} is not in the cluster's metadata"))
    }

    /// The partition `tp`.
    pub fn partition(&self, tp: &TopicPartition) -> Result<&PartitionInfo, String> {
        self.partitions.iter().find(|p| &p.tp == tp).ok_or_else(|| {
            format!(
                "partition {}-{} is not in the cluster's metadata",
                tp.0, tp.1
            )
        })
    }
}

/// The coordinator of `transactional_id`: (broker id, `host:port`).
pub fn find_coordinator(bootstrap: &str, transactional_id: &str) -> Result<(i32, String), String> {
    let mut req = FindCoordinatorRequest::default();
    req.key_type = TRANSACTION_KEY_TYPE;
    req.coordinator_keys = vec![StrBytes::from_string(transactional_id.to_string())];
    let resp: FindCoordinatorResponse = call(bootstrap, ApiKey::FindCoordinator, 4, &req)?;
    let what = format!("find the coordinator of transactional id {transactional_id}");
    let c = resp
        .coordinators
        .first()
        .ok_or_else(|| format!("{what}: empty answer"))?;
    if c.error_code != 0 {
        return Err(failed(&what, c.error_code, c.error_message.as_ref()));
    }
    Ok((c.node_id.0, format!("{}:{}", c.host.as_str(), c.port)))
}

/// ListTransactions at one broker (`producer_ids` empty: every transaction it coordinates).
pub fn list_transactions(address: &str, producer_ids: &[i64]) -> Result<Vec<Listing>, String> {
    let mut req = ListTransactionsRequest::default();
    req.producer_id_filters = producer_ids.iter().copied().map(ProducerId).collect();
    let resp: ListTransactionsResponse = call(address, ApiKey::ListTransactions, 0, &req)?;
    if resp.error_code != 0 {
        return Err(failed(
            &format!("list transactions at {address}"),
            resp.error_code,
            None,
        ));
    }
    Ok(resp.transaction_states)
}

/// DescribeTransactions of `transactional_id` at its coordinator (`address`). The answer's
/// `error_code` is left for the caller (TRANSACTIONAL_ID_NOT_FOUND means something else to
/// `describe` than to `find-hanging`).
pub fn describe_transaction(
    address: &str,
    transactional_id: &str,
) -> Result<TransactionState, String> {
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids = vec![TransactionalId(StrBytes::from_string(
        transactional_id.to_string(),
    ))];
    let resp: DescribeTransactionsResponse = call(address, ApiKey::DescribeTransactions, 0, &req)?;
    let what = format!("describe transactional id {transactional_id}");
    let s = resp
        .transaction_states
        .into_iter()
        .find(|s| s.transactional_id.0.as_str() == transactional_id)
        .ok_or_else(|| format!("{what}: not in the answer"))?;
    Ok(s)
}

/// The answer of DescribeProducers for one partition: its error code or its active producers.
pub type PartitionProducers = (TopicPartition, Result<Vec<ProducerState>, String>);

/// DescribeProducers for `partitions` at the broker `address`.
pub fn describe_producers(
    address: &str,
    partitions: &[TopicPartition],
) -> Result<Vec<PartitionProducers>, String> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let mut req = DescribeProducersRequest::default();
    req.topics = by_topic
        .into_iter()
        .map(|(t, ps)| {
            let mut tr = TopicRequest::default();
            tr.name = TopicName(StrBytes::from_string(t.to_string()));
            tr.partition_indexes = ps;
            tr
        })
        .collect();
    let resp: DescribeProducersResponse = call(address, ApiKey::DescribeProducers, 0, &req)?;
    let mut out = Vec::new();
    for t in resp.topics {
        for p in t.partitions {
            let tp = (t.name.0.to_string(), p.partition_index);
            let r = if p.error_code != 0 {
                Err(failed(
                    &format!("describe producers of {}-{}", tp.0, tp.1),
                    p.error_code,
                    p.error_message.as_ref(),
                ))
            } else {
                Ok(p.active_producers)
            };
            out.push((tp, r));
        }
    }
    Ok(out)
}

/// The transaction to abort on one partition (Kafka's `AbortTransactionSpec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortSpec {
    /// Partition.
    pub tp: TopicPartition,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Coordinator epoch written into the marker.
    pub coordinator_epoch: i32,
}

/// WriteTxnMarkers with an ABORT marker for `spec` to the broker `address`; returns the
/// partition's error code.
pub fn write_abort_marker(address: &str, spec: &AbortSpec) -> Result<i16, String> {
    let mut topic = WritableTxnMarkerTopic::default();
    topic.name = TopicName(StrBytes::from_string(spec.tp.0.clone()));
    topic.partition_indexes = vec![spec.tp.1];
    let mut marker = WritableTxnMarker::default();
    marker.producer_id = ProducerId(spec.producer_id);
    marker.producer_epoch = spec.producer_epoch;
    marker.transaction_result = false;
    marker.topics = vec![topic];
    marker.coordinator_epoch = spec.coordinator_epoch;
    let mut req = WriteTxnMarkersRequest::default();
    req.markers = vec![marker];
    let resp: WriteTxnMarkersResponse = call(address, ApiKey::WriteTxnMarkers, 1, &req)?;
    resp.markers
        .iter()
        .filter(|m| m.producer_id.0 == spec.producer_id)
        .flat_map(|m| &m.topics)
        .filter(|t| t.name.0.as_str() == spec.tp.0)
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == spec.tp.1)
        .map(|p| p.error_code)
        .ok_or_else(|| format!("WriteTxnMarkers: no result for {}-{}", spec.tp.0, spec.tp.1))
}
