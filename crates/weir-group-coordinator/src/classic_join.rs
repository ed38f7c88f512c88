//! The join phase of the classic protocol ([`super::ClassicGroup::join`]): adding, rejoining and
//! fencing members, entering PreparingRebalance and completing the join phase (generation bump,
//! protocol vote, leader choice, JoinGroup responses). A child module of [`super`] so it shares
//! the group's private state; split out only to keep each file small.

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use super::{
    err, ClassicGroup, ClassicLimits, ClassicState, Effects, JoinOutcome, JoinParams, Member, Ms,
    SyncOutcome,
};

impl ClassicGroup {
    /// Handle a JoinGroup. The answer arrives on `reply` (now or when the join phase completes).
    pub fn join(
        &mut self,
        p: JoinParams,
        now: Ms,
        limits: &ClassicLimits,
        reply: oneshot::Sender<JoinOutcome>,
    ) -> Effects {
        tracing::debug!(group = %self.id, member = %p.member_id, state = ?self.state, generation = self.generation, "JoinGroup");
        let mut fx = Effects::default();
        let fail = |fx: &mut Effects, reply, code: ResponseError, member_id: &str| {
            fx.joins.push((
                reply,
                JoinOutcome {
                    error: err(code),
                    generation: -1,
                    member_id: member_id.to_string(),
                    ..Default::default()
                },
            ));
        };
        if self.state == ClassicState::Dead {
            fail(
                &mut fx,
                reply,
                ResponseError::CoordinatorNotAvailable,
                &p.member_id,
            );
            return fx;
        }
        if p.session_timeout_ms < limits.min_session_timeout_ms
            || p.session_timeout_ms > limits.max_session_timeout_ms
        {
            fail(
                &mut fx,
                reply,
                ResponseError::InvalidSessionTimeout,
                &p.member_id,
            );
            return fx;
        }
        if !self.compatible(&p.protocol_type, &p.protocols) {
            fail(
                &mut fx,
                reply,
                ResponseError::InconsistentGroupProtocol,
                &p.member_id,
            );
            return fx;
        }
        let instance = p.instance_id.clone();
        if p.member_id.is_empty() {
            if let Some(old) = instance
                .as_ref()
                .and_then(|i| self.static_members.get(i))
                .cloned()
            {
                return self.rejoin_static(old, p, now, limits, reply);
            }
            if self.members.len() >= limits.max_size {
                fail(&mut fx, reply, ResponseError::GroupMaxSizeReached, "");
                return fx;
            }
            let prefix = instance.clone().unwrap_or_else(|| p.client_id.clone());
            let new_id = format!("{prefix}-{}", uuid::Uuid::new_v4());
            if instance.is_none() && p.require_known_member_id {
                self.pending
                    .insert(new_id.clone(), now + i64::from(p.session_timeout_ms));
                fail(&mut fx, reply, ResponseError::MemberIdRequired, &new_id);
                return fx;
            }
            return self.add_member(new_id, p, now, limits, reply);
        }
        if self.is_fenced(&p.member_id, instance.as_deref()) {
            fail(
                &mut fx,
                reply,
                ResponseError::FencedInstanceId,
                &p.member_id,
            );
            return fx;
        }
        if self.pending.remove(&p.member_id).is_some() {
            let id = p.member_id.clone();
            return self.add_member(id, p, now, limits, reply);
        }
        if !self.members.contains_key(&p.member_id) {
            tracing::info!(group = %self.id, member = %p.member_id, "JoinGroup from an unknown member");
            fail(&mut fx, reply, ResponseError::UnknownMemberId, &p.member_id);
            return fx;
        }
        self.rejoin_known(p, now, limits, reply)
    }

