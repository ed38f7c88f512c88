//! The classic group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) as a sans-IO state
//! machine: every call takes the current time in ms, nothing reads a clock or touches the network
//! or disk. Waiting JoinGroup/SyncGroup requests are oneshot senders held by their member; calls
//! return [`Effects`]: the responses to deliver and whether the group's metadata must be persisted
//! first (the coordinator writes the record, waits for it to be durable, then delivers).
//!
//! States and transitions follow Kafka's `GroupCoordinator`: Empty → PreparingRebalance (join) →
//! CompletingRebalance (join phase done: everyone got a JoinGroup response) → Stable (the leader's
//! SyncGroup delivered the assignment) and back to PreparingRebalance on any membership change.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use super::records::{GroupValue, StoredMember};

pub use super::classic_types::{
    ClassicLimits, ClassicState, Effects, JoinOutcome, JoinParams, Member, Ms, SyncOutcome,
};

/// A classic group's membership state.
#[derive(Debug)]
pub struct ClassicGroup {
    /// Group id.
    pub id: String,
    /// State.
    pub state: ClassicState,
    /// Generation (bumped at every completed join phase).
    pub generation: i32,
    /// Protocol type of the members.
    pub protocol_type: Option<String>,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// Members by id.
    pub members: BTreeMap<String, Member>,
    /// When the state last changed.
    pub state_since: Ms,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pending: HashMap<String, Ms>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    /// The join phase ends at the latest at this time.
    join_deadline: Ms,
    /// The initial rebalance delay keeps the join phase open at least until this time.
    delay_until: Ms,
}

#[path = "classic_join.rs"]
mod join;

fn err(e: ResponseError) -> i16 {
    e.code()
}

impl ClassicGroup {
    /// A new, empty group.
    pub fn new(id: &str, now: Ms) -> Self {
        ClassicGroup {
            id: id.to_string(),
            state: ClassicState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            state_since: now,
            pending: HashMap::new(),
            static_members: HashMap::new(),
            join_deadline: 0,
            delay_until: 0,
        }
    }

    /// Rebuild a group from its stored metadata (start-up replay). Members come back without a
    /// live session: their session timer starts at `now`, so members that do not return are
    /// removed after their session timeout, as Kafka does after a coordinator move.
    pub fn from_stored(id: &str, v: &GroupValue, now: Ms) -> Self {
        let mut g = ClassicGroup::new(id, now);
        g.generation = v.generation;
        g.protocol_type = (!v.protocol_type.is_empty()).then(|| v.protocol_type.clone());
        g.protocol = v.protocol.clone();
        g.leader = v.leader.clone();
        for m in &v.members {
            let protocol = v.protocol.clone().unwrap_or_default();
            if let Some(i) = &m.instance_id {
                g.static_members.insert(i.clone(), m.member_id.clone());
            }
            g.members.insert(
                m.member_id.clone(),
                Member {
                    id: m.member_id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    protocols: vec![(protocol, m.subscription.clone())],
                    assignment: m.assignment.clone(),
                    last_seen: now,
                    join_waiter: None,
                    sync_waiter: None,
                },
            );
        }
        g.state = if g.members.is_empty() {
            ClassicState::Empty
        } else {
            ClassicState::Stable
        };
        g
    }

