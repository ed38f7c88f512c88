//! KIP-890 (part 1) server-side verification of transactional writes: before the first
//! transactional batch of a transaction is appended to a partition, its leader asks the
//! transaction coordinator whether the partition is part of the producer's ongoing
//! transaction (AddPartitionsToTxn v4 `verify_only`, or a local call when this broker is the
//! coordinator). A write that arrives after its transaction ended is refused, so it can never
//! open a new transaction that nobody will end (the hanging / torn transactions Jepsen found).
//! The log's verification guard closes the race with a marker written during the check.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, ProducerId, TopicName,
    TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use weir_log::batch::BatchHeader;
use weir_log::TopicPartition;
use weir_txn_coordinator::{TxnCoordinator, TRANSACTION_STATE_TOPIC};

use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::peers::PeerClient;
use crate::replica::manager::ReplicaManager;

/// How long a verification may take (Kafka's `request.timeout.ms` of the verification channel).
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Kafka's `add.partitions.to.txn.retry.backoff.ms`.
const RETRY_BACKOFF: Duration = Duration::from_millis(20);
/// Kafka's `add.partitions.to.txn.retry.backoff.max.ms`.
const RETRY_MAX: Duration = Duration::from_millis(100);

/// The verification guard of each verified partition: `(producer id, guard)` for
/// `ReplicaManager::append_verified`, or the error to answer instead of appending.
pub type Verified = HashMap<TopicPartition, Result<(i64, u64), BrokerError>>;

/// The producer id and epoch of `records`' first batch when it is transactional.
pub fn transactional_producer(records: &[u8]) -> Option<(i64, i16)> {
    let h = BatchHeader::parse(records).ok()?;
    (weir_log::txn_marker::is_transactional(&h) && h.producer_id >= 0)
        .then_some((h.producer_id, h.producer_epoch))
}

/// Asks transaction coordinators about transactional writes.
pub struct TxnVerifier {
    view: Arc<MetadataView>,
    replicas: Arc<ReplicaManager>,
    txn: Arc<TxnCoordinator>,
    peers: Arc<PeerClient>,
    enabled: bool,
}

