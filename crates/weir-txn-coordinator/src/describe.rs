//! Plain descriptions for DescribeTransactions and ListTransactions (the handlers never see
//! the coordinator's state).

use crate::coordinator::TxnCoordinator;
use crate::error::TxnError;
use crate::metadata::TxnMetadata;
use crate::state::TxnState;

/// One transactional id, as DescribeTransactions shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// The transactional id.
    pub transactional_id: String,
    /// Its state ([`TxnState::name`] is the response's `TransactionState`).
    pub state: TxnState,
    /// Transaction timeout.
    pub timeout_ms: i32,
    /// When the transaction started, -1 if none.
    pub start_ms: i64,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// The partitions in the transaction, by topic (sorted).
    pub topics: Vec<(String, Vec<i32>)>,
}

/// One transaction, as ListTransactions shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Producer id.
    pub producer_id: i64,
    /// State.
    pub state: TxnState,
}

/// ListTransactions' filters (empty = no filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    /// Only these states (by Kafka name; unknown names are reported back).
    pub states: Vec<String>,
    /// Only these producer ids.
    pub producer_ids: Vec<i64>,
    /// Only transactions running longer than this (ms since their start), -1 = any (KIP-994).
    pub duration_ms: i64,
}

impl Default for ListFilter {
    fn default() -> Self {
        ListFilter {
            states: Vec::new(),
            producer_ids: Vec::new(),
            duration_ms: -1,
        }
    }
}

/// ListTransactions' answer for this broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionList {
    /// State filters that name no state.
    pub unknown_state_filters: Vec<String>,
    /// The matching transactions, by transactional id.
    pub transactions: Vec<TransactionListing>,
}

fn describe_one(id: &str, m: &TxnMetadata) -> TransactionDescription {
    let mut topics: Vec<(String, Vec<i32>)> = Vec::new();
    for tp in &m.partitions {
        match topics.last_mut() {
            Some((t, ps)) if *t == tp.topic => ps.push(tp.partition),
            _ => topics.push((tp.topic.clone(), vec![tp.partition])),
        }
    }
    TransactionDescription {
        transactional_id: id.to_string(),
        state: m.state,
        timeout_ms: m.timeout_ms,
        start_ms: m.start_ms,
        producer_id: m.producer_id,
        producer_epoch: m.producer_epoch,
        topics,
    }
}

impl TxnCoordinator {
    /// DescribeTransactions for one id: INVALID_REQUEST for an empty id,
    /// TRANSACTIONAL_ID_NOT_FOUND for an unknown one, else the runtime's NOT_COORDINATOR /
    /// COORDINATOR_LOAD_IN_PROGRESS.
    pub fn describe(&self, transactional_id: &str) -> Result<TransactionDescription, TxnError> {
        if transactional_id.is_empty() {
            return Err(TxnError::InvalidRequest("empty transactional id".into()));
        }
        let found = self.runtime.try_read(transactional_id, |s| {
            s.txns
                .get(transactional_id)
                .filter(|m| m.state != TxnState::Dead)
                .map(|m| describe_one(transactional_id, m))
        })?;
        found.flatten().ok_or_else(|| {
            TxnError::TransactionalIdNotFound(format!(
                "transactional id {transactional_id} not found"
            ))
        })
    }

    /// ListTransactions over every partition this broker coordinates: by state names
    /// (unknown names reported back), producer ids and duration (running longer than
    /// `duration_ms`: now minus start, as Kafka computes it). COORDINATOR_LOAD_IN_PROGRESS
    /// while a led partition is loading.
    pub fn list(&self, filter: &ListFilter) -> Result<TransactionList, TxnError> {
        if let Some(p) = self.loading().first() {
            return Err(TxnError::Coordinator(
                weir_coordinator::CoordinatorError::LoadInProgress(format!(
                    "__transaction_state-{p} is loading"
                )),
            ));
        }
        let mut out = TransactionList::default();
        let mut states = Vec::new();
        for name in &filter.states {
            match TxnState::from_name(name) {
                Some(s) => states.push(s),
                None => out.unknown_state_filters.push(name.clone()),
            }
        }
        let include = |m: &TxnMetadata, now: i64| {
            m.state != TxnState::Dead
                && (filter.producer_ids.is_empty() || filter.producer_ids.contains(&m.producer_id))
                && (filter.states.is_empty() || states.contains(&m.state))
                && (filter.duration_ms < 0 || now.saturating_sub(m.start_ms) > filter.duration_ms)
        };
        for (_, found) in self.runtime.scan(|_, s, now| {
            s.txns
                .iter()
                .filter(|(_, m)| include(m, now))
                .map(|(id, m)| TransactionListing {
                    transactional_id: id.clone(),
                    producer_id: m.producer_id,
                    state: m.state,
                })
                .collect::<Vec<_>>()
        }) {
            out.transactions.extend(found);
        }
        out.transactions
            .sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        Ok(out)
    }
}
