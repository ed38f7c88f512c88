//! An internal coordinator topic (`__consumer_offsets`, `__transaction_state`, …) as a
//! coordinator's storage: the broker side of the coordinator runtime's narrow traits. Writes go
//! through the replica manager's one append path (as a coordinator: acks=all, leader only, at
//! the leader epoch the shard was loaded at; transactional batches for TxnOffsetCommit); loads
//! read the local replica, reporting transactional records and transaction markers; the topic is
//! created on first use from its [`TopicSpec`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use weir_coordinator::{
    BoxFuture, Clock, PartitionReader, PartitionWriter, ReadError, Record, RecordVisitor,
    ReplayItem, TxnProducer, WriteError,
};
use weir_group_coordinator::GroupConfig;
use weir_log::batch::{build_batch_nullable, check_integrity, set_transactional};
use weir_log::records::parse_records;
use weir_log::txn_marker::{is_control, is_transactional, parse_marker};
use weir_log::{TopicPartition, TxnResult};

use crate::admin::topics::TopicAdmin;
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::replica::append::AppendOrigin;
use crate::replica::manager::ReplicaManager;

/// How an internal topic is created and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Partition count at creation (e.g. `offsets.topic.num.partitions`).
    pub partitions: i32,
    /// Replication factor at creation, capped at the live brokers (Kafka refuses instead;
    /// Weir's zero-config single node would otherwise have no coordinator); a
    /// `min.insync.replicas` in `configs` is capped at the replication factor used.
    pub replication_factor: i16,
    /// Topic configs at creation (e.g. `cleanup.policy=compact`, `segment.bytes`).
    pub configs: BTreeMap<String, String>,
    /// How long a write waits for the ISR (e.g. `offsets.commit.timeout.ms`).
    pub commit_timeout: Duration,
}

impl TopicSpec {
    /// `__consumer_offsets` from the group coordinator's settings: compacted,
    /// `offsets.topic.segment.bytes` segments, `offsets.commit.timeout.ms` = 5 s (Kafka's
    /// default).
    pub fn consumer_offsets(cfg: &GroupConfig) -> Self {
        TopicSpec {
            partitions: cfg.offsets_topic_partitions,
            replication_factor: cfg.offsets_topic_replication_factor,
            configs: [
                ("cleanup.policy".to_string(), "compact".to_string()),
                (
                    "segment.bytes".to_string(),
                    cfg.offsets_topic_segment_bytes.to_string(),
                ),
            ]
            .into(),
            commit_timeout: Duration::from_secs(5),
        }
    }

    /// `__transaction_state` as Kafka creates it: `transaction.state.log.num.partitions`,
    /// `.replication.factor`, compacted with `min.insync.replicas` =
    /// `transaction.state.log.min.isr` and `transaction.state.log.segment.bytes`; writes wait
    /// for the ISR as long as a transactional client waits for an answer.
    pub fn transaction_state(cfg: &weir_txn_coordinator::TransactionConfig) -> Self {
        TopicSpec {
            partitions: cfg.state_log_partitions,
            replication_factor: cfg.state_log_replication_factor,
            configs: cfg
                .topic_configs()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            commit_timeout: Duration::from_secs(30),
        }
    }
}

impl TopicSpec {
    /// `__share_group_state` as Kafka creates it (`share.coordinator.state.topic.*`: 50
    /// partitions, compacted, `min.insync.replicas` 2, replication factor 3 — capped at the
    /// live brokers like the others); writes wait for the ISR up to 30 s.
    pub fn share_group_state(cfg: &weir_share_coordinator::ShareCoordinatorConfig) -> Self {
        TopicSpec {
            partitions: cfg.state_topic_partitions,
            replication_factor: cfg.state_topic_replication_factor,
            configs: cfg
                .topic_configs()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            commit_timeout: Duration::from_secs(30),
        }
    }
}

