//! Committed offsets: validation of OffsetCommit against the group's membership (generation for
//! classic groups, member epoch for KIP-848 groups), durable write then apply, fetch, delete and
//! expiry after `offsets.retention.minutes` of emptiness; DeleteGroups.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use weir_coordinator::{CoordinatorError, Record};

use crate::classic::{ClassicState, Ms};
use crate::coordinator::GroupCoordinator;
use crate::group::{record, Group, Membership};
use crate::records::{self, OffsetValue, RecordKey};
use crate::shard::GroupShard;

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
            // The member's previous epoch is accepted too (a commit racing the heartbeat that
            // bumped it); such a commit may only touch partitions the member still owns
            // (`stale_partition`), Kafka's assignment-epoch rule (KIP-1251) in its simplest form.
            if who.generation_or_epoch != m.epoch
                && !(who.generation_or_epoch == m.previous_epoch && m.previous_epoch >= 0)
            {
                return Err(ResponseError::StaleMemberEpoch);
            }
            Ok(())
        }
    }
}

/// True when `who`, a KIP-848 member committing at its previous epoch, no longer owns
/// `topic`-`partition` (assigned or being revoked): that commit is STALE_MEMBER_EPOCH.
fn stale_partition(g: &Group, who: &Committer, topic: &str, partition: i32) -> bool {
    let Membership::Consumer(c) = &g.membership else {
        return false;
    };
    let Some(m) = c.members.get(&who.member_id) else {
        return false;
    };
    let owns = |tp: &crate::assignment::TopicPartitions| {
        tp.get(topic).is_some_and(|ps| ps.contains(&partition))
    };
    who.generation_or_epoch != m.epoch && !owns(&m.assigned) && !owns(&m.revoking)
}

