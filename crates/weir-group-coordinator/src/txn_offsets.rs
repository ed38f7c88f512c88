//! Transactional offset commits (KIP-98 TxnOffsetCommit, KIP-447): offsets written as part of a
//! producer's transaction stay *pending* (invisible to OffsetFetch) until the broker appends the
//! producer's COMMIT or ABORT marker to the group's `__consumer_offsets` partition; then they
//! become the committed offsets or are dropped (Kafka's `pendingTransactionalOffsets` in
//! `OffsetMetadataManager`). Replay applies the markers found in the log the same way, so a
//! coordinator failover keeps pending and completed transactions as they were.
//!
//! Record order: Kafka compares the log offsets of a transactional offset record and of the
//! current committed one at COMMIT (the later record wins). The runtime's writers do not report
//! log offsets, so each shard numbers its applied offset records instead
//! ([`GroupShard::next_order`]): replay follows the log, and live writes of one group are
//! serialised by its gate, so within a group the numbering follows the log order. Known gap: a
//! marker completed (by [`GroupCoordinator::complete_transaction`]) while a TxnOffsetCommit of
//! the same producer is still being written leaves that commit's offsets pending in memory
//! until the producer's next marker or the partition's next load (replay then decides by the
//! log). Kafka avoids this by applying records when they are appended.

use kafka_protocol::error::ResponseError;
use weir_coordinator::CoordinatorError;

use crate::classic::ClassicState;
use crate::coordinator::GroupCoordinator;
use crate::group::{record, Group, Membership};
use crate::offsets::{fetch_from, Committer, OFFSET_METADATA_MAX_BYTES};
use crate::records::{self, OffsetValue, RecordKey};
use crate::shard::GroupShard;

impl GroupShard {
    /// End `producer_id`'s transaction in this partition: on COMMIT each pending offset becomes
    /// the committed one unless the committed one's record came later (a plain commit written
    /// after the transactional record wins, as in Kafka); on ABORT they are dropped. Returns how
    /// many pending offsets were completed.
    pub(crate) fn complete_txn(&mut self, producer_id: i64, commit: bool, now: i64) -> usize {
        let staged = self.pending.take(producer_id);
        let n = staged.len();
        if !commit {
            return n;
        }
        for ((group, topic, partition), (v, order)) in staged {
            let g = self
                .groups
                .entry(group.clone())
                .or_insert_with(|| Group::new_classic(&group, now));
            let k = (topic, partition);
            let newer = match (g.offsets.get(&k), g.offset_order.get(&k)) {
                (None, _) => true,
                (Some(_), current) => current.is_none_or(|&c| order > c),
            };
            if newer {
                g.offset_order.insert(k.clone(), order);
                g.offsets.insert(k, v);
            }
        }
        n
    }
}

/// Kafka's `validateTransactionalOffsetCommit`: an unknown group is created (simple group) for
/// generation < 0, else GROUP_ID_NOT_FOUND; member id, generation and instance id are checked
/// only when one of them is given (KIP-447); a stale KIP-848 member epoch is STALE_MEMBER_EPOCH.
/// Those two are TxnOffsetCommit v6's codes (KIP-1319); the API handler answers
/// ILLEGAL_GENERATION for both below v6, as Kafka does.
fn validate_txn(g: Option<&Group>, who: &Committer) -> Result<(), ResponseError> {
    let Some(g) = g else {
        return if who.generation_or_epoch < 0 {
            Ok(())
        } else {
            Err(ResponseError::GroupIdNotFound)
        };
    };
    let given =
        who.generation_or_epoch >= 0 || !who.member_id.is_empty() || who.instance_id.is_some();
    match &g.membership {
        Membership::Classic(c) => {
            if c.state == ClassicState::Dead {
                return Err(ResponseError::CoordinatorNotAvailable);
            }
            if (who.generation_or_epoch < 0 && c.members.is_empty()) || !given {
                return Ok(());
            }
            match &who.instance_id {
                Some(i) => match c
                    .members
                    .values()
                    .find(|m| m.instance_id.as_deref() == Some(i))
                {
                    None => return Err(ResponseError::UnknownMemberId),
                    Some(m) if m.id != who.member_id => {
                        return Err(ResponseError::FencedInstanceId)
                    }
                    Some(_) => {}
                },
                None if !c.members.contains_key(&who.member_id) => {
                    return Err(ResponseError::UnknownMemberId)
                }
                None => {}
            }
            if who.generation_or_epoch != c.generation {
                return Err(ResponseError::IllegalGeneration);
            }
            Ok(())
        }
        Membership::Consumer(c) => {
            if (who.generation_or_epoch < 0 && c.members.is_empty()) || !given {
                return Ok(());
            }
            let m = c
                .members
                .get(&who.member_id)
                .ok_or(ResponseError::UnknownMemberId)?;
            if who.generation_or_epoch != m.epoch {
                return Err(ResponseError::StaleMemberEpoch);
            }
            Ok(())
        }
    }
}

/// One partition of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The committed offset; None when none is committed (or when `error_code` is set).
    pub offset: Option<OffsetValue>,
    /// 0, or UNSTABLE_OFFSET_COMMIT (88) when stable offsets were required and an open
    /// transaction has a pending offset for the partition.
    pub error_code: i16,
}