/// The storage of one coordinator: its internal topic over this broker's replicas.
pub struct InternalTopic {
    name: &'static str,
    spec: TopicSpec,
    replicas: Arc<ReplicaManager>,
    view: Arc<MetadataView>,
    admin: Arc<TopicAdmin>,
    clock: Arc<dyn Clock>,
    /// Held while this broker creates the topic: concurrent first requests (a client's
    /// FindCoordinator on two connections) wait for one creation instead of racing a second
    /// proposal, whose refusal would cost the admin path's one-second settle wait.
    creating: tokio::sync::Mutex<()>,
}

impl InternalTopic {
    /// Storage for the internal topic `name` over this broker's replicas; `spec` says how the
    /// topic is created (when first needed) and how long writes wait for the ISR.
    pub fn new(
        name: &'static str,
        spec: TopicSpec,
        replicas: Arc<ReplicaManager>,
        view: Arc<MetadataView>,
        admin: Arc<TopicAdmin>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        InternalTopic {
            creating: tokio::sync::Mutex::new(()),
            name,
            spec,
            replicas,
            view,
            admin,
            clock,
        }
    }

    /// The topic's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    async fn write(
        &self,
        partition: i32,
        leader_epoch: i32,
        records: Vec<Record>,
        txn: Option<TxnProducer>,
    ) -> Result<(), BrokerError> {
        // Never append to a follower's replica, nor at another epoch than the shard was loaded
        // at: the leader's log is the truth.
        self.view.check_leader(self.name, partition, leader_epoch)?;
        let pairs: Vec<weir_log::batch::NullableRecord<'_>> = records
            .iter()
            .map(|r| (Some(r.key.as_slice()), r.value.as_deref()))
            .collect();
        let mut batch = build_batch_nullable(0, self.clock.now_ms(), &pairs);
        if let Some(t) = txn {
            set_transactional(&mut batch, t.producer_id, t.producer_epoch);
        }
        let tp = TopicPartition::new(self.name, partition);
        let appended = self
            .replicas
            .append(&tp, &batch, AppendOrigin::Coordinator)?;
        self.replicas.await_durable(&appended).await?;
        self.replicas
            .await_acks(&appended, self.spec.commit_timeout)
            .await
    }

    /// Create the topic if it does not exist (and in any case return only once this broker has
    /// applied it, so the coordinator knows its partitions), as [`TopicSpec`] says. The
    /// replication factor is capped at the unfenced brokers.
    async fn ensure(&self) -> Result<i32, BrokerError> {
        if self.view.topic(self.name).is_some() {
            return self.await_applied().await;
        }
        let _creating = self.creating.lock().await;
        if self.view.topic(self.name).is_some() {
            // Created by the request that held the lock before us.
            return self.await_applied().await;
        }
        self.create().await
    }

    /// The topic is in the image: wait until this broker applied it.
    async fn await_applied(&self) -> Result<i32, BrokerError> {
        // The image has it but the coordinator runtime may not have been told yet (the
        // applier runs on its own task): apply the image first, so callers find the shards.
        self.admin
            .await_topic(self.name)
            .await
            .map(|m| m.partitions)
    }

    /// Propose the topic (TOPIC_ALREADY_EXISTS from another broker's creation is a success).
    async fn create(&self) -> Result<i32, BrokerError> {
        let live = self.view.image().live_brokers().len().max(1);
        let rf = self
            .spec
            .replication_factor
            .clamp(1, i16::try_from(live).unwrap_or(i16::MAX));
        // A min.insync.replicas above the (capped) replication factor would refuse every
        // write: cap it too (e.g. transaction.state.log.min.isr=2 on a single node).
        let mut configs = self.spec.configs.clone();
        if let Some(v) = configs.get_mut("min.insync.replicas") {
            if v.parse::<i16>().is_ok_and(|m| m > rf) {
                *v = rf.to_string();
            }
        }
        match self
            .admin
            .create_topic(
                self.name,
                self.spec.partitions,
                rf,
                configs,
                false,
                crate::admin::proposal::deadline_of(0),
            )
            .await
        {
            Ok(meta) => Ok(meta.partitions),
            Err(BrokerError::Kafka {
                code: ResponseError::TopicAlreadyExists,
                ..
            }) => self
                .admin
                .await_topic(self.name)
                .await
                .map(|m| m.partitions),
            Err(e) => Err(e),
        }
    }
}

