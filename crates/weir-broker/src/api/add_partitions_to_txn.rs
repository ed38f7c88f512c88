//! AddPartitionsToTxn (key 24): partitions join a transaction (a client, v0–v3), or a partition
//! leader verifies / adds them for a transactional write (another broker, v4+, KIP-890).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};
use weir_txn_coordinator::{TopicPartition, TxnCoordinator};

use crate::metadata::view::MetadataView;

/// v0–v3 carry one transaction at the top level and answer per partition (PRODUCER_FENCED is
/// INVALID_PRODUCER_EPOCH before v2); v4+ carry a batch of transactions, each with
/// `verify_only` (the leader of a partition checks that a version-1 producer added it:
/// NONE or TRANSACTION_ABORTABLE per partition, nothing changes) or not (added, as for a
/// version-2 producer). Partitions of unknown topics are UNKNOWN_TOPIC_OR_PARTITION and the
/// others of that transaction OPERATION_NOT_ATTEMPTED: nothing is added then. Coordinator
/// errors (NOT_COORDINATOR, CONCURRENT_TRANSACTIONS, INVALID_TXN_STATE, …) apply to every
/// partition of the transaction.
pub async fn handle(
    txn: &TxnCoordinator,
    view: &MetadataView,
    version: i16,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let mut resp = AddPartitionsToTxnResponse::default();
    if version < 4 {
        let mut t = AddPartitionsToTxnTransaction::default();
        t.transactional_id = req.v3_and_below_transactional_id;
        t.producer_id = req.v3_and_below_producer_id;
        t.producer_epoch = req.v3_and_below_producer_epoch;
        t.topics = req.v3_and_below_topics;
        let r = one(txn, view, t, version >= 2, false).await;
        resp.results_by_topic_v3_and_below = r.topic_results;
        return resp;
    }
    for t in req.transactions {
        let r = one(txn, view, t, true, true).await;
        resp.results_by_transaction.push(r);
    }
    resp
}

async fn one(
    txn: &TxnCoordinator,
    view: &MetadataView,
    t: AddPartitionsToTxnTransaction,
    producer_fenced_supported: bool,
    from_broker: bool,
) -> AddPartitionsToTxnResult {
    let id = t.transactional_id.0.as_str().to_string();
    let partitions: Vec<TopicPartition> = t
        .topics
        .iter()
        .flat_map(|topic| {
            topic
                .partitions
                .iter()
                .map(|&p| TopicPartition::new(topic.name.0.as_str(), p))
        })
        .collect();
    let unknown: Vec<bool> = partitions
        .iter()
        .map(|tp| {
            view.topic(&tp.topic)
                .is_none_or(|m| tp.partition < 0 || tp.partition >= m.partitions)
        })
        .collect();
    let codes: Vec<i16> = if unknown.iter().any(|&u| u) {
        unknown
            .iter()
            .map(|&u| {
                if u {
                    ResponseError::UnknownTopicOrPartition.code()
                } else {
                    ResponseError::OperationNotAttempted.code()
                }
            })
            .collect()
    } else {
        // A version-2 producer's partitions are added by their leaders (v4+, not verify-only).
        let tv2 = from_broker && !t.verify_only;
        match txn
            .add_partitions(
                &id,
                t.producer_id.0,
                t.producer_epoch,
                &partitions,
                t.verify_only,
                tv2,
            )
            .await
        {
            Ok(per) => partitions
                .iter()
                .map(|tp| per.iter().find(|(p, _)| p == tp).map_or(0, |(_, c)| *c))
                .collect(),
            Err(e) => {
                tracing::debug!(transactional_id = %id, error = %e, "AddPartitionsToTxn refused");
                vec![e.code_for(producer_fenced_supported); partitions.len()]
            }
        }
    };
    let mut out = AddPartitionsToTxnResult::default();
    out.transactional_id = t.transactional_id;
    let mut i = 0;
    for topic in &t.topics {
        out.topic_results
            .push(topic_result(topic, &codes[i..i + topic.partitions.len()]));
        i += topic.partitions.len();
    }
    out
}

fn topic_result(topic: &AddPartitionsToTxnTopic, codes: &[i16]) -> AddPartitionsToTxnTopicResult {
    let mut r = AddPartitionsToTxnTopicResult::default();
    r.name = topic.name.clone();
    r.results_by_partition = topic
        .partitions
        .iter()
        .zip(codes)
        .map(|(&p, &code)| {
            let mut pr = AddPartitionsToTxnPartitionResult::default();
            pr.partition_index = p;
            pr.partition_error_code = code;
            pr
        })
        .collect();
    r
}
