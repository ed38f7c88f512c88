//! ListTransactions (key 66): the transactions this broker coordinates.

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use weir_txn_coordinator::{ListFilter, TxnCoordinator};

/// Filtered by state names (unknown names are reported back in `unknown_state_filters`),
/// producer ids and, from v1, minimum duration (KIP-994). COORDINATOR_LOAD_IN_PROGRESS while
/// a led `__transaction_state` partition is loading. From v2 a non-empty
/// `transactional_id_pattern` (KIP-1152) keeps only the ids the regular expression matches as a
/// whole (Java's `Matcher.matches`); one that does not compile is INVALID_REGULAR_EXPRESSION.
pub async fn handle(
    txn: &TxnCoordinator,
    version: i16,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let mut resp = ListTransactionsResponse::default();
    let pattern = match id_pattern(version, req.transactional_id_pattern.as_deref()) {
        Ok(p) => p,
        Err(code) => {
            resp.error_code = code;
            return resp;
        }
    };
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
                .filter(|t| {
                    pattern
                        .as_ref()
                        .is_none_or(|p| p.is_match(&t.transactional_id))
                })
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

/// The v2 transactional-id filter, anchored at both ends; None when absent or empty.
fn id_pattern(version: i16, pattern: Option<&str>) -> Result<Option<regex::Regex>, i16> {
    match pattern {
        Some(p) if version >= 2 && !p.is_empty() => regex::Regex::new(&format!("^(?:{p})$"))
            .map(Some)
            .map_err(|_| kafka_protocol::error::ResponseError::InvalidRegularExpression.code()),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::id_pattern;

    #[test]
    fn the_pattern_matches_whole_ids_from_v2() {
        let p = id_pattern(2, Some("app-.*")).unwrap().unwrap();
        assert!(p.is_match("app-1"));
        assert!(!p.is_match("my-app-1"), "a partial match is no match");
        assert!(id_pattern(1, Some("app-.*")).unwrap().is_none());
        assert!(id_pattern(2, Some("")).unwrap().is_none());
        assert_eq!(id_pattern(2, Some("a(")).unwrap_err(), 128);
    }
}