impl GroupCoordinator {
    /// TxnOffsetCommit: write `entries` (topic, partition, offset, leader epoch, metadata) as
    /// ONE transactional batch of `producer_id` / `producer_epoch` (same records as
    /// OffsetCommit) and, once it is durable, stage them as pending for that producer: they
    /// are invisible to OffsetFetch until [`Self::complete_transaction`] (or a marker found at
    /// load) commits them. Returns one error code per entry, in order: group-level refusals
    /// (ILLEGAL_GENERATION 22, UNKNOWN_MEMBER_ID 25, FENCED_INSTANCE_ID 82 — checked only when a
    /// member id, generation or instance id is given, KIP-447; GROUP_ID_NOT_FOUND 69 for an
    /// unknown group with a generation, STALE_MEMBER_EPOCH 113 for a KIP-848 member's stale
    /// epoch, both v6 codes the caller maps for older versions; COORDINATOR_NOT_AVAILABLE for a
    /// dead group; coordinator errors; the log's INVALID_PRODUCER_EPOCH / PRODUCER_FENCED for a
    /// stale producer epoch) go to every entry; UNKNOWN_TOPIC_OR_PARTITION (3) and
    /// OFFSET_METADATA_TOO_LARGE (12) per entry.
    pub async fn txn_offset_commit(
        &self,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        who: &Committer,
        entries: Vec<(String, i32, i64, i32, String)>,
    ) -> Vec<i16> {
        let n = entries.len();
        let topics = &self.topics;
        let r = self
            .runtime
            .write_transactional(
                group_id,
                producer_id,
                producer_epoch,
                |s: &mut GroupShard, now| {
                    if let Err(code) = validate_txn(s.groups.get(group_id), who) {
                        return Ok((Vec::new(), (vec![code.code(); n], Vec::new())));
                    }
                    s.groups
                        .entry(group_id.to_string())
                        .or_insert_with(|| Group::new_classic(group_id, now));
                    let mut codes = Vec::with_capacity(n);
                    let mut recs = Vec::new();
                    let mut accepted = Vec::new();
                    for (topic, partition, offset, leader_epoch, metadata) in entries {
                        let code = if !topics.partition_exists(&topic, partition) {
                            ResponseError::UnknownTopicOrPartition.code()
                        } else if metadata.len() > OFFSET_METADATA_MAX_BYTES {
                            ResponseError::OffsetMetadataTooLarge.code()
                        } else {
                            let v = OffsetValue {
                                offset,
                                leader_epoch,
                                metadata,
                                commit_timestamp: now,
                            };
                            let key = RecordKey::Offset {
                                group: group_id.to_string(),
                                topic: topic.clone(),
                                partition,
                            };
                            recs.push(record(&key, Some(records::encode_offset(&v))));
                            accepted.push(((topic, partition), v, codes.len()));
                            0
                        };
                        codes.push(code);
                    }
                    Ok((recs, (codes, accepted)))
                },
                |s, written, (mut codes, accepted)| {
                    match (s, written) {
                        (_, Err(e)) => {
                            tracing::warn!(group = group_id, producer_id, error = %e, "transactional offset commit not stored");
                            for (_, _, i) in &accepted {
                                codes[*i] = e.code();
                            }
                        }
                        (Some(s), Ok(())) => {
                            for (k, v, _) in accepted {
                                let order = s.next_order();
                                s.pending.stage(producer_id, group_id, k, v, order);
                            }
                        }
                        (None, Ok(())) => {}
                    }
                    codes
                },
            )
            .await;
        r.unwrap_or_else(|e| vec![e.code(); n])
    }

    /// End `producer_id`'s transaction in `__consumer_offsets` partition `offsets_partition`:
    /// the broker calls this right after it appended the producer's COMMIT (`commit` = true) or
    /// ABORT marker to that partition as its leader. COMMIT makes the producer's pending offsets
    /// the committed ones (except where a plain commit was written after them), ABORT drops
    /// them. Returns how many pending offsets it completed. NOT_COORDINATOR /
    /// COORDINATOR_LOAD_IN_PROGRESS when this broker does not serve the partition: nothing is
    /// lost then, since the marker is in the log and the partition's next load applies it.
    pub fn complete_transaction(
        &self,
        offsets_partition: i32,
        producer_id: i64,
        commit: bool,
    ) -> Result<usize, CoordinatorError> {
        self.runtime.update_partition(offsets_partition, |s, now| {
            s.complete_txn(producer_id, commit, now)
        })
    }

    /// OffsetFetch with KIP-447's `require_stable` (v7+): like [`Self::fetch`], and when
    /// `require_stable` is set a partition with a pending transactional offset answers
    /// UNSTABLE_OFFSET_COMMIT (88) without an offset (the client retries). Pending offsets are
    /// never returned.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        who: Option<&Committer>,
        topics: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> Result<Vec<FetchedOffset>, CoordinatorError> {
        let mut topics = Some(topics);
        let r = self.runtime.try_read(group_id, |s| {
            let rows = fetch_from(s.groups.get(group_id), who, topics.take().flatten())?;
            Ok(rows
                .into_iter()
                .map(|(topic, partition, offset)| {
                    if require_stable && s.pending.contains(group_id, &topic, partition) {
                        let code = ResponseError::UnstableOffsetCommit.code();
                        FetchedOffset {
                            topic,
                            partition,
                            offset: None,
                            error_code: code,
                        }
                    } else {
                        FetchedOffset {
                            topic,
                            partition,
                            offset,
                            error_code: 0,
                        }
                    }
                })
                .collect())
        })?;
        let r = match r {
            Some(r) => r,
            None => fetch_from(None, who, topics.take().flatten()).map(|rows| {
                rows.into_iter()
                    .map(|(topic, partition, offset)| FetchedOffset {
                        topic,
                        partition,
                        offset,
                        error_code: 0,
                    })
                    .collect()
            }),
        };
        r.map_err(|e| {
            CoordinatorError::kafka(e, format!("offset fetch of group {group_id} refused"))
        })
    }
}
