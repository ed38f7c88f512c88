//! KIP-848 consumer groups (`group.protocol=consumer`) as a sans-IO state machine: members
//! heartbeat with their epoch, the coordinator computes a target assignment with a server-side
//! assignor whenever the group epoch moves (membership, subscriptions or partition counts
//! changed), and reconciles each member towards its target: partitions are first revoked from
//! their old owner and only then given to the new one, so no partition has two owners.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::error::ResponseError;

use super::assignment::{assign_range, assign_uniform, AssignorMember, TopicPartitions};
use super::classic::Ms;

/// One member of a consumer group. Timing fields are not persisted: after a restart every
/// member's session and revocation timers start afresh.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ConsumerMember {
    /// Member id.
    pub id: String,
    /// Static membership id.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Member epoch.
    pub epoch: i32,
    /// Epoch before the last bump (a request with it is still accepted, KIP-848).
    pub previous_epoch: i32,
    /// Subscribed topic names.
    pub subscribed: BTreeSet<String>,
    /// Server assignor the member asked for.
    pub assignor: Option<String>,
    /// Rebalance timeout: how long the member may take to revoke partitions.
    pub rebalance_timeout_ms: i32,
    /// Partitions the member owns now.
    pub assigned: TopicPartitions,
    /// Partitions the member was asked to give up and has not yet confirmed.
    pub revoking: TopicPartitions,
    /// When revocation started (0 = none pending).
    #[serde(skip)]
    pub revoking_since: Ms,
    /// The assignment last sent to the member.
    #[serde(skip)]
    sent: Option<TopicPartitions>,
    /// Last heartbeat.
    #[serde(skip)]
    pub last_seen: Ms,
}

/// A ConsumerGroupHeartbeat as the state machine sees it (topic ids already mapped to names).
#[derive(Debug, Clone, Default)]
pub struct HeartbeatParams {
    /// Member id ("" in v0 for a new member: the coordinator generates one).
    pub member_id: String,
    /// Member epoch: 0 join, -1 leave, -2 static leave, else the current epoch.
    pub member_epoch: i32,
    /// Static membership id.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout (-1 = unchanged).
    pub rebalance_timeout_ms: i32,
    /// Subscribed topics (None = unchanged).
    pub subscribed: Option<BTreeSet<String>>,
    /// Server assignor (None = default).
    pub assignor: Option<String>,
    /// Partitions the member owns (None = unchanged).
    pub owned: Option<TopicPartitions>,
}

/// A heartbeat answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeartbeatOutcome {
    /// Error code.
    pub error: i16,
    /// Error message.
    pub message: Option<String>,
    /// The member's id.
    pub member_id: String,
    /// The member's epoch.
    pub member_epoch: i32,
    /// The member's assignment when it changed (None = unchanged).
    pub assignment: Option<TopicPartitions>,
}

/// A KIP-848 consumer group (persisted as JSON in Weir's consumer-group record).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ConsumerGroup {
    /// Group id.
    pub id: String,
    /// Group epoch: bumped on every membership/subscription/metadata change.
    pub group_epoch: i32,
    /// Epoch of the current target assignment.
    pub assignment_epoch: i32,
    /// Target assignment per member.
    pub target: BTreeMap<String, TopicPartitions>,
    /// Members by id.
    pub members: BTreeMap<String, ConsumerMember>,
    /// Partition counts of subscribed topics when the target was computed.
    pub topic_partitions: BTreeMap<String, i32>,
    /// Assignor used for the current target.
    pub assignor: String,
}

fn fail(code: ResponseError, member_id: &str, message: &str) -> HeartbeatOutcome {
    HeartbeatOutcome {
        error: code.code(),
        message: Some(message.to_string()),
        member_id: member_id.to_string(),
        member_epoch: -1,
        assignment: None,
    }
}

fn contains(tp: &TopicPartitions, t: &str, p: i32) -> bool {
    tp.get(t).is_some_and(|s| s.contains(&p))
}

fn is_empty(tp: &TopicPartitions) -> bool {
    tp.values().all(BTreeSet::is_empty)
}

fn normalize(tp: TopicPartitions) -> TopicPartitions {
    tp.into_iter().filter(|(_, s)| !s.is_empty()).collect()
}

impl ConsumerGroup {
    /// A new empty group.
    pub fn new(id: &str) -> Self {
        ConsumerGroup {
            id: id.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            target: BTreeMap::new(),
            members: BTreeMap::new(),
            topic_partitions: BTreeMap::new(),
            assignor: "uniform".into(),
        }
    }

    /// Restore timers after loading the group from its record: sessions and pending
    /// revocations count from `now`.
    pub fn restored(mut self, now: Ms) -> Self {
        for m in self.members.values_mut() {
            m.last_seen = now;
            if !is_empty(&m.revoking) {
                m.revoking_since = now;
            }
        }
        self
    }

