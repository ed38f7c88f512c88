//! TEMPORARY (replaced by the generic internal-topic adapter): `__transaction_state` as the
//! transaction coordinator's storage. Writes go through the replica manager's one append path (as a
//! coordinator: acks=all, leader only, at the leader epoch the shard was loaded at); loads read
//! the local replica; the topic is created on first use.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use weir_coordinator::{
    BoxFuture, Clock, PartitionReader, PartitionWriter, ReadError, Record, RecordVisitor,
    WriteError,
};
use weir_log::batch::{build_batch_nullable, check_integrity};
use weir_log::records::parse_records;
use weir_log::TopicPartition;
use weir_txn_coordinator::{TransactionConfig, TRANSACTION_STATE_TOPIC as OFFSETS_TOPIC};

use crate::admin::topics::TopicAdmin;
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::replica::append::AppendOrigin;
use crate::replica::manager::ReplicaManager;

/// `offsets.commit.timeout.ms` (Kafka's default): how long an offsets write waits for the ISR.
const OFFSETS_COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The storage of the group coordinator.
pub struct TxnStateTopic {
    replicas: Arc<ReplicaManager>,
    view: Arc<MetadataView>,
    admin: Arc<TopicAdmin>,
    config: TransactionConfig,
    clock: Arc<dyn Clock>,
}

impl TxnStateTopic {
    /// Storage over this broker's replicas; `config` gives the topic's partitions, replication
    /// factor and segment size when it is created.
    pub fn new(
        replicas: Arc<ReplicaManager>,
        view: Arc<MetadataView>,
        admin: Arc<TopicAdmin>,
        config: TransactionConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TxnStateTopic {
            replicas,
            view,
            admin,
            config,
            clock,
        }
    }

    async fn write(
        &self,
        partition: i32,
        leader_epoch: i32,
        records: Vec<Record>,
    ) -> Result<(), BrokerError> {
        // Never append to a follower's replica, nor at another epoch than the shard was loaded
        // at: the leader's log is the truth.
        self.view
            .check_leader(OFFSETS_TOPIC, partition, leader_epoch)?;
        let pairs: Vec<weir_log::batch::NullableRecord<'_>> = records
            .iter()
            .map(|r| (Some(r.key.as_slice()), r.value.as_deref()))
            .collect();
        let batch = build_batch_nullable(0, self.clock.now_ms(), &pairs);
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        let appended = self
            .replicas
            .append(&tp, &batch, AppendOrigin::Coordinator)?;
        self.replicas.await_durable(&appended).await?;
        self.replicas
            .await_acks(&appended, OFFSETS_COMMIT_TIMEOUT)
            .await
    }

    /// Create `__consumer_offsets` if it does not exist (and in any case return only once this
    /// broker has applied it, so the coordinator knows its partitions): `offsets.topic.num.partitions`
    /// partitions, compacted, `offsets.topic.segment.bytes` segments. The replication factor is
    /// `offsets.topic.replication.factor` capped at the unfenced brokers (Kafka refuses instead;
    /// Weir's zero-config single node would otherwise have no coordinator).
    async fn ensure(&self) -> Result<i32, BrokerError> {
        if self.view.topic(OFFSETS_TOPIC).is_some() {
            // The image has it but the coordinator runtime may not have been told yet (the
            // applier runs on its own task): apply the image first, so callers find the shards.
            return self
                .admin
                .await_topic(OFFSETS_TOPIC)
                .await
                .map(|m| m.partitions);
        }
        let cfg = &self.config;
        let configs: BTreeMap<String, String> = cfg
            .topic_configs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let live = self.view.image().live_brokers().len().max(1);
        let rf = cfg
            .state_log_replication_factor
            .clamp(1, i16::try_from(live).unwrap_or(i16::MAX));
        match self
            .admin
            .create_topic(
                OFFSETS_TOPIC,
                cfg.state_log_partitions,
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
                .await_topic(OFFSETS_TOPIC)
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

impl PartitionWriter for TxnStateTopic {
    fn append(
        &self,
        partition: i32,
        leader_epoch: i32,
        records: Vec<Record>,
    ) -> BoxFuture<'_, Result<(), WriteError>> {
        Box::pin(async move {
            self.write(partition, leader_epoch, records)
                .await
                .map_err(write_error)
        })
    }

    fn ensure_topic(&self) -> BoxFuture<'_, Result<i32, WriteError>> {
        Box::pin(async move { self.ensure().await.map_err(write_error) })
    }
}

impl PartitionReader for TxnStateTopic {
    /// Every record of the local replica of partition `p`, log start to log end. Batches that
    /// fail their CRC stop the load (the runtime retries it later).
    fn replay(&self, partition: i32, f: &mut RecordVisitor<'_>) -> Result<usize, ReadError> {
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
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
                    for r in parse_records(batch, &h).map_err(err)? {
                        if h.base_offset + r.offset_delta < offset {
                            continue;
                        }
                        if let Some(k) = r.key {
                            f(k, r.value);
                            applied += 1;
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