impl std::fmt::Debug for TxnVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnVerifier")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl TxnVerifier {
    /// A verifier; `enabled` is `transaction.partition.verification.enable`.
    pub fn new(
        view: Arc<MetadataView>,
        replicas: Arc<ReplicaManager>,
        txn: Arc<TxnCoordinator>,
        peers: Arc<PeerClient>,
        enabled: bool,
    ) -> Self {
        TxnVerifier {
            view,
            replicas,
            txn,
            peers,
            enabled,
        }
    }

    /// Verify the transactional partitions of one produce request (`parts`: partition → its
    /// records). Partitions whose producer already has an ongoing transaction here, partitions
    /// without a local log and non-transactional ones are left out (the append checks them as
    /// usual). Transactional batches in a produce without a transactional id get
    /// INVALID_TXN_STATE.
    ///
    /// `add` (Produce v12+, a transaction-version-2 client that does not add partitions
    /// itself): the partitions are added to the transaction instead of only verified.
    pub async fn verify(
        &self,
        transactional_id: Option<&str>,
        parts: &[(TopicPartition, &[u8])],
        add: bool,
    ) -> Verified {
        let mut out = Verified::new();
        if !self.enabled {
            return out;
        }
        let mut pending: Vec<(TopicPartition, i64, i16, u64)> = Vec::new();
        for (tp, records) in parts {
            let Some((pid, epoch)) = transactional_producer(records) else {
                continue;
            };
            let Some(log) = self.replicas.log(tp) else {
                continue;
            };
            if let Some(guard) = log.begin_verification(pid, epoch, add) {
                pending.push((tp.clone(), pid, epoch, guard));
            }
        }
        let Some(&(_, pid, epoch, _)) = pending.first() else {
            return out;
        };
        let Some(id) = transactional_id.filter(|id| !id.is_empty()) else {
            for (tp, ..) in pending {
                out.insert(
                    tp,
                    Err(BrokerError::kafka(
                        ResponseError::InvalidTxnState,
                        "a transactional batch without a transactional id",
                    )),
                );
            }
            return out;
        };
        let tps: Vec<TopicPartition> = pending.iter().map(|(tp, ..)| tp.clone()).collect();
        let codes = self.ask_retrying(id, pid, epoch, &tps, add).await;
        for (tp, p, _, guard) in pending {
            let code = codes.get(&tp).copied().unwrap_or(0);
            let r = if code == 0 {
                Ok((p, guard))
            } else {
                Err(refusal(code, id))
            };
            out.insert(tp, r);
        }
        out
    }

    /// TxnOffsetCommit v5 (transaction version 2): add the group's `__consumer_offsets`
    /// `partition` to the transaction of `id` (Kafka's group coordinator does this before
    /// writing transactional offsets); Err is the Kafka error code to answer.
    pub async fn add_offsets_partition(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        partition: i32,
    ) -> Result<(), i16> {
        self.offsets_partition(id, pid, epoch, partition, true)
            .await
    }

    /// TxnOffsetCommit v0–v4 (transaction version 0/1, whose clients add the partition with
    /// AddOffsetsToTxn): verify that the group's `__consumer_offsets` `partition` is in the
    /// ongoing transaction of `id` before the write, as Kafka's group coordinator does with
    /// `transaction.partition.verification.enable` (Ok without asking when it is off); Err is
    /// the Kafka error code to answer (INVALID_PRODUCER_ID_MAPPING for an unknown transactional
    /// id, INVALID_TXN_STATE for a partition not in the transaction, ...).
    pub async fn verify_offsets_partition(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        partition: i32,
    ) -> Result<(), i16> {
        if !self.enabled {
            return Ok(());
        }
        self.offsets_partition(id, pid, epoch, partition, false)
            .await
    }

    /// Add (`add`) or verify the offsets partition; see the two callers.
    async fn offsets_partition(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        partition: i32,
        add: bool,
    ) -> Result<(), i16> {
        let tp = TopicPartition::new(weir_txn_coordinator::OFFSETS_TOPIC, partition);
        let codes = self
            .ask_retrying(id, pid, epoch, std::slice::from_ref(&tp), add)
            .await;
        match codes.get(&tp).copied().unwrap_or(0) {
            0 => Ok(()),
            // The client looks the coordinator up again and retries.
            code => match refusal(code, id).code() {
                19 => Err(ResponseError::CoordinatorNotAvailable.code()),
                c => Err(c),
            },
        }
    }

    /// [`Self::ask`], asking again while the coordinator answers CONCURRENT_TRANSACTIONS (the
    /// previous transaction's markers are still being written) every
    /// `add.partitions.to.txn.retry.backoff.ms` (20) for at most
    /// `add.partitions.to.txn.retry.backoff.max.ms` (100), as Kafka's broker does, before the
    /// client is told to retry.
    async fn ask_retrying(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        tps: &[TopicPartition],
        add: bool,
    ) -> BTreeMap<TopicPartition, i16> {
        let deadline = tokio::time::Instant::now() + RETRY_MAX;
        loop {
            let codes = self.ask(id, pid, epoch, tps, add).await;
            let concurrent = ResponseError::ConcurrentTransactions.code();
            if !codes.values().any(|&c| c == concurrent)
                || tokio::time::Instant::now() + RETRY_BACKOFF > deadline
            {
                return codes;
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }

    /// The coordinator's answer per partition (0 = in the transaction): verify only, or add
    /// (`add`, transaction version 2).
    async fn ask(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        tps: &[TopicPartition],
        add: bool,
    ) -> BTreeMap<TopicPartition, i16> {
        let all = |code: i16| tps.iter().map(|tp| (tp.clone(), code)).collect();
        let Some(partition) = self.txn.coordinator_partition(id) else {
            return all(ResponseError::CoordinatorNotAvailable.code());
        };
        let leader = self
            .view
            .partition(TRANSACTION_STATE_TOPIC, partition)
            .map_or(-1, |p| p.leader);
        if leader == self.view.node_id() {
            let txn_tps: Vec<_> = tps
                .iter()
                .map(|tp| weir_txn_coordinator::TopicPartition::new(&tp.topic, tp.partition))
                .collect();
            return match self
                .txn
                .add_partitions(id, pid, epoch, &txn_tps, !add, add)
                .await
            {
                Ok(per) => per
                    .into_iter()
                    .map(|(tp, c)| (TopicPartition::new(&tp.topic, tp.partition), c))
                    .collect(),
                Err(e) => all(e.code()),
            };
        }
        if leader < 0 {
            return all(ResponseError::CoordinatorNotAvailable.code());
        }
        let mut t = AddPartitionsToTxnTransaction::default();
        t.transactional_id = TransactionalId(StrBytes::from_string(id.to_string()));
        t.producer_id = ProducerId(pid);
        t.producer_epoch = epoch;
        t.verify_only = !add;
        for tp in tps {
            match t.topics.iter_mut().find(|x| x.name.0.as_str() == tp.topic) {
                Some(x) => x.partitions.push(tp.partition),
                None => {
                    let mut x = AddPartitionsToTxnTopic::default();
                    x.name = TopicName(StrBytes::from_string(tp.topic.clone()));
                    x.partitions.push(tp.partition);
                    t.topics.push(x);
                }
            }
        }
        let mut req = AddPartitionsToTxnRequest::default();
        req.transactions.push(t);
        let resp: AddPartitionsToTxnResponse = match self
            .peers
            .send(
                leader,
                ApiKey::AddPartitionsToTxn,
                if add { 5 } else { 4 },
                &req,
                VERIFY_TIMEOUT,
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(transactional_id = id, error = %e, "transaction verification failed");
                return all(ResponseError::NetworkException.code());
            }
        };
        if resp.error_code != 0 {
            return all(resp.error_code);
        }
        let mut out = BTreeMap::new();
        for r in &resp.results_by_transaction {
            for t in &r.topic_results {
                for p in &t.results_by_partition {
                    out.insert(
                        TopicPartition::new(t.name.0.as_str(), p.partition_index),
                        p.partition_error_code,
                    );
                }
            }
        }
        out
    }
}

