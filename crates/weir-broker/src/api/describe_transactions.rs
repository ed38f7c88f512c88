//! DescribeTransactions (key 65): the state of transactional ids this broker coordinates.

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use weir_txn_coordinator::TxnCoordinator;

/// Per id: its state (Kafka's names), timeout, start time, producer id/epoch and partitions;
/// TRANSACTIONAL_ID_NOT_FOUND for an unknown id, NOT_COORDINATOR /
/// COORDINATOR_LOAD_IN_PROGRESS when this broker does not serve it.
pub async fn handle(
    txn: &TxnCoordinator,
    _version: i16,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let mut resp = DescribeTransactionsResponse::default();
    for id in req.transactional_ids {
        let mut s = TransactionState::default();
        s.producer_id = (-1).into();
        s.producer_epoch = -1;
        s.transaction_start_time_ms = -1;
        match txn.describe(id.0.as_str()) {
            Ok(d) => {
                s.transaction_state = StrBytes::from_static_str(d.state.name());
                s.transaction_timeout_ms = d.timeout_ms;
                s.transaction_start_time_ms = d.start_ms;
                s.producer_id = d.producer_id.into();
                s.producer_epoch = d.producer_epoch;
                s.topics = d
                    .topics
                    .into_iter()
                    .map(|(t, ps)| {
                        let mut td = TopicData::default();
                        td.topic = TopicName(StrBytes::from_string(t));
                        td.partitions = ps;
                        td
                    })
                    .collect();
            }
            Err(e) => {
                // As Kafka: an error entry carries the schema's zero defaults.
                s.error_code = e.code();
                s.producer_id = 0.into();
                s.producer_epoch = 0;
                s.transaction_start_time_ms = 0;
            }
        }
        s.transactional_id = id;
        resp.transaction_states.push(s);
    }
    resp
}