    /// Kafka's state name: Empty, Assigning, Reconciling or Stable.
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.assignment_epoch < self.group_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.epoch != self.assignment_epoch)
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// Handle a heartbeat. `topics` are the partition counts of every existing topic; `assignors`
    /// the configured server assignors (first = default).
    pub fn heartbeat(
        &mut self,
        p: HeartbeatParams,
        now: Ms,
        topics: &BTreeMap<String, i32>,
        assignors: &[String],
    ) -> HeartbeatOutcome {
        if let Some(a) = &p.assignor {
            if !assignors.contains(a) {
                return fail(
                    ResponseError::UnsupportedAssignor,
                    &p.member_id,
                    &format!("server assignor {a} is not one of {assignors:?}"),
                );
            }
        }
        if p.member_epoch < 0 {
            return self.leave(&p, topics, assignors);
        }
        let id = if p.member_epoch == 0 {
            match self.join(&p, now) {
                Ok(id) => id,
                Err(o) => return o,
            }
        } else {
            let Some(m) = self.members.get(&p.member_id) else {
                return fail(
                    ResponseError::UnknownMemberId,
                    &p.member_id,
                    "member is not in the group",
                );
            };
            let owned_ok = p.owned.as_ref().is_none_or(|o| {
                o.iter()
                    .all(|(t, ps)| ps.iter().all(|pp| contains(&m.assigned, t, *pp)))
            });
            if p.member_epoch != m.epoch && !(p.member_epoch == m.previous_epoch && owned_ok) {
                return fail(
                    ResponseError::FencedMemberEpoch,
                    &p.member_id,
                    &format!(
                        "member epoch {} does not match the current epoch {}",
                        p.member_epoch, m.epoch
                    ),
                );
            }
            p.member_id.clone()
        };
        let m = self.members.get_mut(&id).expect("member exists"); // ok: inserted or checked above
        m.last_seen = now;
        if p.rebalance_timeout_ms > 0 {
            m.rebalance_timeout_ms = p.rebalance_timeout_ms;
        }
        if let Some(subs) = &p.subscribed {
            if *subs != m.subscribed {
                m.subscribed = subs.clone();
                self.group_epoch += 1;
            }
        }
        if p.assignor.is_some() && p.assignor != m.assignor {
            m.assignor = p.assignor.clone();
            self.group_epoch += 1;
        }
        if let Some(owned) = &p.owned {
            if !is_empty(&m.revoking)
                && !m
                    .revoking
                    .iter()
                    .any(|(t, ps)| ps.iter().any(|pp| contains(owned, t, *pp)))
            {
                m.revoking.clear();
                m.revoking_since = 0;
            }
        }
        self.refresh_target(topics, assignors);
        let force = p.member_epoch == 0
            || p.owned
                .as_ref()
                .is_some_and(|o| *o != self.members[&id].assigned);
        self.reconcile(&id, now, force)
    }

    fn join(&mut self, p: &HeartbeatParams, now: Ms) -> Result<String, HeartbeatOutcome> {
        if p.subscribed.is_none() {
            return Err(fail(
                ResponseError::InvalidRequest,
                &p.member_id,
                "SubscribedTopicNames must be set when joining",
            ));
        }
        let id = if p.member_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            p.member_id.clone()
        };
        let mut inherited = None;
        if let Some(inst) = &p.instance_id {
            let holder = self
                .members
                .values()
                .find(|m| m.instance_id.as_deref() == Some(inst) && m.id != id)
                .map(|m| m.id.clone());
            if let Some(old) = holder {
                // A restarted static member takes over its predecessor's assignment.
                inherited = self.members.remove(&old);
                if let Some(t) = self.target.remove(&old) {
                    self.target.insert(id.clone(), t);
                }
            }
        }
        let (assigned, epoch) = match inherited {
            Some(old) => (old.assigned, old.epoch),
            None => {
                // A member that rejoins with epoch 0 lost its partitions.
                self.members.remove(&id);
                self.group_epoch += 1;
                (TopicPartitions::new(), 0)
            }
        };
        self.members.insert(
            id.clone(),
            ConsumerMember {
                id: id.clone(),
                instance_id: p.instance_id.clone(),
                rack: p.rack.clone(),
                client_id: p.client_id.clone(),
                client_host: p.client_host.clone(),
                epoch,
                previous_epoch: epoch,
                subscribed: BTreeSet::new(),
                assignor: None,
                rebalance_timeout_ms: p.rebalance_timeout_ms.max(0),
                assigned,
                revoking: TopicPartitions::new(),
                revoking_since: 0,
                sent: None,
                last_seen: now,
            },
        );
        Ok(id)
    }

    fn leave(
        &mut self,
        p: &HeartbeatParams,
        topics: &BTreeMap<String, i32>,
        assignors: &[String],
    ) -> HeartbeatOutcome {
        if self.members.remove(&p.member_id).is_none() {
            return fail(
                ResponseError::UnknownMemberId,
                &p.member_id,
                "member is not in the group",
            );
        }
        self.target.remove(&p.member_id);
        self.group_epoch += 1;
        self.refresh_target(topics, assignors);
        HeartbeatOutcome {
            member_id: p.member_id.clone(),
            member_epoch: p.member_epoch,
            ..Default::default()
        }
    }

    /// Recompute the target assignment if the group epoch moved or subscribed topics changed size.
    fn refresh_target(&mut self, topics: &BTreeMap<String, i32>, assignors: &[String]) {
        let subscribed: BTreeSet<&String> = self
            .members
            .values()
            .flat_map(|m| m.subscribed.iter())
            .collect();
        let counts: BTreeMap<String, i32> = topics
            .iter()
            .filter(|(t, _)| subscribed.contains(t))
            .map(|(t, n)| (t.clone(), *n))
            .collect();
        if counts != self.topic_partitions {
            self.topic_partitions = counts;
            self.group_epoch += 1;
        }
        if self.assignment_epoch == self.group_epoch {
            return;
        }
        let default = assignors
            .first()
            .cloned()
            .unwrap_or_else(|| "uniform".into());
        self.assignor = self
            .members
            .values()
            .find_map(|m| m.assignor.clone())
            .unwrap_or(default);
        let input: Vec<AssignorMember> = self
            .members
            .values()
            .map(|m| AssignorMember {
                id: m.id.clone(),
                topics: m
                    .subscribed
                    .iter()
                    .filter(|t| self.topic_partitions.contains_key(*t))
                    .cloned()
                    .collect(),
                current: m.assigned.clone(),
            })
            .collect();
        self.target = if self.assignor == "range" {
            assign_range(&input, &self.topic_partitions)
        } else {
            assign_uniform(&input, &self.topic_partitions)
        };
        self.assignment_epoch = self.group_epoch;
    }

    /// Move member `id` one step towards its target and build its answer.
    fn reconcile(&mut self, id: &str, now: Ms, force: bool) -> HeartbeatOutcome {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let taken: BTreeSet<(String, i32)> = self
            .members
            .values()
            .filter(|m| m.id != id)
            .flat_map(|m| {
                m.assigned
                    .iter()
                    .chain(m.revoking.iter())
                    .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            })
            .collect();
        let epoch = self.assignment_epoch;
        let m = self.members.get_mut(id).expect("member exists"); // ok: caller checked
        if is_empty(&m.revoking) {
            let mut keep = TopicPartitions::new();
            let mut revoke = TopicPartitions::new();
            for (t, ps) in &m.assigned {
                for p in ps {
                    let dst = if contains(&target, t, *p) {
                        &mut keep
                    } else {
                        &mut revoke
                    };
                    dst.entry(t.clone()).or_default().insert(*p);
                }
            }
            if !is_empty(&revoke) {
                m.assigned = keep;
                m.revoking = revoke;
                m.revoking_since = now;
            } else {
                for (t, ps) in &target {
                    for p in ps {
                        if !taken.contains(&(t.clone(), *p)) {
                            m.assigned.entry(t.clone()).or_default().insert(*p);
                        }
                    }
                }
                if m.epoch != epoch {
                    m.previous_epoch = m.epoch;
                    m.epoch = epoch;
                }
            }
        }
        m.assigned = normalize(std::mem::take(&mut m.assigned));
        let changed = m.sent.as_ref() != Some(&m.assigned);
        let assignment = (changed || force).then(|| m.assigned.clone());
        if assignment.is_some() {
            m.sent = Some(m.assigned.clone());
        }
        HeartbeatOutcome {
            error: 0,
            message: None,
            member_id: m.id.clone(),
            member_epoch: m.epoch,
            assignment,
        }
    }

    /// Advance time: members silent for longer than the session timeout, or that did not revoke
    /// within their rebalance timeout, are removed and the group epoch is bumped.
    pub fn tick(
        &mut self,
        now: Ms,
        session_timeout_ms: i32,
        topics: &BTreeMap<String, i32>,
        assignors: &[String],
    ) {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now - m.last_seen > i64::from(session_timeout_ms)
                    || (m.revoking_since > 0
                        && now - m.revoking_since > i64::from(m.rebalance_timeout_ms.max(1)))
            })
            .map(|m| m.id.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        for id in gone {
            tracing::info!(group = %self.id, member = %id, "consumer group member fenced (session or rebalance timeout)");
            self.members.remove(&id);
            self.target.remove(&id);
        }
        self.group_epoch += 1;
        self.refresh_target(topics, assignors);
    }

    /// All topics some member subscribes to.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.subscribed.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
#[path = "consumer_tests.rs"]
mod tests;