/// Committed offsets of `g` (None = no such group): for `topics` = None every committed
/// partition, else the asked partitions (offset None when none committed). Checks the member
/// epoch when given (OffsetFetch v9 from a KIP-848 member).
pub(crate) fn fetch_from(
    g: Option<&Group>,
    who: Option<&Committer>,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Result<Vec<(String, i32, Option<OffsetValue>)>, ResponseError> {
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

fn kafka(code: ResponseError, message: String) -> CoordinatorError {
    CoordinatorError::kafka(code, message)
}

impl GroupCoordinator {
    /// Commit offsets: `entries` are (topic, partition, offset, leader epoch, metadata). Returns
    /// one error code per entry, in order. Offsets are written durably before they become
    /// visible to OffsetFetch; a failed write answers the coordinator error for every accepted
    /// entry (COORDINATOR_NOT_AVAILABLE or NOT_COORDINATOR).
    pub async fn commit(
        &self,
        group_id: &str,
        who: &Committer,
        entries: Vec<(String, i32, i64, i32, String)>,
    ) -> Vec<i16> {
        let n = entries.len();
        let topics = &self.topics;
        let r = self
            .runtime
            .write(
                group_id,
                |s: &mut GroupShard, now| {
                    let g = s
                        .groups
                        .entry(group_id.to_string())
                        .or_insert_with(|| Group::new_classic(group_id, now));
                    if let Err(code) = validate(g, who) {
                        return Ok((Vec::new(), (vec![code.code(); n], Vec::new())));
                    }
                    if let Membership::Classic(c) = &mut g.membership {
                        if let Some(m) = c.members.get_mut(&who.member_id) {
                            m.last_seen = now;
                        }
                    }
                    let mut codes = Vec::with_capacity(n);
                    let mut recs = Vec::new();
                    let mut accepted = Vec::new();
                    for (topic, partition, offset, leader_epoch, metadata) in entries {
                        let code = if !topics.partition_exists(&topic, partition) {
                            ResponseError::UnknownTopicOrPartition.code()
                        } else if stale_partition(g, who, &topic, partition) {
                            ResponseError::StaleMemberEpoch.code()
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
                            tracing::warn!(group = group_id, error = %e, "offset commit not stored");
                            for (_, _, i) in &accepted {
                                codes[*i] = e.code();
                            }
                        }
                        (Some(s), Ok(())) => {
                            for (k, v, _) in accepted {
                                s.install_offset(group_id, k, v);
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

    /// Committed offsets of a group: for `topics` = None every committed partition, else the
    /// asked partitions (offset None when none committed). Checks the member epoch when given
    /// (OffsetFetch v9 from a KIP-848 member: UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH). Refused
    /// with NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS when this broker cannot serve the
    /// group; before `__consumer_offsets` exists no group has offsets.
    pub fn fetch(
        &self,
        group_id: &str,
        who: Option<&Committer>,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<(String, i32, Option<OffsetValue>)>, CoordinatorError> {
        let mut topics = Some(topics);
        let r = self.runtime.try_read(group_id, |s| {
            fetch_from(s.groups.get(group_id), who, topics.take().flatten())
        })?;
        let r = match r {
            Some(r) => r,
            None => fetch_from(None, who, topics.take().flatten()),
        };
        r.map_err(|e| kafka(e, format!("offset fetch of group {group_id} refused")))
    }

    /// OffsetDelete: remove committed offsets of topics the group does not subscribe to
    /// (GROUP_SUBSCRIBED_TO_TOPIC for the others). Returns the group-level error
    /// (GROUP_ID_NOT_FOUND, coordinator errors) or per-partition codes. The offsets' tombstones
    /// are written before they disappear.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        parts: Vec<(String, i32)>,
    ) -> Result<Vec<i16>, CoordinatorError> {
        let not_found = || group_not_found(group_id);
        if self.no_topic(group_id) {
            return Err(not_found());
        }
        self.runtime
            .write(
                group_id,
                |s: &mut GroupShard, _| {
                    let g = s.groups.get(group_id).ok_or_else(not_found)?;
                    let subscribed: Vec<String> = match &g.membership {
                        Membership::Classic(c) => c.subscribed_topics(),
                        Membership::Consumer(c) => c.subscribed_topics().into_iter().collect(),
                    };
                    let mut codes = Vec::new();
                    let mut gone = Vec::new();
                    for (t, p) in parts {
                        if subscribed.contains(&t) {
                            codes.push(ResponseError::GroupSubscribedToTopic.code());
                        } else {
                            codes.push(0);
                            // Kafka: a tombstone also when only a pending transactional
                            // offset exists (it removes that one too).
                            if g.offsets.contains_key(&(t.clone(), p))
                                || s.pending.contains(group_id, &t, p)
                            {
                                gone.push((t, p));
                            }
                        }
                    }
                    let recs = offset_tombstones(group_id, gone.iter());
                    Ok((recs, (codes, gone)))
                },
                |s, written, (codes, gone)| {
                    written?;
                    if let Some(s) = s {
                        for (t, p) in gone {
                            s.pending.remove_partition(group_id, &t, p);
                            if let Some(g) = s.groups.get_mut(group_id) {
                                g.offsets.remove(&(t, p));
                            }
                        }
                    }
                    Ok(codes)
                },
            )
            .await?
    }

    /// Delete empty groups (DeleteGroups): one error code per group (GROUP_ID_NOT_FOUND,
    /// NON_EMPTY_GROUP, coordinator errors). The group's offsets and metadata are tombstoned
    /// before it is forgotten.
    pub async fn delete_groups(&self, ids: &[String]) -> Vec<i16> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(match self.delete_group(id).await {
                Ok(()) => 0,
                Err(e) => e.code(),
            });
        }
        out
    }

    async fn delete_group(&self, id: &str) -> Result<(), CoordinatorError> {
        let not_found = || group_not_found(id);
        if self.no_topic(id) {
            return Err(not_found());
        }
        self.runtime
            .write(
                id,
                |s: &mut GroupShard, _| {
                    let g = s
                        .groups
                        .get(id)
                        .filter(|g| !g.is_dead())
                        .ok_or_else(not_found)?;
                    if !g.is_empty() {
                        return Err(kafka(
                            ResponseError::NonEmptyGroup,
                            format!("group {id} has active members"),
                        ));
                    }
                    // Kafka's deleteAllOffsets: pending transactional offsets are tombstoned too
                    // (the transaction's later COMMIT then restores only what it wrote).
                    let pending_only: Vec<(String, i32)> = s
                        .pending
                        .partitions_of(id)
                        .into_iter()
                        .filter(|k| !g.offsets.contains_key(k))
                        .collect();
                    let keys = g.offsets.keys().chain(pending_only.iter());
                    Ok((to_records(tombstones(id, keys)), pending_only))
                },
                |s, written, pending_only| {
                    written?;
                    if let Some(s) = s {
                        if let Some(g) = s.groups.remove(id) {
                            for (t, p) in g.offsets.keys().chain(pending_only.iter()) {
                                s.pending.remove_partition(id, t, *p);
                            }
                        }
                    }
                    Ok(())
                },
            )
            .await?
    }

    /// Expire the offsets of groups that have been empty for `offsets.retention.minutes`, and
    /// forget such groups (Kafka 2.1+ semantics: retention starts when the group becomes
    /// empty). Each group's tombstones are written before it is forgotten; a group that got a
    /// member meanwhile is kept. A group with pending transactional offsets is not expired
    /// while they are pending (Kafka keeps such offsets and hence the group; Weir expires a
    /// group's offsets all at once, so it keeps the whole group).
    pub(crate) async fn expire(&self, now: Ms) {
        let retention = self.config.offsets_retention_ms;
        let due = |s: &GroupShard, id: &str, now: Ms| {
            s.groups
                .get(id)
                .is_some_and(|g| g.is_empty() && now - g.empty_since >= retention)
                && !s.pending.has_group(id)
        };
        let ids: Vec<String> = self
            .runtime
            .scan(|_, s, _| {
                s.groups
                    .keys()
                    .filter(|id| due(s, id, now))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flat_map(|(_, ids)| ids)
            .collect();
        for id in ids {
            let r = self
                .runtime
                .write(
                    &id,
                    |s: &mut GroupShard, _| match s.groups.get(&id).filter(|_| due(s, &id, now)) {
                        Some(g) => Ok((to_records(tombstones(&id, g.offsets.keys())), true)),
                        None => Ok((Vec::new(), false)),
                    },
                    |s, written, expired| {
                        written?;
                        if let Some(s) = s.filter(|_| expired) {
                            if s.groups.get(&id).is_some_and(Group::is_empty) {
                                s.groups.remove(&id);
                                tracing::info!(group = %id, "group expired after offsets.retention.minutes");
                            }
                        }
                        Ok(())
                    },
                )
                .await;
            if let Err(e) = r.and_then(|r| r) {
                tracing::warn!(group = %id, error = %e, "offset expiry failed");
            }
        }
    }
}

/// Tombstones for the given offsets of `group` only.
fn offset_tombstones<'a>(
    group: &str,
    keys: impl Iterator<Item = &'a (String, i32)>,
) -> Vec<Record> {
    keys.map(|(t, p)| {
        let key = RecordKey::Offset {
            group: group.to_string(),
            topic: t.clone(),
            partition: *p,
        };
        record(&key, None)
    })
    .collect()
}

/// Tombstones for the given offsets of `group` plus its group-metadata record and its
/// consumer-group record (a deleted or expired group leaves nothing behind).
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

fn to_records(recs: Vec<(RecordKey, Option<Vec<u8>>)>) -> Vec<Record> {
    recs.into_iter().map(|(k, v)| record(&k, v)).collect()
}

/// GROUP_ID_NOT_FOUND (69) for `group`.
fn group_not_found(group: &str) -> CoordinatorError {
    kafka(
        ResponseError::GroupIdNotFound,
        format!("group {group} does not exist"),
    )
}
