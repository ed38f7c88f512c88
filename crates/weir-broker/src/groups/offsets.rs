//! Committed offsets: validation of OffsetCommit against the group's membership (generation for
//! classic groups, member epoch for KIP-848 groups), durable write then apply, fetch, delete and
//! expiry after `offsets.retention.minutes` of emptiness.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;

use super::classic::{ClassicState, Ms};
use super::records::{self, OffsetValue, RecordKey};
use super::{store, Group, GroupCoordinator, Membership};
use crate::broker::Broker;
use crate::error::BrokerError;

/// Largest accepted commit metadata (`offset.metadata.max.bytes`).
pub const OFFSET_METADATA_MAX_BYTES: usize = 4096;

/// Who commits: the member identity sent with OffsetCommit / OffsetFetch.
#[derive(Debug, Clone, Default)]
pub struct Committer {
    /// Member id ("" for a simple/admin commit).
    pub member_id: String,
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Generation (classic) or member epoch (KIP-848); -1 for a simple commit.
    pub generation_or_epoch: i32,
}

/// Check that `who` may commit to `g` (Kafka's `validateOffsetCommit`).
fn validate(g: &Group, who: &Committer) -> Result<(), ResponseError> {
    let simple =
        who.generation_or_epoch < 0 && who.member_id.is_empty() && who.instance_id.is_none();
    match &g.membership {
        Membership::Classic(c) => {
            if simple {
                return if c.members.is_empty() {
                    Ok(())
                } else {
                    Err(ResponseError::UnknownMemberId)
                };
            }
            if let Some(i) = &who.instance_id {
                if c.members
                    .values()
                    .any(|m| m.instance_id.as_deref() == Some(i) && m.id != who.member_id)
                {
                    return Err(ResponseError::FencedInstanceId);
                }
            }
            if !c.members.contains_key(&who.member_id) {
                return Err(ResponseError::UnknownMemberId);
            }
            if who.generation_or_epoch != c.generation {
                return Err(ResponseError::IllegalGeneration);
            }
            if c.state == ClassicState::CompletingRebalance {
                return Err(ResponseError::RebalanceInProgress);
            }
            Ok(())
        }
        Membership::Consumer(c) => {
            if simple {
                return if c.members.is_empty() {
                    Ok(())
                } else {
                    Err(ResponseError::UnknownMemberId)
                };
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

impl GroupCoordinator {
    /// Commit offsets: `entries` are (topic, partition, offset, leader epoch, metadata). Returns
    /// one error code per entry, in order. Offsets are written durably before they become
    /// visible to OffsetFetch.
    pub async fn commit(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        who: &Committer,
        entries: Vec<(String, i32, i64, i32, String)>,
    ) -> Vec<i16> {
        let now = self.now();
        let check = {
            let mut groups = self.lock();
            let g = groups
                .entry(group_id.to_string())
                .or_insert_with(|| Group::new_classic(group_id, now));
            let r = validate(g, who);
            if r.is_ok() {
                if let Membership::Classic(c) = &mut g.membership {
                    if let Some(m) = c.members.get_mut(&who.member_id) {
                        m.last_seen = now;
                    }
                }
            }
            r
        };
        if let Err(code) = check {
            return vec![code.code(); entries.len()];
        }
        let mut codes = Vec::with_capacity(entries.len());
        let mut recs = Vec::new();
        let mut accepted = Vec::new();
        for (topic, partition, offset, leader_epoch, metadata) in entries {
            let known = broker
                .topics
                .get(&topic)
                .is_some_and(|t| partition >= 0 && partition < t.partitions);
            let code = if !known {
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
                recs.push((
                    RecordKey::Offset {
                        group: group_id.to_string(),
                        topic: topic.clone(),
                        partition,
                    },
                    Some(records::encode_offset(&v)),
                ));
                accepted.push(((topic, partition), v, codes.len()));
                0
            };
            codes.push(code);
        }
        if let Err(e) = store::write(broker, group_id, recs).await {
            tracing::warn!(group = group_id, error = %e, "offset commit not stored");
            for (_, _, i) in &accepted {
                codes[*i] = e.code();
            }
            return codes;
        }
        let mut groups = self.lock();
        if let Some(g) = groups.get_mut(group_id) {
            for (k, v, _) in accepted {
                g.offsets.insert(k, v);
            }
        }
        codes
    }

    /// Committed offsets of a group: for `topics` = None every committed partition, else the
    /// asked partitions (offset -1 when none committed). Checks the member epoch when given
    /// (OffsetFetch v9 from a KIP-848 member).
    pub fn fetch(
        &self,
        group_id: &str,
        who: Option<&Committer>,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<(String, i32, Option<OffsetValue>)>, ResponseError> {
        let groups = self.lock();
        let g = groups.get(group_id);
        if let (Some(g), Some(who)) = (g, who) {
            if let Membership::Consumer(c) = &g.membership {
                if !who.member_id.is_empty() {
                    let m = c
                        .members
                        .get(&who.member_id)
                        .ok_or(ResponseError::UnknownMemberId)?;
                    if who.generation_or_epoch != m.epoch {
                        return Err(ResponseError::StaleMemberEpoch);
                    }
                }
            }
        }
        let empty = BTreeMap::new();
        let offsets = g.map(|g| &g.offsets).unwrap_or(&empty);
        Ok(match topics {
            None => offsets
                .iter()
                .map(|((t, p), v)| (t.clone(), *p, Some(v.clone())))
                .collect(),
            Some(list) => list
                .into_iter()
                .flat_map(|(t, ps)| {
                    ps.into_iter()
                        .map(|p| {
                            let v = offsets.get(&(t.clone(), p)).cloned();
                            (t.clone(), p, v)
                        })
                        .collect::<Vec<_>>()
                })
                .collect(),
        })
    }

    /// OffsetDelete: remove committed offsets of topics the group does not subscribe to.
    /// Returns the group-level error or per-partition codes.
    pub async fn delete_offsets(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        parts: Vec<(String, i32)>,
    ) -> Result<Vec<i16>, BrokerError> {
        let (codes, recs) = {
            let groups = self.lock();
            let g = groups.get(group_id).ok_or_else(|| {
                BrokerError::kafka(
                    ResponseError::GroupIdNotFound,
                    format!("group {group_id} does not exist"),
                )
            })?;
            let subscribed: Vec<String> = match &g.membership {
                Membership::Classic(c) => c.subscribed_topics(),
                Membership::Consumer(c) => c.subscribed_topics().into_iter().collect(),
            };
            let mut codes = Vec::new();
            let mut recs = Vec::new();
            for (t, p) in parts {
                if subscribed.contains(&t) {
                    codes.push(ResponseError::GroupSubscribedToTopic.code());
                } else {
                    codes.push(0);
                    if g.offsets.contains_key(&(t.clone(), p)) {
                        recs.push((t, p));
                    }
                }
            }
            (codes, recs)
        };
        let keys: Vec<(String, i32)> = recs.clone();
        store::write(broker, group_id, tombstones(group_id, recs.iter())).await?;
        if let Some(g) = self.lock().get_mut(group_id) {
            for k in keys {
                g.offsets.remove(&k);
            }
        }
        Ok(codes)
    }
}

/// Tombstones for the given offsets of `group` plus its group-metadata record.
pub fn tombstones<'a>(
    group: &str,
    keys: impl Iterator<Item = &'a (String, i32)>,
) -> Vec<(RecordKey, Option<Vec<u8>>)> {
    let mut out: Vec<(RecordKey, Option<Vec<u8>>)> = keys
        .map(|(t, p)| {
            (
                RecordKey::Offset {
                    group: group.to_string(),
                    topic: t.clone(),
                    partition: *p,
                },
                None,
            )
        })
        .collect();
    out.push((
        RecordKey::Group {
            group: group.to_string(),
        },
        None,
    ));
    out.push((
        RecordKey::ConsumerGroup {
            group: group.to_string(),
        },
        None,
    ));
    out
}

/// Expire the offsets of groups that have been empty for `offsets.retention.minutes`, and forget
/// such groups (Kafka 2.1+ semantics: retention starts when the group becomes empty).
pub async fn expire(
    coordinator: &GroupCoordinator,
    broker: &Arc<Broker>,
    now: Ms,
) -> Result<(), BrokerError> {
    let retention = coordinator.config().offsets_retention_ms;
    let due: Vec<(String, Vec<(String, i32)>)> = coordinator
        .lock()
        .iter()
        .filter(|(_, g)| g.is_empty() && now - g.empty_since >= retention)
        .map(|(id, g)| (id.clone(), g.offsets.keys().cloned().collect()))
        .collect();
    for (id, keys) in due {
        store::write(broker, &id, tombstones(&id, keys.iter())).await?;
        let mut groups = coordinator.lock();
        if groups.get(&id).is_some_and(Group::is_empty) {
            groups.remove(&id);
            tracing::info!(group = %id, "group expired after offsets.retention.minutes");
        }
    }
    Ok(())
}
