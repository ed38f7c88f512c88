//! Persistence of coordinator state in `__consumer_offsets`: create the topic on first use,
//! append records durably, and replay a partition when this broker becomes its leader.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use weir_log::batch::{build_batch_nullable, check_integrity};
use weir_log::records::parse_records;
use weir_log::TopicPartition;

use super::classic::ClassicGroup;
use super::records::{self, RecordKey};
use super::{Group, GroupCoordinator, Membership, OFFSETS_TOPIC};
use crate::broker::Broker;
use crate::error::BrokerError;

/// Create `__consumer_offsets` if it does not exist: `offsets.topic.num.partitions` partitions,
/// compacted, `offsets.topic.segment.bytes` segments. The replication factor is
/// `offsets.topic.replication.factor` capped at the unfenced brokers (Kafka refuses instead;
/// Weir's zero-config single node would otherwise have no coordinator).
pub async fn ensure_offsets_topic(broker: &Broker) -> Result<i32, BrokerError> {
    if let Some(meta) = broker.topics.get(OFFSETS_TOPIC) {
        return Ok(meta.partitions);
    }
    let cfg = broker.groups.config();
    let configs: BTreeMap<String, String> = [
        ("cleanup.policy".to_string(), "compact".to_string()),
        (
            "segment.bytes".to_string(),
            cfg.offsets_topic_segment_bytes.to_string(),
        ),
    ]
    .into();
    let live = broker.meta.image().live_brokers().len().max(1);
    let rf = cfg
        .offsets_topic_replication_factor
        .clamp(1, i16::try_from(live).unwrap_or(i16::MAX));
    match broker
        .create_topic(
            OFFSETS_TOPIC,
            cfg.offsets_topic_partitions,
            rf,
            configs,
            false,
        )
        .await
    {
        Ok(meta) => Ok(meta.partitions),
        Err(BrokerError::Kafka {
            code: ResponseError::TopicAlreadyExists,
            ..
        }) => {
            broker
                .await_image(|img| img.topics.contains_key(OFFSETS_TOPIC))
                .await?;
            broker
                .topics
                .get(OFFSETS_TOPIC)
                .map(|m| m.partitions)
                .ok_or_else(|| {
                    BrokerError::kafka(
                        ResponseError::CoordinatorNotAvailable,
                        "offsets topic vanished",
                    )
                })
        }
        Err(e) => Err(e),
    }
}

/// `offsets.commit.timeout.ms` (Kafka's default): how long an offsets write waits for the ISR.
const OFFSETS_COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Append `records` (key, value-or-tombstone) for `group` to its `__consumer_offsets` partition,
/// wait until they are durable here and (replicated topic) on the ISR. Only after this returns `Ok` may
/// the caller change in-memory state or acknowledge. Only the partition's leader writes; errors
/// are the coordinator errors Kafka returns for a failed group write ([`coordinator_error`]):
/// NOT_COORDINATOR when this broker does not (or no longer) lead the partition,
/// COORDINATOR_NOT_AVAILABLE when the ISR did not get the records in time.
pub async fn write(
    broker: &Arc<Broker>,
    group: &str,
    recs: Vec<(RecordKey, Option<Vec<u8>>)>,
) -> Result<(), BrokerError> {
    if recs.is_empty() {
        return Ok(());
    }
    write_as_leader(broker, group, recs)
        .await
        .map_err(coordinator_error)
}

/// Kafka's mapping of a failed `__consumer_offsets` write to the error a group client gets
/// (`CoordinatorRuntime.normalizeException`): leadership and storage errors become
/// NOT_COORDINATOR (the client looks the coordinator up again), replication shortfalls and
/// timeouts COORDINATOR_NOT_AVAILABLE (it retries). Other errors pass unchanged.
pub fn coordinator_error(e: BrokerError) -> BrokerError {
    let code = match e.code() {
        c if c == ResponseError::NotLeaderOrFollower.code()
            || c == ResponseError::KafkaStorageError.code() =>
        {
            ResponseError::NotCoordinator
        }
        c if c == ResponseError::UnknownTopicOrPartition.code()
            || c == ResponseError::NotEnoughReplicas.code()
            || c == ResponseError::NotEnoughReplicasAfterAppend.code()
            || c == ResponseError::RequestTimedOut.code() =>
        {
            ResponseError::CoordinatorNotAvailable
        }
        _ => return e,
    };
    BrokerError::kafka(code, e.message())
}