    /// The stored form of the group (GroupMetadataValue).
    pub fn to_stored(&self, now: Ms) -> GroupValue {
        let protocol = self.protocol.clone().unwrap_or_default();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: now,
            members: self
                .members
                .values()
                .map(|m| StoredMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: m.metadata(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    fn set_state(&mut self, s: ClassicState, now: Ms) {
        self.state = s;
        self.state_since = now;
    }

    /// True when `instance_id` maps to a member other than `member_id`.
    fn is_fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        match instance_id.and_then(|i| self.static_members.get(i)) {
            Some(known) => known != member_id,
            None => false,
        }
    }

    /// The members' topic subscriptions are opaque here; this says whether a protocol set is
    /// compatible with the group (same type, at least one protocol every member supports).
    fn compatible(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocols.is_empty() || protocol_type.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    /// The protocol every member supports that most members prefer (Kafka's vote).
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(x, _)| x == *n))
            })
            .collect();
        let mut votes: Vec<(usize, &String)> = candidates.iter().map(|c| (0, *c)).collect();
        for m in self.members.values() {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(&n)) {
                if let Some(v) = votes.iter_mut().find(|(_, c)| *c == name) {
                    v.0 += 1;
                }
            }
        }
        // Highest vote; ties go to the earlier candidate.
        let mut best: Option<(usize, &String)> = None;
        for v in votes {
            if best.is_none_or(|b| v.0 > b.0) {
                best = Some(v);
            }
        }
        best.map(|(_, n)| n.clone())
    }

    fn remove_member(&mut self, id: &str) -> Option<Member> {
        let m = self.members.remove(id)?;
        if let Some(i) = &m.instance_id {
            if self.static_members.get(i).map(String::as_str) == Some(id) {
                self.static_members.remove(i);
            }
        }
        Some(m)
    }

    /// Handle a SyncGroup. The answer arrives on `reply`.
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Ms,
        limits: &ClassicLimits,
        reply: oneshot::Sender<SyncOutcome>,
    ) -> Effects {
        let mut fx = Effects::default();
        let code = if self.is_fenced(member_id, instance_id) {
            Some(ResponseError::FencedInstanceId)
        } else if !self.members.contains_key(member_id) {
            Some(ResponseError::UnknownMemberId)
        } else if generation != self.generation {
            Some(ResponseError::IllegalGeneration)
        } else if self.state == ClassicState::PreparingRebalance {
            Some(ResponseError::RebalanceInProgress)
        } else {
            None
        };
        if let Some(code) = code {
            fx.syncs.push((
                reply,
                SyncOutcome {
                    error: err(code),
                    ..Default::default()
                },
            ));
            return fx;
        }
        let _ = limits;
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_seen = now;
        }
        if self.state == ClassicState::Stable {
            let assignment = self.members[member_id].assignment.clone();
            fx.syncs.push((reply, self.sync_outcome(assignment)));
            return fx;
        }
        // CompletingRebalance.
        if let Some(m) = self.members.get_mut(member_id) {
            m.sync_waiter = Some(reply);
        }
        if self.leader.as_deref() == Some(member_id) {
            for m in self.members.values_mut() {
                m.assignment = assignments
                    .iter()
                    .find(|(id, _)| *id == m.id)
                    .map(|(_, a)| a.clone())
                    .unwrap_or_default();
            }
            self.set_state(ClassicState::Stable, now);
            fx.persist = true;
            let waiting: Vec<(oneshot::Sender<SyncOutcome>, Bytes)> = self
                .members
                .values_mut()
                .filter_map(|m| m.sync_waiter.take().map(|w| (w, m.assignment.clone())))
                .collect();
            for (w, a) in waiting {
                fx.syncs.push((w, self.sync_outcome(a)));
            }
        }
        fx
    }

    fn sync_outcome(&self, assignment: Bytes) -> SyncOutcome {
        SyncOutcome {
            error: 0,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            assignment,
        }
    }

    /// Handle a Heartbeat; returns the error code.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Ms,
    ) -> i16 {
        if self.is_fenced(member_id, instance_id) {
            return err(ResponseError::FencedInstanceId);
        }
        let Some(m) = self.members.get_mut(member_id) else {
            tracing::debug!(group = %self.id, member = %member_id, "heartbeat: unknown member");
            return err(ResponseError::UnknownMemberId);
        };
        m.last_seen = now;
        if generation != self.generation {
            tracing::debug!(group = %self.id, member = %member_id, generation, current = self.generation, "heartbeat: illegal generation");
            return err(ResponseError::IllegalGeneration);
        }
        match self.state {
            ClassicState::PreparingRebalance => err(ResponseError::RebalanceInProgress),
            ClassicState::Empty | ClassicState::Dead => err(ResponseError::UnknownMemberId),
            _ => 0,
        }
    }

    /// Handle one member of a LeaveGroup; returns its error code and the effects.
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        now: Ms,
        limits: &ClassicLimits,
    ) -> (i16, Effects) {
        let id = match instance_id {
            Some(i) => match self.static_members.get(i) {
                Some(known) if member_id.is_empty() || known == member_id => known.clone(),
                Some(_) => return (err(ResponseError::FencedInstanceId), Effects::default()),
                None => return (err(ResponseError::UnknownMemberId), Effects::default()),
            },
            None => member_id.to_string(),
        };
        if self.pending.remove(&id).is_some() {
            return (0, Effects::default());
        }
        if !self.members.contains_key(&id) {
            tracing::info!(group = %self.id, member = %id, "LeaveGroup from an unknown member");
            return (err(ResponseError::UnknownMemberId), Effects::default());
        }
        tracing::info!(group = %self.id, member = %id, "member left the group");
        (0, self.member_gone(&id, now, limits))
    }

    /// Remove a member (left or expired) and rebalance the rest.
    fn member_gone(&mut self, id: &str, now: Ms, limits: &ClassicLimits) -> Effects {
        let mut fx = Effects::default();
        if let Some(m) = self.remove_member(id) {
            if let Some(w) = m.join_waiter {
                fx.joins.push((
                    w,
                    JoinOutcome {
                        error: err(ResponseError::UnknownMemberId),
                        generation: -1,
                        member_id: id.to_string(),
                        ..Default::default()
                    },
                ));
            }
        }
        match self.state {
            ClassicState::Stable | ClassicState::CompletingRebalance => {
                fx.merge(self.prepare_rebalance(now, limits, false));
            }
            _ => {}
        }
        fx.merge(self.try_complete_join(now));
        fx
    }

    /// Advance time: expire members whose session timed out (members waiting in JoinGroup are
    /// kept alive), expire unused pending member ids, and end the join phase at its deadline.
    pub fn tick(&mut self, now: Ms, limits: &ClassicLimits) -> Effects {
        let mut fx = Effects::default();
        self.pending.retain(|_, expiry| *expiry > now);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.join_waiter.is_none()
                    && m.sync_waiter.is_none()
                    && now - m.last_seen > i64::from(m.session_timeout_ms)
            })
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired");
            fx.merge(self.member_gone(&id, now, limits));
        }
        if self.state == ClassicState::PreparingRebalance && now >= self.join_deadline {
            fx.merge(self.complete_join(now));
        } else {
            fx.merge(self.try_complete_join(now));
        }
        fx
    }

    /// Mark the group deleted (DeleteGroups on an empty group).
    pub fn mark_dead(&mut self, now: Ms) {
        self.set_state(ClassicState::Dead, now);
    }

    /// The topics the members subscribe to, decoded from their consumer-protocol metadata for
    /// the chosen protocol (OffsetDelete refuses to delete offsets of subscribed topics).
    pub fn subscribed_topics(&self) -> Vec<String> {
        let protocol = self.protocol.clone().unwrap_or_default();
        let mut out: Vec<String> = self
            .members
            .values()
            .flat_map(|m| super::assignment::decode_subscription(&m.metadata(&protocol)))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
#[path = "classic_tests.rs"]
mod tests;
