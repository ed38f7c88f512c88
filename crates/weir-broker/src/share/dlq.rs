//! The dead-letter copier (KIP-1191): records a share group rejected, or released / let
//! expire at `share.delivery.count.limit`, are copied to the group's
//! `errors.deadletterqueue.topic.name`, partition `source partition % DLQ partitions`, with
//! the headers `__dlq.errors.topic`, `.partition`, `.offset`, `.group`, `.delivery.count` and
//! `.message` (and the source key, value and headers when
//! `errors.deadletterqueue.copy.record.enable` is true).
//!
//! Exactly once, as the crate's scheme says: a candidate is DeadLetterPending (persisted)
//! until its copy is durable (acks=all), then confirmed — Archived and persisted. A candidate
//! that may already have been copied (loaded from persisted state after a failover or restart,
//! or a copy whose outcome was unknown) is first looked up in the DLQ partition by its source
//! identity headers (topic, partition, offset, group) and only copied when absent. The copier
//! writes only to a DLQ partition this broker leads (a copy for a partition led elsewhere
//! waits until this broker leads it or the source moves; see the README).
//!
//! Before copying, the DLQ topic is checked (and created when missing, if the broker may) as
//! Kafka 4.4 does ([`super::dlq_target`]); dead letters the checks refuse are archived without
//! a copy and an error is logged, as Kafka's `SharePartition` archives a record whose DLQ
//! write failed.

use weir_log::batch::{build_batch_with_headers, check_integrity, HeaderRecord};
use weir_log::records::parse_records;
use weir_log::{PartitionLog, TopicPartition};
use weir_share_coordinator::{DeadLetterCandidate, DeadLetterReason, ShareGroupConfig, ShareKey};

use super::dlq_target::DlqUnavailable;
use super::manager::SharePartitionManager;
use crate::error::BrokerError;
use crate::metadata::topic_meta::TopicMeta;
use crate::replica::append::AppendOrigin;

/// The DLQ headers of KIP-1191.
pub const H_TOPIC: &str = "__dlq.errors.topic";
/// Source partition.
pub const H_PARTITION: &str = "__dlq.errors.partition";
/// Source offset.
pub const H_OFFSET: &str = "__dlq.errors.offset";
/// Share group.
pub const H_GROUP: &str = "__dlq.errors.group";
/// Delivery count.
pub const H_DELIVERY_COUNT: &str = "__dlq.errors.delivery.count";
/// Why.
pub const H_MESSAGE: &str = "__dlq.errors.message";

/// A source record's key, value and headers.
type SourceRecord = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(Vec<u8>, Option<Vec<u8>>)>,
);

fn reason(c: &DeadLetterCandidate) -> &'static str {
    match c.reason {
        Some(DeadLetterReason::Rejected) => "Record rejected by the consumer",
        Some(DeadLetterReason::DeliveryCountExceeded) => "Delivery count limit exceeded",
        None => "Dead-letter record",
    }
}

impl SharePartitionManager {
    /// One pass of the copier over every loaded share-partition whose group has a DLQ topic.
    pub async fn copy_dead_letters(&self) {
        for (key, cell) in self.loaded(|_| true) {
            let cfg = self.config(&key.group_id);
            let Some(dlq) = cfg.dlq_topic_name.clone() else {
                continue;
            };
            let mut g = cell.lock_owned().await;
            let Some(l) = g.as_mut() else { continue };
            let candidates = l.part.take_dead_letters();
            if candidates.is_empty() {
                continue;
            }
            let topic = l.topic.clone();
            let offsets: Vec<i64> = candidates.iter().map(|c| c.offset).collect();
            let meta = match self.dlq_topic(&key.group_id, &dlq).await {
                Ok(meta) => meta,
                Err(DlqUnavailable::Refused(why)) => {
                    tracing::error!(group = %key.group_id, topic, partition = key.partition, records = offsets.len(), reason = %why, "dead letters archived without a DLQ copy");
                    if let Some(l) = g.as_mut() {
                        l.part.confirm_dead_letters(&offsets);
                    }
                    let _ = self.persist(&key, &mut g).await;
                    continue;
                }
                Err(DlqUnavailable::Retry(e)) => {
                    tracing::warn!(group = %key.group_id, topic, dlq, error = %e, "DLQ topic not available yet; dead letters retried");
                    if let Some(l) = g.as_mut() {
                        l.part.abandon_dead_letters(&offsets);
                    }
                    continue;
                }
            };
            let (mut done, mut failed) = (Vec::new(), Vec::new());
            for c in &candidates {
                match self.copy_one(&key, &topic, &meta, &cfg, c).await {
                    Ok(()) => done.push(c.offset),
                    Err(e) => {
                        tracing::warn!(group = %key.group_id, topic, offset = c.offset, dlq, error = %e, "dead-letter copy failed; retried");
                        failed.push(c.offset);
                    }
                }
            }
            if let Some(l) = g.as_mut() {
                l.part.abandon_dead_letters(&failed);
                l.part.confirm_dead_letters(&done);
            }
            if !done.is_empty() {
                let _ = self.persist(&key, &mut g).await;
            }
        }
    }

