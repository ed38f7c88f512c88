//! The group coordinator: classic groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup), KIP-848
//! consumer groups (ConsumerGroupHeartbeat) and committed offsets, persisted in the compacted
//! internal topic `__consumer_offsets` in Kafka's record format.
//!
//! The deciding logic is sans-IO ([`classic`], [`consumer`], [`assignment`]); this module owns
//! the shared map of groups, feeds it the clock, persists what the state machines ask for
//! ([`store`]) and delivers the waiting responses. A group's coordinator is the leader of its
//! `__consumer_offsets` partition ([`records::partition_for`]), as in Kafka: when this broker
//! becomes a partition's leader it replays that partition's records ([`ownership`]), so
//! committed offsets and classic group metadata survive restarts and move with leadership; every
//! group request first checks that this broker coordinates the group (NOT_COORDINATOR otherwise).

pub mod assignment;
pub mod classic;
pub mod classic_types;
pub mod consumer;
pub mod offsets;
pub mod ownership;
pub mod records;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use kafka_protocol::error::ResponseError;
use weir_log::Clock;

use crate::broker::Broker;
use crate::config::GroupConfig;
use crate::error::BrokerError;
use classic::{ClassicGroup, ClassicLimits, ClassicState, Effects, JoinOutcome, JoinParams, Ms};
use consumer::{ConsumerGroup, HeartbeatOutcome, HeartbeatParams};
use records::OffsetValue;

/// The name of the internal offsets topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Which protocol a group speaks.
#[derive(Debug)]
pub enum Membership {
    /// Classic (JoinGroup/SyncGroup) group.
    Classic(ClassicGroup),
    /// KIP-848 consumer group.
    Consumer(ConsumerGroup),
}

/// A group: its membership and its committed offsets.
#[derive(Debug)]
pub struct Group {
    /// Membership state.
    pub membership: Membership,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), OffsetValue>,
    /// Since when the group has had no members (for offset expiry).
    pub empty_since: Ms,
}

impl Group {
    fn new_classic(id: &str, now: Ms) -> Self {
        Group {
            membership: Membership::Classic(ClassicGroup::new(id, now)),
            offsets: BTreeMap::new(),
            empty_since: now,
        }
    }

    /// True when the group has no members.
    pub fn is_empty(&self) -> bool {
        match &self.membership {
            Membership::Classic(c) => c.members.is_empty(),
            Membership::Consumer(c) => c.members.is_empty(),
        }
    }

    /// Kafka's state name.
    pub fn state_name(&self) -> &'static str {
        match &self.membership {
            Membership::Classic(c) => c.state.name(),
            Membership::Consumer(c) => c.state_name(),
        }
    }

    /// "classic" or "consumer" (ListGroups v5 group type).
    pub fn group_type(&self) -> &'static str {
        match &self.membership {
            Membership::Classic(_) => "classic",
            Membership::Consumer(_) => "consumer",
        }
    }

    /// The protocol type ("consumer" for both kinds; "" for a classic group never joined).
    pub fn protocol_type(&self) -> String {
        match &self.membership {
            Membership::Classic(c) => c.protocol_type.clone().unwrap_or_default(),
            Membership::Consumer(_) => "consumer".into(),
        }
    }

    fn is_dead(&self) -> bool {
        matches!(&self.membership, Membership::Classic(c) if c.state == ClassicState::Dead)
    }
}

/// The coordinator for every group of this broker.
pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Group>>,
    config: GroupConfig,
    clock: Arc<dyn Clock>,
    last_expiry_check: Mutex<Ms>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// `__consumer_offsets` partitions whose groups this broker coordinates (it leads them and
    /// has loaded them), with the leader epoch they were loaded at.
    owned: Mutex<BTreeMap<i32, i32>>,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator").finish_non_exhaustive()
    }
}