/// The produce error for a refused verification (Kafka's `AddPartitionsToTxnManager`): the
/// coordinator being unreachable, moving or busy is retriable (NOT_ENOUGH_REPLICAS); a
/// partition not in the transaction is INVALID_TXN_STATE (TRANSACTION_ABORTABLE for clients
/// that know it is not advertised yet); fencing errors pass through.
fn refusal(code: i16, id: &str) -> BrokerError {
    let retriable = [
        ResponseError::CoordinatorNotAvailable,
        ResponseError::NotCoordinator,
        ResponseError::CoordinatorLoadInProgress,
        ResponseError::ConcurrentTransactions,
        ResponseError::NetworkException,
        ResponseError::RequestTimedOut,
    ];
    if retriable.iter().any(|e| e.code() == code) {
        return BrokerError::kafka(
            ResponseError::NotEnoughReplicas,
            format!(
                "the transaction coordinator of {id} could not verify the write yet (error {code})"
            ),
        );
    }
    let kind = match ResponseError::try_from_code(code) {
        Some(ResponseError::TransactionAbortable) | None => ResponseError::InvalidTxnState,
        Some(e) => e,
    };
    BrokerError::kafka(
        kind,
        format!("the transaction coordinator of {id} refused the write: the partition is not part of an ongoing transaction (error {code})"),
    )
}