/// A broker error as the coordinator runtime classifies write failures.
fn write_error(e: BrokerError) -> WriteError {
    let code = e.code();
    let msg = e.message();
    let is = |r: ResponseError| code == r.code();
    if is(ResponseError::NotLeaderOrFollower)
        || is(ResponseError::FencedLeaderEpoch)
        || is(ResponseError::UnknownLeaderEpoch)
    {
        WriteError::NotLeader(msg)
    } else if is(ResponseError::KafkaStorageError) {
        WriteError::Storage(msg)
    } else if is(ResponseError::UnknownTopicOrPartition) {
        WriteError::UnknownPartition(msg)
    } else if is(ResponseError::NotEnoughReplicas)
        || is(ResponseError::NotEnoughReplicasAfterAppend)
    {
        WriteError::NotEnoughReplicas(msg)
    } else if is(ResponseError::RequestTimedOut) {
        WriteError::Timeout(msg)
    } else {
        WriteError::Other { code, message: msg }
    }
}

impl PartitionWriter for InternalTopic {
    fn append(
        &self,
        partition: i32,
        leader_epoch: i32,
        records: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        Box::pin(async move {
            self.write(partition, leader_epoch, records, None)
                .await
                .map_err(write_error)
        })
    }

    /// One transactional batch (attributes 0x10, base sequence -1); the log checks the
    /// producer epoch (INVALID_PRODUCER_EPOCH for a stale one, passed on as
    /// [`WriteError::Other`]).
    fn append_transactional(
        &self,
        partition: i32,
        leader_epoch: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        let txn = Some(TxnProducer {
            producer_id,
            producer_epoch,
        });
        Box::pin(async move {
            self.write(partition, leader_epoch, records, txn)
                .await
                .map_err(write_error)
        })
    }

    fn ensure_topic(&self) -> BoxFuture<'_, Result<i32, WriteError>> {
        Box::pin(async move { self.ensure().await.map_err(write_error) })
    }
}

impl PartitionReader for InternalTopic {
    /// Every record of the local replica of partition `p`, log start to log end: records of
    /// transactional batches with their producer, COMMIT/ABORT markers as such (other control
    /// batches are skipped). Batches that fail their CRC stop the load (the runtime retries it
    /// later).
    fn replay(&self, partition: i32, f: &mut RecordVisitor<'_>) -> Result<usize, ReadError> {
        let tp = TopicPartition::new(self.name, partition);
        let log = self
            .replicas
            .log(&tp)
            .ok_or_else(|| ReadError(format!("{} has no local log yet", tp.dir_name())))?;
        let err = |e: weir_log::LogError| ReadError(format!("{}: {e}", tp.dir_name()));
        let mut applied = 0usize;
        let mut offset = log.log_start_offset();
        let end = log.log_end_offset();
        while offset < end {
            let read = log.read(offset, 1 << 20, end).map_err(err)?;
            let bytes = read.records.to_bytes().map_err(err)?;
            if bytes.is_empty() {
                break;
            }
            let mut pos = 0usize;
            while pos < bytes.len() {
                let h = check_integrity(&bytes[pos..]).map_err(err)?;
                let batch = &bytes[pos..pos + h.total_len];
                if h.next_offset() > offset {
                    if is_control(&h) {
                        if let Some(m) = parse_marker(batch, &h).map_err(err)? {
                            f(ReplayItem::Marker {
                                producer_id: h.producer_id,
                                producer_epoch: h.producer_epoch,
                                commit: m.result == TxnResult::Commit,
                            });
                        }
                    } else {
                        let txn = is_transactional(&h).then_some(TxnProducer {
                            producer_id: h.producer_id,
                            producer_epoch: h.producer_epoch,
                        });
                        for r in parse_records(batch, &h).map_err(err)? {
                            if h.base_offset + r.offset_delta < offset {
                                continue;
                            }
                            if let Some(key) = r.key {
                                f(ReplayItem::Record {
                                    key,
                                    value: r.value,
                                    txn,
                                });
                                applied += 1;
                            }
                        }
                    }
                }
                offset = offset.max(h.next_offset());
                pos += h.total_len;
            }
        }
        Ok(applied)
    }
}