    fn add_member(
        &mut self,
        id: String,
        p: JoinParams,
        now: Ms,
        limits: &ClassicLimits,
        reply: oneshot::Sender<JoinOutcome>,
    ) -> Effects {
        if let Some(i) = &p.instance_id {
            self.static_members.insert(i.clone(), id.clone());
        }
        if self.members.is_empty() {
            self.protocol_type = Some(p.protocol_type.clone());
        }
        self.members.insert(
            id.clone(),
            Member {
                id: id.clone(),
                instance_id: p.instance_id,
                client_id: p.client_id,
                client_host: p.client_host,
                session_timeout_ms: p.session_timeout_ms,
                rebalance_timeout_ms: p.rebalance_timeout_ms,
                protocols: p.protocols,
                assignment: Bytes::new(),
                last_seen: now,
                join_waiter: Some(reply),
                sync_waiter: None,
            },
        );
        let mut fx = Effects::default();
        match self.state {
            ClassicState::Empty => {
                fx.merge(self.prepare_rebalance(now, limits, true));
            }
            ClassicState::PreparingRebalance => {
                // A new member during the initial delay extends it (up to the rebalance timeout).
                if self.delay_until > now {
                    self.delay_until =
                        (now + limits.initial_rebalance_delay_ms).min(self.join_deadline);
                }
            }
            _ => fx.merge(self.prepare_rebalance(now, limits, false)),
        }
        fx.merge(self.try_complete_join(now));
        fx
    }

    /// A static member rejoining with an empty member id: it takes over its old entry under a
    /// new member id; the old id is fenced from now on.
    fn rejoin_static(
        &mut self,
        old: String,
        p: JoinParams,
        now: Ms,
        limits: &ClassicLimits,
        reply: oneshot::Sender<JoinOutcome>,
    ) -> Effects {
        let mut fx = Effects::default();
        let Some(mut m) = self.members.remove(&old) else {
            self.static_members
                .remove(p.instance_id.as_deref().unwrap_or_default());
            let mut q = p;
            q.member_id = String::new();
            return self.join(q, now, limits, reply);
        };
        let new_id = format!(
            "{}-{}",
            p.instance_id.clone().unwrap_or_default(),
            uuid::Uuid::new_v4()
        );
        if let Some(w) = m.join_waiter.take() {
            fx.joins.push((
                w,
                JoinOutcome {
                    error: err(ResponseError::FencedInstanceId),
                    generation: -1,
                    member_id: old.clone(),
                    ..Default::default()
                },
            ));
        }
        if let Some(w) = m.sync_waiter.take() {
            fx.syncs.push((
                w,
                SyncOutcome {
                    error: err(ResponseError::FencedInstanceId),
                    ..Default::default()
                },
            ));
        }
        let changed = m.protocols != p.protocols;
        m.id = new_id.clone();
        m.protocols = p.protocols;
        m.session_timeout_ms = p.session_timeout_ms;
        m.rebalance_timeout_ms = p.rebalance_timeout_ms;
        m.client_id = p.client_id;
        m.client_host = p.client_host;
        m.last_seen = now;
        if self.leader.as_deref() == Some(old.as_str()) {
            self.leader = Some(new_id.clone());
        }
        if let Some(i) = &m.instance_id {
            self.static_members.insert(i.clone(), new_id.clone());
        }
        self.members.insert(new_id.clone(), m);
        if self.state == ClassicState::Stable && !changed {
            // Kafka returns the current assignment without a rebalance.
            fx.joins
                .push((reply, self.join_outcome_for(&new_id, false)));
            fx.persist = true;
            return fx;
        }
        if let Some(m) = self.members.get_mut(&new_id) {
            m.join_waiter = Some(reply);
        }
        if self.state != ClassicState::PreparingRebalance {
            fx.merge(self.prepare_rebalance(now, limits, false));
        }
        fx.merge(self.try_complete_join(now));
        fx
    }

