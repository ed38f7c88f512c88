//! ListTransactions (key 66): the transactions this broker coordinates.

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use weir_txn_coordinator::{ListFilter, TxnCoordinator};

/// Filtered by state names (unknown names are reported back in `unknown_state_filters`),
/// producer ids and, from v1, minimum duration (KIP-994). COORDINATOR_LOAD_IN_PROGRESS while
/// a led `__transaction_state` partition is loading. The v2 transactional id pattern is not
/// supported (the codec's v2 is not advertised).
pub async fn handle(
    txn: &TxnCoordinator,
    version: i16,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let mut resp = ListTransactionsResponse::default();
    let filter = ListFilter {
        states: req
            .state_filters
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        producer_ids: req.producer_id_filters.iter().map(|p| p.0).collect(),
        duration_ms: if version >= 1 {
            req.duration_filter
        } else {
            -1
        },
    };
    match txn.list(&filter) {
        Ok(list) => {
            resp.unknown_state_filters = list
                .unknown_state_filters
                .into_iter()
                .map(StrBytes::from_string)
                .collect();
            resp.transaction_states = list
                .transactions
                .into_iter()
                .map(|t| {
                    let mut s = TransactionState::default();
                    s.transactional_id = TransactionalId(StrBytes::from_string(t.transactional_id));
                    s.producer_id = t.producer_id.into();
                    s.transaction_state = StrBytes::from_static_str(t.state.name());
                    s
                })
                .collect();
        }
        Err(e) => resp.error_code = e.code(),
    }
    resp
}