impl GroupCoordinator {
    /// An empty coordinator (state is loaded per `__consumer_offsets` partition by [`ownership`]).
    pub fn new(config: GroupConfig, clock: Arc<dyn Clock>) -> Self {
        GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            config,
            clock,
            last_expiry_check: Mutex::new(0),
            gates: Mutex::new(HashMap::new()),
            owned: Mutex::new(Default::default()),
        }
    }

    /// Current time from the injected clock.
    pub fn now(&self) -> Ms {
        self.clock.now_ms()
    }

    /// The coordinator's settings.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    fn limits(&self) -> ClassicLimits {
        ClassicLimits {
            min_session_timeout_ms: self.config.min_session_timeout_ms,
            max_session_timeout_ms: self.config.max_session_timeout_ms,
            initial_rebalance_delay_ms: self.config.initial_rebalance_delay_ms,
            max_size: self.config.max_size,
        }
    }

    /// Lock the group map. A poisoned lock is recovered: every state machine call leaves its
    /// group consistent before it could panic.
    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Handle a JoinGroup: returns when the join phase completes for this member.
    pub async fn join(&self, broker: &Arc<Broker>, group_id: &str, p: JoinParams) -> JoinOutcome {
        let member_id = p.member_id.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let now = self.now();
        let fx = {
            let mut groups = self.lock();
            let g = groups
                .entry(group_id.to_string())
                .or_insert_with(|| Group::new_classic(group_id, now));
            if g.is_dead() || (matches!(g.membership, Membership::Consumer(_)) && g.is_empty()) {
                g.membership = Membership::Classic(ClassicGroup::new(group_id, now));
            }
            match &mut g.membership {
                Membership::Classic(c) => c.join(p, now, &self.limits(), tx),
                Membership::Consumer(_) => {
                    return JoinOutcome {
                        error: ResponseError::InconsistentGroupProtocol.code(),
                        generation: -1,
                        member_id: p.member_id,
                        ..Default::default()
                    }
                }
            }
        };
        self.deliver(broker, group_id, fx).await;
        // The waiter is dropped with the group: deleted, or unloaded because this broker no
        // longer coordinates it (then NOT_COORDINATOR, as Kafka's onGroupUnloaded).
        rx.await
            .unwrap_or_else(|_| match broker.check_coordinator(group_id) {
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
        broker: &Arc<Broker>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        assignments: Vec<(String, bytes::Bytes)>,
    ) -> classic::SyncOutcome {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let now = self.now();
        let fx = {
            let mut groups = self.lock();
            match groups.get_mut(group_id).map(|g| &mut g.membership) {
                Some(Membership::Classic(c)) => c.sync(
                    member_id,
                    instance_id,
                    generation,
                    assignments,
                    now,
                    &self.limits(),
                    tx,
                ),
                _ => {
                    return classic::SyncOutcome {
                        error: ResponseError::UnknownMemberId.code(),
                        ..Default::default()
                    }
                }
            }
        };
        self.deliver(broker, group_id, fx).await;
        rx.await.unwrap_or_else(|_| classic::SyncOutcome {
            error: broker
                .check_coordinator(group_id)
                .err()
                .map_or(ResponseError::RebalanceInProgress.code(), |e| e.code()),
            ..Default::default()
        })
    }

    /// Handle a Heartbeat; returns the error code.
    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> i16 {
        let now = self.now();
        let mut groups = self.lock();
        match groups.get_mut(group_id).map(|g| &mut g.membership) {
            Some(Membership::Classic(c)) => c.heartbeat(member_id, instance_id, generation, now),
            _ => ResponseError::UnknownMemberId.code(),
        }
    }

    /// Handle a LeaveGroup: one error code per (member id, instance id).
    pub async fn leave(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Vec<i16> {
        let now = self.now();
        let mut codes = Vec::with_capacity(members.len());
        let mut all = Effects::default();
        {
            let mut groups = self.lock();
            let Some(Membership::Classic(c)) = groups.get_mut(group_id).map(|g| &mut g.membership)
            else {
                return vec![ResponseError::UnknownMemberId.code(); members.len()];
            };
            for (m, i) in members {
                let (code, fx) = c.leave(m, i.as_deref(), now, &self.limits());
                codes.push(code);
                all.joins.extend(fx.joins);
                all.syncs.extend(fx.syncs);
                all.persist |= fx.persist;
            }
        }
        self.deliver(broker, group_id, all).await;
        codes
    }

    /// Handle a ConsumerGroupHeartbeat (KIP-848). Heartbeats of one group are serialised; the
    /// group's new state is computed on a copy, written to `__consumer_offsets` when its
    /// persisted form changed, and only then installed.
    pub async fn consumer_heartbeat(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        p: HeartbeatParams,
    ) -> HeartbeatOutcome {
        let gate = self.gate(group_id);
        let _serial = gate.lock().await;
        let now = self.now();
        let topics = topic_partition_counts(broker);
        let (mut c, before) = {
            let mut groups = self.lock();
            let g = groups.entry(group_id.to_string()).or_insert_with(|| Group {
                membership: Membership::Consumer(ConsumerGroup::new(group_id)),
                offsets: BTreeMap::new(),
                empty_since: now,
            });
            match &g.membership {
                Membership::Consumer(c) => (c.clone(), persisted_form(c)),
                Membership::Classic(_) if g.is_empty() => (ConsumerGroup::new(group_id), None),
                Membership::Classic(_) => {
                    return HeartbeatOutcome {
                        error: ResponseError::GroupIdNotFound.code(),
                        message: Some(format!("group {group_id} is a classic group with members")),
                        member_id: p.member_id,
                        member_epoch: -1,
                        assignment: None,
                    }
                }
            }
        };
        let out = c.heartbeat(p, now, &topics, &self.config.consumer_assignors);
        if let Err(e) = self.install_consumer(broker, group_id, before, c).await {
            tracing::warn!(group = group_id, error = %e, "consumer group state not stored");
            return HeartbeatOutcome {
                error: e.code(),
                message: Some(e.message()),
                member_id: out.member_id,
                member_epoch: -1,
                assignment: None,
            };
        }
        out
    }

    /// The per-group gate that serialises KIP-848 state changes (held across the write).
    fn gate(&self, group_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.gates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(group_id.to_string())
            .or_default()
            .clone()
    }

    /// Write `c` if its persisted form differs from `before`, then install it.
    async fn install_consumer(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        before: Option<String>,
        c: ConsumerGroup,
    ) -> Result<(), BrokerError> {
        let after = persisted_form(&c);
        if after != before {
            let key = records::RecordKey::ConsumerGroup {
                group: group_id.to_string(),
            };
            let value = after.map(String::into_bytes);
            store::write(broker, group_id, vec![(key, value)]).await?;
        }
        let now = self.now();
        let mut groups = self.lock();
        let g = groups.entry(group_id.to_string()).or_insert_with(|| Group {
            membership: Membership::Consumer(ConsumerGroup::new(group_id)),
            offsets: BTreeMap::new(),
            empty_since: now,
        });
        let was_empty = g.is_empty();
        g.membership = Membership::Consumer(c);
        if g.is_empty() && !was_empty {
            g.empty_since = now;
        }
        Ok(())
    }

    /// Expire silent KIP-848 members: computed on a copy, persisted, then installed.
    async fn tick_consumer_group(&self, broker: &Arc<Broker>, group_id: &str) {
        let gate = self.gate(group_id);
        let _serial = gate.lock().await;
        let now = self.now();
        let topics = topic_partition_counts(broker);
        let Some(mut c) = (match self.lock().get(group_id).map(|g| &g.membership) {
            Some(Membership::Consumer(c)) => Some(c.clone()),
            _ => None,
        }) else {
            return;
        };
        let before = persisted_form(&c);
        let epoch = c.group_epoch;
        c.tick(
            now,
            self.config.consumer_session_timeout_ms,
            &topics,
            &self.config.consumer_assignors,
        );
        if c.group_epoch != epoch {
            if let Err(e) = self.install_consumer(broker, group_id, before, c).await {
                tracing::warn!(group = group_id, error = %e, "consumer group expiry not stored");
            }
        }
    }

    /// Persist if asked, then deliver the waiting responses. If the write fails, waiters get its
    /// coordinator error (COORDINATOR_NOT_AVAILABLE, or NOT_COORDINATOR when leadership moved)
    /// instead of an answer that was not stored.
    async fn deliver(&self, broker: &Arc<Broker>, group_id: &str, fx: Effects) {
        let mut failed = None;
        if fx.persist {
            let value = {
                let groups = self.lock();
                match groups.get(group_id).map(|g| &g.membership) {
                    Some(Membership::Classic(c)) => {
                        Some(records::encode_group(&c.to_stored(self.now())))
                    }
                    _ => None,
                }
            };
            if let Some(v) = value {
                let key = records::RecordKey::Group {
                    group: group_id.to_string(),
                };
                if let Err(e) = store::write(broker, group_id, vec![(key, Some(v))]).await {
                    tracing::warn!(group = group_id, error = %e, "could not persist group metadata");
                    failed = Some(e.code());
                }
            }
        }
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

    /// Advance every group's timers (session expiry, join deadlines, KIP-848 fencing) and expire
    /// offsets of groups empty for longer than `offsets.retention.minutes`.
    pub async fn tick(&self, broker: &Arc<Broker>) {
        let now = self.now();
        let mut pending = Vec::new();
        let mut consumer_ids = Vec::new();
        {
            let mut groups = self.lock();
            for (id, g) in groups.iter_mut() {
                let was_empty = g.is_empty();
                match &mut g.membership {
                    Membership::Classic(c) => {
                        let fx = c.tick(now, &self.limits());
                        if !fx.joins.is_empty() || !fx.syncs.is_empty() || fx.persist {
                            pending.push((id.clone(), fx));
                        }
                    }
                    Membership::Consumer(_) => consumer_ids.push(id.clone()),
                }
                if !was_empty && g.is_empty() {
                    g.empty_since = now;
                }
            }
        }
        for (id, fx) in pending {
            self.deliver(broker, &id, fx).await;
        }
        for id in consumer_ids {
            self.tick_consumer_group(broker, &id).await;
        }
        let due = {
            let mut last = self
                .last_expiry_check
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let due = now - *last >= self.config.offsets_retention_check_interval_ms;
            if due {
                *last = now;
            }
            due
        };
        if due {
            if let Err(e) = offsets::expire(self, broker, now).await {
                tracing::warn!(error = %e, "offset expiry failed");
            }
        }
    }

    /// Delete empty groups (DeleteGroups): one error code per group.
    pub async fn delete_groups(&self, broker: &Arc<Broker>, ids: &[String]) -> Vec<i16> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(match self.delete_group(broker, id).await {
                Ok(()) => 0,
                Err(e) => e.code(),
            });
        }
        out
    }

    async fn delete_group(&self, broker: &Arc<Broker>, id: &str) -> Result<(), BrokerError> {
        let keys = {
            let groups = self.lock();
            let g = groups.get(id).filter(|g| !g.is_dead()).ok_or_else(|| {
                BrokerError::kafka(
                    ResponseError::GroupIdNotFound,
                    format!("group {id} does not exist"),
                )
            })?;
            if !g.is_empty() {
                return Err(BrokerError::kafka(
                    ResponseError::NonEmptyGroup,
                    format!("group {id} has active members"),
                ));
            }
            offsets::tombstones(id, g.offsets.keys())
        };
        store::write(broker, id, keys).await?;
        self.lock().remove(id);
        Ok(())
    }
}

/// The persisted form of a consumer group (None for a group without members and epoch 0, which
/// needs no record).
fn persisted_form(c: &ConsumerGroup) -> Option<String> {
    if c.members.is_empty() && c.group_epoch == 0 {
        return None;
    }
    serde_json::to_string(c).ok()
}

/// Partition counts of every topic (the input of KIP-848 assignors).
pub fn topic_partition_counts(broker: &Broker) -> BTreeMap<String, i32> {
    broker
        .topics
        .list()
        .into_iter()
        .filter(|t| t.name != OFFSETS_TOPIC)
        .map(|t| (t.name, t.partitions))
        .collect()
}
