//! The checks of the transaction and producer-id APIs (as Kafka's `KafkaApis`): a
//! transactional id needs WRITE (DESCRIBE to describe or list it), an idempotent InitProducerId
//! IDEMPOTENT_WRITE on the cluster or WRITE on some topic, FindCoordinator DESCRIBE on the group
//! or transactional id, and the broker-to-broker calls (WriteTxnMarkers, AddPartitionsToTxn v4+)
//! CLUSTER_ACTION.

use kafka_protocol::messages::*;
use weir_meta::acl::{AclOperation as Op, ResourceType};

use super::merge::{merge, refuse_top, split, Gate, CLUSTER, GROUP, TOPIC, TXN};
use super::Authz;

/// FindCoordinator: GROUP keys need DESCRIBE on the group, TRANSACTION keys on the transactional
/// id; SHARE keys (share-group state, asked for by brokers) CLUSTER_ACTION.
pub(super) fn find_coordinator(a: &Authz, version: i16, mut r: FindCoordinatorRequest) -> Gate {
    let code = match r.key_type {
        0 => GROUP,
        1 => TXN,
        _ => CLUSTER,
    };
    let op_ok = |key: &str| match r.key_type {
        0 => a.group(Op::Describe, key),
        1 => a.txn_id(Op::Describe, key),
        _ => a.cluster(Op::ClusterAction),
    };
    if version < 4 {
        if op_ok(r.key.as_str()) {
            return Gate::Pass(RequestKind::FindCoordinator(r), None);
        }
        let mut resp = FindCoordinatorResponse::default();
        resp.error_code = code;
        resp.node_id = BrokerId(-1);
        resp.port = -1;
        return Gate::Refuse(ResponseKind::FindCoordinator(resp));
    }
    let denied = split(&mut r.coordinator_keys, |k| op_ok(k.as_str()));
    if denied.is_empty() {
        return Gate::Pass(RequestKind::FindCoordinator(r), None);
    }
    let errors: Vec<find_coordinator_response::Coordinator> = denied
        .into_iter()
        .map(|k| {
            let mut c = find_coordinator_response::Coordinator::default();
            c.key = k;
            c.node_id = BrokerId(-1);
            c.port = -1;
            c.error_code = code;
            c
        })
        .collect();
    if r.coordinator_keys.is_empty() {
        let mut resp = FindCoordinatorResponse::default();
        resp.coordinators = errors;
        return Gate::Refuse(ResponseKind::FindCoordinator(resp));
    }
    Gate::Pass(
        RequestKind::FindCoordinator(r),
        merge!(FindCoordinator, |resp| { resp.coordinators.extend(errors) }),
    )
}

/// InitProducerId.
pub(super) fn init_producer_id(a: &Authz, r: InitProducerIdRequest) -> Gate {
    let ok = match &r.transactional_id {
        Some(tid) => a.txn_id(Op::Write, tid.0.as_str()),
        None => a.cluster(Op::IdempotentWrite) || a.allows_any(Op::Write, ResourceType::Topic),
    };
    if ok {
        return Gate::Pass(RequestKind::InitProducerId(r), None);
    }
    let code = if r.transactional_id.is_some() {
        TXN
    } else {
        CLUSTER
    };
    let mut resp = InitProducerIdResponse::default();
    resp.error_code = code;
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    Gate::Refuse(ResponseKind::InitProducerId(resp))
}

/// AddPartitionsToTxn: v0–v3 (a client) WRITE on the transactional id and on every topic
/// (refused topics TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED: nothing is
/// added); v4+ (a partition leader) CLUSTER_ACTION.
pub(super) fn add_partitions_to_txn(a: &Authz, version: i16, r: AddPartitionsToTxnRequest) -> Gate {
    if version >= 4 {
        if a.cluster(Op::ClusterAction) {
            return Gate::Pass(RequestKind::AddPartitionsToTxn(r), None);
        }
        return refuse_top!(AddPartitionsToTxn, AddPartitionsToTxnResponse, CLUSTER);
    }
    let txn_ok = a.txn_id(Op::Write, r.v3_and_below_transactional_id.0.as_str());
    let topic_ok: Vec<bool> = r
        .v3_and_below_topics
        .iter()
        .map(|t| a.topic(Op::Write, t.name.0.as_str()))
        .collect();
    if txn_ok && topic_ok.iter().all(|&ok| ok) {
        return Gate::Pass(RequestKind::AddPartitionsToTxn(r), None);
    }
    let mut resp = AddPartitionsToTxnResponse::default();
    for (t, ok) in r.v3_and_below_topics.iter().zip(topic_ok) {
        let code = match (txn_ok, ok) {
            (false, _) => TXN,
            (true, false) => TOPIC,
            (true, true) => kafka_protocol::error::ResponseError::OperationNotAttempted.code(),
        };
        let mut out = add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default();
        out.name = t.name.clone();
        out.results_by_partition = t
            .partitions
            .iter()
            .map(|p| {
                let mut e =
                    add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default();
                e.partition_index = *p;
                e.partition_error_code = code;
                e
            })
            .collect();
        resp.results_by_topic_v3_and_below.push(out);
    }
    Gate::Refuse(ResponseKind::AddPartitionsToTxn(resp))
}