async fn write_as_leader(
    broker: &Arc<Broker>,
    group: &str,
    recs: Vec<(RecordKey, Option<Vec<u8>>)>,
) -> Result<(), BrokerError> {
    let partitions = ensure_offsets_topic(broker).await?;
    let partition = records::partition_for(group, partitions);
    // Never append to a follower's replica: the leader's log is the truth, and a write here
    // would be acknowledged without ever reaching it.
    let info = broker
        .partition_info(OFFSETS_TOPIC, partition)
        .filter(|p| p.leader == broker.config.node_id)
        .ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::NotCoordinator,
                format!(
                    "broker {} does not lead {OFFSETS_TOPIC}-{partition} (group {group})",
                    broker.config.node_id
                ),
            )
        })?;
    let log = broker.require_log(OFFSETS_TOPIC, partition)?;
    let keys: Vec<Vec<u8>> = recs.iter().map(|(k, _)| records::encode_key(k)).collect();
    let pairs: Vec<weir_log::batch::NullableRecord<'_>> = keys
        .iter()
        .zip(&recs)
        .map(|(k, (_, v))| (Some(k.as_slice()), v.as_deref()))
        .collect();
    let batch = build_batch_nullable(0, broker.groups.now(), &pairs);
    let res = log.append(&batch)?;
    if let Some(ticket) = res.durable {
        broker.logs.wait_durable_async(ticket).await?;
    }
    broker.notify_new_appends();
    broker.on_local_durable(&log, res.last_offset + 1);
    // As Kafka's offsets.commit.required.acks=-1: the write counts once the ISR has it, while
    // this broker still leads at the epoch it appended in (NOT_LEADER_OR_FOLLOWER otherwise).
    if info.replicas.len() > 1 {
        broker
            .await_replication(
                &log,
                res.last_offset + 1,
                info.leader_epoch,
                1,
                OFFSETS_COMMIT_TIMEOUT,
            )
            .await?;
    }
    Ok(())
}

/// Rebuild the coordinator's groups and offsets stored in partition `p` of
/// `__consumer_offsets` (no-op if the topic or partition does not exist here), reading up to
/// the log end. Later records win; tombstones delete. Records that cannot be decoded are
/// skipped with a warning (they never came from Weir). Called when this broker becomes the
/// partition's leader, i.e. the coordinator of its groups.
pub fn replay_partition(
    broker: &Broker,
    coordinator: &GroupCoordinator,
    p: i32,
) -> Result<usize, BrokerError> {
    let Some(log) = broker.partition_log(&TopicPartition::new(OFFSETS_TOPIC, p)) else {
        return Ok(0);
    };
    let now = coordinator.now();
    let mut applied = 0usize;
    let mut groups = coordinator.lock();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let read = log.read(offset, 1 << 20, end)?;
        let bytes = read.records.to_bytes()?;
        if bytes.is_empty() {
            break;
        }
        let mut pos = 0usize;
        while pos < bytes.len() {
            let h = check_integrity(&bytes[pos..])?;
            let batch = &bytes[pos..pos + h.total_len];
            if h.next_offset() > offset {
                for r in parse_records(batch, &h)? {
                    if h.base_offset + r.offset_delta < offset {
                        continue;
                    }
                    applied += apply(&mut groups, r.key, r.value, now);
                }
            }
            offset = offset.max(h.next_offset());
            pos += h.total_len;
        }
    }
    groups.retain(|_, g| !(g.is_empty() && g.offsets.is_empty() && g.membership_is_blank()));
    tracing::info!(
        partition = p,
        groups = groups.len(),
        records = applied,
        "group coordinator state loaded"
    );
    Ok(applied)
}

impl Group {
    fn membership_is_blank(&self) -> bool {
        matches!(&self.membership, Membership::Classic(c) if c.generation == 0)
    }
}

fn apply(
    groups: &mut std::collections::HashMap<String, Group>,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    now: i64,
) -> usize {
    let Some(key) = key else { return 0 };
    let key = match records::decode_key(key) {
        Ok(Some(k)) => k,
        Ok(None) => return 0,
        Err(e) => {
            tracing::warn!(error = %e, "skipping undecodable __consumer_offsets key");
            return 0;
        }
    };
    let id = key.group().to_string();
    let g = groups
        .entry(id.clone())
        .or_insert_with(|| Group::new_classic(&id, now));
    match (key, value) {
        (
            RecordKey::Offset {
                topic, partition, ..
            },
            None,
        ) => {
            g.offsets.remove(&(topic, partition));
        }
        (
            RecordKey::Offset {
                topic, partition, ..
            },
            Some(v),
        ) => match records::decode_offset(v) {
            Ok(o) => {
                g.offsets.insert((topic, partition), o);
            }
            Err(e) => tracing::warn!(group = %id, error = %e, "skipping bad offset record"),
        },
        (RecordKey::ConsumerGroup { .. }, None) => {
            if matches!(g.membership, Membership::Consumer(_)) {
                g.membership = Membership::Classic(ClassicGroup::new(&id, now));
            }
        }
        (RecordKey::ConsumerGroup { .. }, Some(v)) => {
            match serde_json::from_slice::<super::consumer::ConsumerGroup>(v) {
                Ok(c) => g.membership = Membership::Consumer(c.restored(now)),
                Err(e) => {
                    tracing::warn!(group = %id, error = %e, "skipping bad consumer group record")
                }
            }
        }
        (RecordKey::Group { .. }, None) => {
            g.membership = Membership::Classic(ClassicGroup::new(&id, now));
        }
        (RecordKey::Group { .. }, Some(v)) => match records::decode_group(v) {
            Ok(stored) => {
                g.membership = Membership::Classic(ClassicGroup::from_stored(&id, &stored, now));
            }
            Err(e) => tracing::warn!(group = %id, error = %e, "skipping bad group record"),
        },
    }
    1
}