    fn rejoin_known(
        &mut self,
        p: JoinParams,
        now: Ms,
        limits: &ClassicLimits,
        reply: oneshot::Sender<JoinOutcome>,
    ) -> Effects {
        let mut fx = Effects::default();
        let id = p.member_id.clone();
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        let Some(m) = self.members.get_mut(&id) else {
            return fx;
        };
        let changed = m.protocols != p.protocols;
        m.protocols = p.protocols;
        m.session_timeout_ms = p.session_timeout_ms;
        m.rebalance_timeout_ms = p.rebalance_timeout_ms;
        m.last_seen = now;
        match self.state {
            ClassicState::CompletingRebalance if !changed => {
                fx.joins.push((reply, self.join_outcome_for(&id, true)));
                return fx;
            }
            ClassicState::Stable if !changed && !is_leader => {
                fx.joins.push((reply, self.join_outcome_for(&id, false)));
                return fx;
            }
            _ => {}
        }
        if let Some(m) = self.members.get_mut(&id) {
            m.join_waiter = Some(reply);
        }
        if self.state != ClassicState::PreparingRebalance {
            fx.merge(self.prepare_rebalance(now, limits, false));
        }
        fx.merge(self.try_complete_join(now));
        fx
    }

    fn join_outcome_for(&self, member_id: &str, with_members_if_leader: bool) -> JoinOutcome {
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone().unwrap_or_default();
        let members = if with_members_if_leader && leader == member_id {
            self.members
                .values()
                .map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(&protocol)))
                .collect()
        } else {
            Vec::new()
        };
        JoinOutcome {
            error: 0,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
        }
    }

    /// Enter PreparingRebalance: the join phase lasts at most the largest rebalance timeout;
    /// members waiting in SyncGroup are told REBALANCE_IN_PROGRESS.
    pub(super) fn prepare_rebalance(
        &mut self,
        now: Ms,
        limits: &ClassicLimits,
        initial: bool,
    ) -> Effects {
        let mut fx = Effects::default();
        for m in self.members.values_mut() {
            if let Some(w) = m.sync_waiter.take() {
                fx.syncs.push((
                    w,
                    SyncOutcome {
                        error: err(ResponseError::RebalanceInProgress),
                        ..Default::default()
                    },
                ));
            }
        }
        let timeout = self
            .members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0);
        self.join_deadline = now + timeout;
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            "preparing to rebalance (join phase lasts at most {timeout} ms)"
        );
        self.delay_until = if initial {
            (now + limits.initial_rebalance_delay_ms).min(self.join_deadline)
        } else {
            now
        };
        self.set_state(ClassicState::PreparingRebalance, now);
        fx
    }

    /// Complete the join phase when every member has rejoined (and the initial delay is over).
    pub(super) fn try_complete_join(&mut self, now: Ms) -> Effects {
        if self.state != ClassicState::PreparingRebalance {
            return Effects::default();
        }
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some());
        if all_joined && self.pending.is_empty() && now >= self.delay_until {
            return self.complete_join(now);
        }
        Effects::default()
    }

    /// End the join phase: members that did not rejoin are removed, the generation is bumped, a
    /// protocol and a leader are chosen, and every waiting member gets its JoinGroup response.
    pub(super) fn complete_join(&mut self, now: Ms) -> Effects {
        let mut fx = Effects::default();
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(group = %self.id, member = %id, "member did not rejoin in time: removed");
            self.remove_member(&id);
        }
        self.pending.clear();
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.set_state(ClassicState::Empty, now);
            fx.persist = true;
            return fx;
        }
        self.protocol = self.select_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.set_state(ClassicState::CompletingRebalance, now);
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            leader = ?self.leader,
            "join phase complete"
        );
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let outcome = self.join_outcome_for(&id, true);
            if let Some(m) = self.members.get_mut(&id) {
                m.last_seen = now;
                m.assignment = Bytes::new();
                if let Some(w) = m.join_waiter.take() {
                    fx.joins.push((w, outcome));
                }
            }
        }
        fx
    }
}
