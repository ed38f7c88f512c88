//! Classic group requests (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) on the runtime: the
//! state machine mutates the group in place in `compute`, the group metadata record is written
//! when the state machine asks for it, and the waiting responses are delivered in `complete`.

use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use crate::classic::{self, ClassicGroup, Effects, JoinOutcome, JoinParams, SyncOutcome};
use crate::coordinator::GroupCoordinator;
use crate::group::{group_record, Group, Membership};
use crate::shard::GroupShard;
use weir_coordinator::CoordinatorError;

/// Deliver the responses of `fx`. If its metadata write failed, waiters get the coordinator
/// error (COORDINATOR_NOT_AVAILABLE, or NOT_COORDINATOR when leadership moved) instead of an
/// answer that was not stored.
pub(crate) fn deliver(fx: Effects, written: &Result<(), CoordinatorError>) {
    let failed = match written {
        Err(e) if fx.persist => Some(e.code()),
        _ => None,
    };
    for (tx, mut o) in fx.joins {
        if let Some(code) = failed {
            o.error = code;
        }
        let _ = tx.send(o);
    }
    for (tx, mut o) in fx.syncs {
        if let Some(code) = failed {
            o.error = code;
        }
        let _ = tx.send(o);
    }
}

/// The records `fx` asks for: the group's metadata when it must be persisted.
fn persisted(
    shard: &GroupShard,
    id: &str,
    fx: &Effects,
    now: i64,
) -> Vec<weir_coordinator::Record> {
    match shard.groups.get(id).map(|g| &g.membership) {
        Some(Membership::Classic(c)) if fx.persist => vec![group_record(id, c, now)],
        _ => Vec::new(),
    }
}

impl GroupCoordinator {
    /// Handle a JoinGroup: returns when the join phase completes for this member.
    pub async fn join(&self, group_id: &str, p: JoinParams) -> JoinOutcome {
        let member_id = p.member_id.clone();
        let (tx, rx) = oneshot::channel();
        let limits = self.limits();
        let written = self
            .runtime
            .write(
                group_id,
                |s: &mut GroupShard, now| {
                    let g = s
                        .groups
                        .entry(group_id.to_string())
                        .or_insert_with(|| Group::new_classic(group_id, now));
                    if g.is_dead()
                        || (matches!(g.membership, Membership::Consumer(_)) && g.is_empty())
                    {
                        g.membership = Membership::Classic(ClassicGroup::new(group_id, now));
                    }
                    let fx = match &mut g.membership {
                        Membership::Classic(c) => c.join(p, now, &limits, tx),
                        Membership::Consumer(_) => {
                            return Ok((
                                Vec::new(),
                                Err(JoinOutcome {
                                    error: ResponseError::InconsistentGroupProtocol.code(),
                                    generation: -1,
                                    member_id: p.member_id,
                                    ..Default::default()
                                }),
                            ))
                        }
                    };
                    Ok((persisted(s, group_id, &fx, now), Ok(fx)))
                },
                |_, written, fx| match fx {
                    Ok(fx) => {
                        deliver(fx, &written);
                        None
                    }
                    Err(refused) => Some(refused),
                },
            )
            .await;
        match written {
            Ok(Some(refused)) => return refused,
            Ok(None) => {}
            Err(e) => {
                return JoinOutcome {
                    error: e.code(),
                    generation: -1,
                    member_id,
                    ..Default::default()
                }
            }
        }
        // The waiter is dropped with the group: deleted, or unloaded because this broker no
        // longer coordinates it (then NOT_COORDINATOR, as Kafka's onGroupUnloaded).
        rx.await
            .unwrap_or_else(|_| match self.check_coordinator(group_id) {
                Err(e) => JoinOutcome {
                    error: e.code(),
                    generation: -1,
                    member_id,
                    ..Default::default()
                },
                Ok(()) => JoinOutcome {
                    error: ResponseError::UnknownMemberId.code(),
                    generation: -1,
                    ..Default::default()
                },
            })
    }

    /// Handle a SyncGroup.
    pub async fn sync(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        assignments: Vec<(String, bytes::Bytes)>,
    ) -> classic::SyncOutcome {
        let unknown = || SyncOutcome {
            error: ResponseError::UnknownMemberId.code(),
            ..Default::default()
        };
        if self.no_topic(group_id) {
            return unknown();
        }
        let (tx, rx) = oneshot::channel();
        let limits = self.limits();
        let written = self
            .runtime
            .write(
                group_id,
                |s: &mut GroupShard, now| {
                    let fx = match s.groups.get_mut(group_id).map(|g| &mut g.membership) {
                        Some(Membership::Classic(c)) => c.sync(
                            member_id,
                            instance_id,
                            generation,
                            assignments,
                            now,
                            &limits,
                            tx,
                        ),
                        _ => return Ok((Vec::new(), None)),
                    };
                    Ok((persisted(s, group_id, &fx, now), Some(fx)))
                },
                |_, written, fx| match fx {
                    Some(fx) => {
                        deliver(fx, &written);
                        true
                    }
                    None => false,
                },
            )
            .await;
        match written {
            Ok(true) => {}
            Ok(false) => return unknown(),
            Err(e) => {
                return SyncOutcome {
                    error: e.code(),
                    ..Default::default()
                }
            }
        }
        rx.await.unwrap_or_else(|_| SyncOutcome {
            error: self
                .check_coordinator(group_id)
                .err()
                .map_or(ResponseError::RebalanceInProgress.code(), |e| e.code()),
            ..Default::default()
        })
    }

    /// Handle a Heartbeat; returns the error code (in-memory only: nothing is written).
    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> i16 {
        let code = self.runtime.try_update(group_id, |s, now| {
            match s.groups.get_mut(group_id).map(|g| &mut g.membership) {
                Some(Membership::Classic(c)) => {
                    c.heartbeat(member_id, instance_id, generation, now)
                }
                _ => ResponseError::UnknownMemberId.code(),
            }
        });
        match code {
            Ok(Some(code)) => code,
            Ok(None) => ResponseError::UnknownMemberId.code(),
            Err(e) => e.code(),
        }
    }

    /// Handle a LeaveGroup: one error code per (member id, instance id).
    pub async fn leave(&self, group_id: &str, members: &[(String, Option<String>)]) -> Vec<i16> {
        let unknown = vec![ResponseError::UnknownMemberId.code(); members.len()];
        if self.no_topic(group_id) {
            return unknown;
        }
        let limits = self.limits();
        let written = self
            .runtime
            .write(
                group_id,
                |s: &mut GroupShard, now| {
                    let Some(Membership::Classic(c)) =
                        s.groups.get_mut(group_id).map(|g| &mut g.membership)
                    else {
                        return Ok((Vec::new(), None));
                    };
                    let mut codes = Vec::with_capacity(members.len());
                    let mut all = Effects::default();
                    for (m, i) in members {
                        let (code, fx) = c.leave(m, i.as_deref(), now, &limits);
                        codes.push(code);
                        all.joins.extend(fx.joins);
                        all.syncs.extend(fx.syncs);
                        all.persist |= fx.persist;
                    }
                    Ok((persisted(s, group_id, &all, now), Some((codes, all))))
                },
                |_, written, out| {
                    out.map(|(codes, fx)| {
                        deliver(fx, &written);
                        codes
                    })
                },
            )
            .await;
        match written {
            Ok(Some(codes)) => codes,
            Ok(None) => unknown,
            Err(e) => vec![e.code(); members.len()],
        }
    }
}
