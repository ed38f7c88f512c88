//! KIP-848 consumer groups on the runtime: a heartbeat (or a timer) computes the group's new
//! state on a copy, writes its persisted form when that changed, and only then installs it.

use kafka_protocol::error::ResponseError;
use weir_coordinator::Record;

use crate::classic::Ms;
use crate::consumer::{ConsumerGroup, HeartbeatOutcome, HeartbeatParams};
use crate::coordinator::GroupCoordinator;
use crate::group::{record, Group, Membership};
use crate::records::RecordKey;
use crate::shard::GroupShard;

/// The persisted form of a consumer group (None for a group without members and epoch 0, which
/// needs no record).
fn persisted_form(c: &ConsumerGroup) -> Option<String> {
    if c.members.is_empty() && c.group_epoch == 0 {
        return None;
    }
    serde_json::to_string(c).ok()
}

/// The record that moves the stored group from `before` to `c` (none if unchanged; a tombstone
/// when the new form is None).
fn changes(id: &str, before: Option<String>, c: &ConsumerGroup) -> Vec<Record> {
    let after = persisted_form(c);
    if after == before {
        return Vec::new();
    }
    let key = RecordKey::ConsumerGroup {
        group: id.to_string(),
    };
    vec![record(&key, after.map(String::into_bytes))]
}

/// Install `c` as the membership of group `id`, starting its retention clock if it just emptied.
fn install(s: &mut GroupShard, id: &str, c: ConsumerGroup, now: Ms) {
    let g = s
        .groups
        .entry(id.to_string())
        .or_insert_with(|| Group::new_consumer(id, now));
    let was_empty = g.is_empty();
    g.membership = Membership::Consumer(c);
    if g.is_empty() && !was_empty {
        g.empty_since = now;
    }
}

fn failed(e: &weir_coordinator::CoordinatorError, member_id: String) -> HeartbeatOutcome {
    HeartbeatOutcome {
        error: e.code(),
        message: Some(e.message()),
        member_id,
        member_epoch: -1,
        assignment: None,
    }
}

impl GroupCoordinator {
    /// Handle a ConsumerGroupHeartbeat (KIP-848). Heartbeats of one group are serialised; the
    /// group's new state is computed on a copy, written to `__consumer_offsets` when its
    /// persisted form changed, and only then installed.
    pub async fn consumer_heartbeat(&self, group_id: &str, p: HeartbeatParams) -> HeartbeatOutcome {
        let member_id = p.member_id.clone();
        let topics = self.topics.partition_counts();
        let assignors = &self.config.consumer_assignors;
        let out = self
            .runtime
            .write(
                group_id,
                |s: &mut GroupShard, now| {
                    let g = s
                        .groups
                        .entry(group_id.to_string())
                        .or_insert_with(|| Group::new_consumer(group_id, now));
                    let (mut c, before) = match &g.membership {
                        Membership::Consumer(c) => (c.clone(), persisted_form(c)),
                        Membership::Classic(_) if g.is_empty() => {
                            (ConsumerGroup::new(group_id), None)
                        }
                        Membership::Classic(_) => {
                            let refused = HeartbeatOutcome {
                                error: ResponseError::GroupIdNotFound.code(),
                                message: Some(format!(
                                    "group {group_id} is a classic group with members"
                                )),
                                member_id: p.member_id,
                                member_epoch: -1,
                                assignment: None,
                            };
                            return Ok((Vec::new(), Err(refused)));
                        }
                    };
                    let out = c.heartbeat(p, now, &topics, assignors);
                    Ok((changes(group_id, before, &c), Ok((out, c))))
                },
                |s, written, computed| match computed {
                    Err(refused) => refused,
                    Ok((out, c)) => match (s, written) {
                        (Some(s), Ok(())) => {
                            install(s, group_id, c, self.now());
                            out
                        }
                        (_, Err(e)) => {
                            tracing::warn!(group = group_id, error = %e, "consumer group state not stored");
                            failed(&e, out.member_id)
                        }
                        (None, Ok(())) => failed(
                            &weir_coordinator::CoordinatorError::NotCoordinator(format!(
                                "group {group_id} was unloaded"
                            )),
                            out.member_id,
                        ),
                    },
                },
            )
            .await;
        out.unwrap_or_else(|e| failed(&e, member_id))
    }

    /// Expire silent KIP-848 members of `group_id`: computed on a copy, persisted, then
    /// installed.
    pub(crate) async fn tick_consumer_group(&self, group_id: &str) {
        let topics = self.topics.partition_counts();
        let cfg = &self.config;
        let r = self
            .runtime
            .write(
                group_id,
                |s: &mut GroupShard, now| {
                    let Some(Membership::Consumer(c)) =
                        s.groups.get(group_id).map(|g| &g.membership)
                    else {
                        return Ok((Vec::new(), None));
                    };
                    let mut c = c.clone();
                    let before = persisted_form(&c);
                    let epoch = c.group_epoch;
                    c.tick(
                        now,
                        cfg.consumer_session_timeout_ms,
                        &topics,
                        &cfg.consumer_assignors,
                    );
                    if c.group_epoch == epoch {
                        return Ok((Vec::new(), None));
                    }
                    Ok((changes(group_id, before, &c), Some(c)))
                },
                |s, written, c| {
                    let Some(c) = c else { return Ok(()) };
                    match (s, written) {
                        (Some(s), Ok(())) => {
                            install(s, group_id, c, self.now());
                            Ok(())
                        }
                        (_, Err(e)) => Err(e),
                        (None, Ok(())) => Ok(()),
                    }
                },
            )
            .await;
        if let Err(e) = r.and_then(|r| r) {
            tracing::warn!(group = group_id, error = %e, "consumer group expiry not stored");
        }
    }
}