/// AddOffsetsToTxn: WRITE on the transactional id, READ on the group.
pub(super) fn add_offsets_to_txn(a: &Authz, r: AddOffsetsToTxnRequest) -> Gate {
    if !a.txn_id(Op::Write, r.transactional_id.0.as_str()) {
        return refuse_top!(AddOffsetsToTxn, AddOffsetsToTxnResponse, TXN);
    }
    if !a.group(Op::Read, r.group_id.0.as_str()) {
        return refuse_top!(AddOffsetsToTxn, AddOffsetsToTxnResponse, GROUP);
    }
    Gate::Pass(RequestKind::AddOffsetsToTxn(r), None)
}

/// EndTxn: WRITE on the transactional id.
pub(super) fn end_txn(a: &Authz, r: EndTxnRequest) -> Gate {
    if !a.txn_id(Op::Write, r.transactional_id.0.as_str()) {
        return refuse_top!(EndTxn, EndTxnResponse, TXN);
    }
    Gate::Pass(RequestKind::EndTxn(r), None)
}

/// TxnOffsetCommit: WRITE on the transactional id and READ on the group (else every partition
/// fails with that error), READ on each topic.
pub(super) fn txn_offset_commit(a: &Authz, mut r: TxnOffsetCommitRequest) -> Gate {
    let whole = if !a.txn_id(Op::Write, r.transactional_id.0.as_str()) {
        Some(TXN)
    } else if !a.group(Op::Read, r.group_id.0.as_str()) {
        Some(GROUP)
    } else {
        None
    };
    let denied = split(&mut r.topics, |t| {
        whole.is_none() && a.topic(Op::Read, t.name.0.as_str())
    });
    if denied.is_empty() {
        return Gate::Pass(RequestKind::TxnOffsetCommit(r), None);
    }
    let code = whole.unwrap_or(TOPIC);
    let errors: Vec<txn_offset_commit_response::TxnOffsetCommitResponseTopic> = denied
        .iter()
        .map(|t| {
            let mut out = txn_offset_commit_response::TxnOffsetCommitResponseTopic::default();
            out.name = t.name.clone();
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e =
                        txn_offset_commit_response::TxnOffsetCommitResponsePartition::default();
                    e.partition_index = p.partition_index;
                    e.error_code = code;
                    e
                })
                .collect();
            out
        })
        .collect();
    if whole.is_some() {
        let mut resp = TxnOffsetCommitResponse::default();
        resp.topics = errors;
        return Gate::Refuse(ResponseKind::TxnOffsetCommit(resp));
    }
    Gate::Pass(
        RequestKind::TxnOffsetCommit(r),
        merge!(TxnOffsetCommit, |resp| { resp.topics.extend(errors) }),
    )
}

/// WriteTxnMarkers (from a transaction coordinator): CLUSTER_ACTION, else every partition of
/// every marker CLUSTER_AUTHORIZATION_FAILED.
pub(super) fn write_txn_markers(a: &Authz, r: WriteTxnMarkersRequest) -> Gate {
    if a.cluster(Op::ClusterAction) {
        return Gate::Pass(RequestKind::WriteTxnMarkers(r), None);
    }
    let mut resp = WriteTxnMarkersResponse::default();
    for m in &r.markers {
        let mut out = write_txn_markers_response::WritableTxnMarkerResult::default();
        out.producer_id = m.producer_id;
        for t in &m.topics {
            let mut tr = write_txn_markers_response::WritableTxnMarkerTopicResult::default();
            tr.name = t.name.clone();
            tr.partitions = t
                .partition_indexes
                .iter()
                .map(|p| {
                    let mut e =
                        write_txn_markers_response::WritableTxnMarkerPartitionResult::default();
                    e.partition_index = *p;
                    e.error_code = CLUSTER;
                    e
                })
                .collect();
            out.topics.push(tr);
        }
        resp.markers.push(out);
    }
    Gate::Refuse(ResponseKind::WriteTxnMarkers(resp))
}

/// DescribeTransactions: DESCRIBE per transactional id; the partitions of a transaction only
/// for topics with DESCRIBE.
pub(super) fn describe_transactions(a: &Authz, mut r: DescribeTransactionsRequest) -> Gate {
    let denied = split(&mut r.transactional_ids, |t| {
        a.txn_id(Op::Describe, t.0.as_str())
    });
    let errors: Vec<describe_transactions_response::TransactionState> = denied
        .into_iter()
        .map(|t| {
            let mut e = describe_transactions_response::TransactionState::default();
            e.transactional_id = t;
            e.error_code = TXN;
            e.producer_id = ProducerId(-1);
            e.producer_epoch = -1;
            e
        })
        .collect();
    // The partitions of a described transaction are shown only for topics with DESCRIBE.
    let a = a.clone();
    Gate::Pass(
        RequestKind::DescribeTransactions(r),
        merge!(DescribeTransactions, |resp| {
            for t in resp.transaction_states.iter_mut() {
                t.topics
                    .retain(|d| a.topic(Op::Describe, d.topic.0.as_str()));
            }
            resp.transaction_states.extend(errors)
        }),
    )
}

/// ListTransactions: only the transactional ids the principal may DESCRIBE are listed.
pub(super) fn list_transactions(a: &Authz, r: ListTransactionsRequest) -> Gate {
    let a = a.clone();
    Gate::Pass(
        RequestKind::ListTransactions(r),
        merge!(ListTransactions, |resp| {
            resp.transaction_states
                .retain(|t| a.txn_id(Op::Describe, t.transactional_id.0.as_str()))
        }),
    )
}
