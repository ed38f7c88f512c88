//! Share-group offsets (KIP-932, KIP-1226): what DescribeShareGroupOffsets,
//! AlterShareGroupOffsets and DeleteShareGroupOffsets do on the group coordinator, per
//! share-partition, through the share-state [`Persister`](super::persister::Persister):
//!
//! - describe reads the durable state: its start offset (-1 when the share-partition was
//!   never initialized), the leader epoch of its last write, and the lag
//!   ([`share_lag`]: high watermark − start offset − records already delivered above it);
//! - alter re-initializes the state at the new start offset with the next state epoch (every
//!   in-flight and acknowledged record state is discarded, as Kafka's InitializeShareGroupState
//!   does), so the share-partition's leader reloads it;
//! - delete removes the state (DeleteShareGroupState); the next consumer starts from
//!   `share.auto.offset.reset`.
//!
//! Alter and delete require the group to be empty ([`require_group`]).

use kafka_protocol::error::ResponseError;
use weir_share_coordinator::ShareKey;

use super::groups::ShareGroupCoordinator;
use super::manager::{retry, SharePartitionManager};
use crate::error::BrokerError;
use crate::metadata::topic_meta::TopicMeta;

/// The durable offsets of one share-partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareOffset {
    /// The share-partition start offset; -1 when it was never initialized.
    pub start_offset: i64,
    /// The leader epoch of the state's last write; -1 when unknown.
    pub leader_epoch: i32,
    /// The lag (see [`share_lag`]); -1 when unknown.
    pub lag: i64,
}

/// Kafka's share-partition lag (KIP-1226): the records at or above the start offset and below
/// the partition's end that have not completed delivery, `end - start - delivery_complete`;
/// -1 when any input is unknown (`end` None, `start` or `delivery_complete` negative).
pub fn share_lag(end: Option<i64>, start: i64, delivery_complete: i32) -> i64 {
    match end {
        Some(end) if start >= 0 && delivery_complete >= 0 => {
            (end - start - i64::from(delivery_complete)).max(0)
        }
        _ => -1,
    }
}

/// The share group `group` as the offsets APIs need it: `Ok(true)` for a share group known
/// here, `Ok(false)` for a group id no group has (as Kafka, the offsets APIs then work on the
/// share state alone: describe reports the state there is, alter initializes it, delete removes
/// what exists); INVALID_GROUP_ID for an empty id, NOT_COORDINATOR when another broker
/// coordinates it, and with `empty`, NON_EMPTY_GROUP while it has members.
pub async fn require_group(
    groups: &ShareGroupCoordinator,
    group: &str,
    empty: bool,
) -> Result<bool, BrokerError> {
    if group.is_empty() {
        return Err(BrokerError::kafka(
            ResponseError::InvalidGroupId,
            "the group id is empty",
        ));
    }
    let d = match groups.describe(group).await {
        Ok(d) => d,
        Err(weir_share_coordinator::ShareError::GroupIdNotFound(_)) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if empty && !d.members.is_empty() {
        return Err(BrokerError::kafka(
            ResponseError::NonEmptyGroup,
            format!(
                "share group {group} has {} active members; stop them first",
                d.members.len()
            ),
        ));
    }
    Ok(true)
}

/// UNKNOWN_TOPIC_OR_PARTITION unless `topic` exists with `partition`.
pub fn check_partition(
    topic: Option<&TopicMeta>,
    name: &str,
    partition: i32,
) -> Result<(), BrokerError> {
    match topic {
        Some(t) if partition >= 0 && partition < t.partitions => Ok(()),
        _ => Err(BrokerError::kafka(
            ResponseError::UnknownTopicOrPartition,
            format!("no partition {name}-{partition}"),
        )),
    }
}

impl SharePartitionManager {
    /// The durable offsets of `key` (`topic` is its name, for the high watermark).
    pub async fn describe_offset(
        &self,
        key: &ShareKey,
        topic: &str,
    ) -> Result<ShareOffset, BrokerError> {
        let state = retry(|| self.persister().read_state(key)).await?;
        let Some(s) = state else {
            return Ok(ShareOffset {
                start_offset: -1,
                leader_epoch: -1,
                lag: -1,
            });
        };
        Ok(ShareOffset {
            start_offset: s.start_offset,
            leader_epoch: s.leader_epoch,
            lag: share_lag(
                self.end_offset(topic, key.partition),
                s.start_offset,
                s.delivery_complete_count,
            ),
        })
    }

    /// The high watermark of `topic`-`partition` when this broker leads it (None otherwise).
    fn end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.view.check_leader(topic, partition, -1).ok()?;
        let log = self.replicas.require_log(topic, partition).ok()?;
        Some(log.high_watermark())
    }

    /// True when `key` has durable state.
    pub async fn has_offset(&self, key: &ShareKey) -> Result<bool, BrokerError> {
        Ok(retry(|| self.persister().read_state(key)).await?.is_some())
    }

    /// AlterShareGroupOffsets of one share-partition: its state starts afresh at
    /// `start_offset` with the next state epoch (see the module docs).
    pub async fn alter_offset(&self, key: &ShareKey, start_offset: i64) -> Result<(), BrokerError> {
        if start_offset < 0 {
            return Err(BrokerError::kafka(
                ResponseError::InvalidRequest,
                format!("start offset {start_offset} is negative"),
            ));
        }
        let current = retry(|| self.persister().read_state(key)).await?;
        let epoch = current.map_or(1, |s| s.state_epoch + 1);
        retry(|| self.persister().initialize_state(key, epoch, start_offset)).await?;
        self.forget(key).await;
        Ok(())
    }

    /// DeleteShareGroupOffsets of one share-partition: its state is deleted (no error when it
    /// has none).
    pub async fn delete_offset(&self, key: &ShareKey) -> Result<(), BrokerError> {
        if retry(|| self.persister().read_state(key)).await?.is_some() {
            retry(|| self.persister().delete_state(key)).await?;
        }
        self.forget(key).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_end_minus_start_minus_completed() {
        assert_eq!(share_lag(Some(10), 0, 0), 10);
        assert_eq!(share_lag(Some(10), 4, 3), 3);
        assert_eq!(share_lag(Some(10), 10, 0), 0);
        // A start past the end (an alter to a future offset) is no negative lag.
        assert_eq!(share_lag(Some(10), 12, 0), 0);
    }

    #[test]
    fn lag_is_unknown_without_its_inputs() {
        assert_eq!(share_lag(None, 0, 0), -1);
        assert_eq!(share_lag(Some(10), -1, 0), -1);
        assert_eq!(share_lag(Some(10), 0, -1), -1);
    }
}