    async fn copy_one(
        &self,
        key: &ShareKey,
        topic: &str,
        meta: &TopicMeta,
        cfg: &ShareGroupConfig,
        c: &DeadLetterCandidate,
    ) -> Result<(), BrokerError> {
        let dlq = meta.name.as_str();
        let dp = key.partition % meta.partitions.max(1);
        self.view.check_leader(dlq, dp, -1)?;
        let dlog = self.replicas.require_log(dlq, dp)?;
        let (partition, offset, group, count) = (
            key.partition.to_string(),
            c.offset.to_string(),
            key.group_id.clone(),
            c.delivery_count.to_string(),
        );
        let identity: [(&str, &[u8]); 4] = [
            (H_TOPIC, topic.as_bytes()),
            (H_PARTITION, partition.as_bytes()),
            (H_OFFSET, offset.as_bytes()),
            (H_GROUP, group.as_bytes()),
        ];
        if c.maybe_copied && has_copy(&dlog, &identity)? {
            return Ok(());
        }
        let src = self.replicas.require_log(topic, key.partition)?;
        let read = src.read(c.offset, 1, src.log_end_offset())?;
        let bytes = read.records.to_bytes()?;
        let mut source: Option<SourceRecord> = None;
        if !bytes.is_empty() {
            let h = check_integrity(&bytes)?;
            let batch = &bytes[..h.total_len];
            for r in parse_records(batch, &h)? {
                if h.base_offset + r.offset_delta == c.offset {
                    source = Some((
                        r.key.map(<[u8]>::to_vec),
                        r.value.map(<[u8]>::to_vec),
                        r.headers
                            .iter()
                            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                            .collect(),
                    ));
                }
            }
        }
        let msg = reason(c);
        let mut headers: Vec<(&str, Option<&[u8]>)> = Vec::new();
        let (k, v) = match (&source, cfg.dlq_copy_record_enable) {
            (Some((k, v, hs)), true) => {
                for (hk, hv) in hs {
                    if let Ok(name) = std::str::from_utf8(hk) {
                        headers.push((name, hv.as_deref()));
                    }
                }
                (k.as_deref(), v.as_deref())
            }
            _ => (None, None),
        };
        headers.extend(identity.iter().map(|&(n, v)| (n, Some(v))));
        headers.push((H_DELIVERY_COUNT, Some(count.as_bytes())));
        headers.push((H_MESSAGE, Some(msg.as_bytes())));
        let now = weir_coordinator::Clock::now_ms(&weir_coordinator::SystemClock);
        let rec: HeaderRecord<'_> = (now, k, v, headers);
        let batch = build_batch_with_headers(0, std::slice::from_ref(&rec));
        let tp = TopicPartition::new(dlq, dp);
        let appended = self
            .replicas
            .append(&tp, &batch, AppendOrigin::Coordinator)?;
        self.replicas.await_durable(&appended).await?;
        self.replicas
            .await_acks(&appended, std::time::Duration::from_secs(30))
            .await
    }
}

/// Is a record with these identity headers already in `log` (a scan of the DLQ partition)?
fn has_copy(log: &PartitionLog, identity: &[(&str, &[u8]); 4]) -> Result<bool, BrokerError> {
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let read = log.read(offset, 1 << 20, end)?;
        let bytes = read.records.to_bytes()?;
        if bytes.is_empty() {
            break;
        }
        let mut pos = 0;
        while pos < bytes.len() {
            let h = check_integrity(&bytes[pos..])?;
            let batch = &bytes[pos..pos + h.total_len];
            if h.compression() == 0 {
                for r in parse_records(batch, &h)? {
                    let found = identity.iter().all(|(n, v)| {
                        r.headers
                            .iter()
                            .any(|(hk, hv)| *hk == n.as_bytes() && *hv == Some(*v))
                    });
                    if found {
                        return Ok(true);
                    }
                }
            }
            offset = offset.max(h.next_offset());
            pos += h.total_len;
        }
    }
    Ok(false)
}
