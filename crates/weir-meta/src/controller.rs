//! The controller's decisions, taken on the Raft leader: where replicas of a new topic go, which
//! brokers are fenced for missing heartbeats, who leads after a failure, whether an ISR change
//! requested by a partition leader (AlterPartition) is valid. Sans-IO: the time is an argument,
//! the output is records to propose.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::image::MetadataImage;
use crate::reassignment;
use crate::records::{MetadataRecord, PartitionInfo};
use crate::MetaError;

/// Broker liveness as seen by the active controller.
#[derive(Debug, Clone, Default)]
pub struct Controller {
    /// `broker.session.timeout.ms` (Kafka default 9000).
    pub session_timeout_ms: i64,
    /// `unclean.leader.election.enable` (cluster default).
    pub unclean_leader_election: bool,
    /// `leader.imbalance.check.interval.seconds` in ms when `auto.leader.rebalance.enable`.
    pub auto_rebalance_interval_ms: Option<i64>,
    last_heartbeat: HashMap<i32, i64>,
    last_rebalance: Option<i64>,
}

impl Controller {
    /// A controller with no heartbeats seen yet.
    pub fn new(session_timeout_ms: i64, unclean_leader_election: bool) -> Self {
        Controller {
            session_timeout_ms,
            unclean_leader_election,
            auto_rebalance_interval_ms: None,
            last_heartbeat: HashMap::new(),
            last_rebalance: None,
        }
    }

    /// `unclean.leader.election.enable` in force: the cluster-wide dynamic broker default when
    /// one is set in `image` (as Kafka's controller reads it), else the static one.
    pub fn unclean_enabled(&self, image: &MetadataImage) -> bool {
        match image
            .broker_default_configs
            .get("unclean.leader.election.enable")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("true") => true,
            Some("false") => false,
            _ => self.unclean_leader_election,
        }
    }

    /// Move leaderships back to preferred replicas every `interval_ms`
    /// (`auto.leader.rebalance.enable`).
    pub fn with_auto_rebalance(mut self, interval_ms: i64) -> Self {
        self.auto_rebalance_interval_ms = Some(interval_ms);
        self
    }

    /// A broker heartbeat: records to propose (unfence a fenced broker and give leaderless
    /// partitions it replicates a leader).
    pub fn heartbeat(
        &mut self,
        image: &MetadataImage,
        broker: i32,
        now: i64,
    ) -> Vec<MetadataRecord> {
        self.last_heartbeat.insert(broker, now);
        match image.brokers.get(&broker) {
            Some(b) if b.fenced => {
                let mut out = vec![MetadataRecord::UnfenceBroker { id: broker }];
                let mut after = image.clone();
                let _ = after.apply(&out[0]);
                out.extend(elect_leaderless(&after, self.unclean_enabled(image)));
                out
            }
            _ => Vec::new(),
        }
    }

    /// Fence brokers whose last heartbeat is older than the session timeout (a newly elected
    /// controller first gives every broker a full session), and move their leaderships; every
    /// rebalance interval, give leaderships back to preferred replicas. All records in one
    /// list; [`Controller::tick_proposals`] gives them as separate proposals.
    pub fn tick(&mut self, image: &MetadataImage, now: i64) -> Vec<MetadataRecord> {
        self.tick_proposals(image, now).concat()
    }

    /// [`Controller::tick`] as proposals to commit one by one: the fencing of silent brokers
    /// as one (atomic: a broker is fenced and loses its leaderships together), or else, when
    /// the rebalance interval has passed, each preferred-leader election alone, so that one
    /// losing a race with an ISR change (a stale partition epoch) does not hold back the others
    /// for another interval.
    pub fn tick_proposals(&mut self, image: &MetadataImage, now: i64) -> Vec<Vec<MetadataRecord>> {
        let mut out = Vec::new();
        let mut after = image.clone();
        for b in image.brokers.values().filter(|b| !b.fenced) {
            let last = *self.last_heartbeat.entry(b.id).or_insert(now);
            if now - last > self.session_timeout_ms {
                let recs = fence(&after, b.id);
                for r in &recs {
                    let _ = after.apply(r);
                }
                out.extend(recs);
            }
        }
        if let Some(interval) = self.auto_rebalance_interval_ms {
            let last = *self.last_rebalance.get_or_insert(now);
            if out.is_empty() && now - last >= interval {
                self.last_rebalance = Some(now);
                return Self::preferred_leader_elections(&after)
                    .into_iter()
                    .map(|r| vec![r])
                    .collect();
            }
        }
        if out.is_empty() {
            Vec::new()
        } else {
            vec![out]
        }
    }

    /// Records for a new topic: `partitions` partitions of `rf` replicas on unfenced brokers,
    /// spread round-robin (racks alternate when set), leader = first replica.
    pub fn create_topic(
        image: &MetadataImage,
        name: &str,
        id: Uuid,
        partitions: i32,
        rf: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<MetadataRecord, MetaError> {
        if image.topics.contains_key(name) {
            return Err(MetaError::TopicAlreadyExists(name.to_string()));
        }
        let parts = place(image, 0, partitions, rf)?;
        Ok(MetadataRecord::CreateTopic {
            name: name.to_string(),
            id,
            partitions: parts,
            configs,
        })
    }

    /// Records for a new topic with the replicas an operator chose (`assignment[i]`: partition
    /// i's replicas): each list non-empty, without repeats, of registered brokers, all of one
    /// length, at least one unfenced (INVALID_REPLICA_ASSIGNMENT otherwise, as Kafka). The ISR is
    /// the unfenced replicas and the first of them leads.
    pub fn create_topic_assigned(
        image: &MetadataImage,
        name: &str,
        id: Uuid,
        assignment: &[Vec<i32>],
        configs: BTreeMap<String, String>,
    ) -> Result<MetadataRecord, MetaError> {
        if image.topics.contains_key(name) {
            return Err(MetaError::TopicAlreadyExists(name.to_string()));
        }
        let Some(first) = assignment.first() else {
            return Err(MetaError::InvalidReplicaAssignment(
                "a manual assignment needs at least one partition".into(),
            ));
        };
        for replicas in assignment {
            reassignment::validate_target(image, replicas)?;
            if replicas.len() != first.len() {
                return Err(MetaError::InvalidReplicaAssignment(format!(
                    "all partitions must have {} replicas, as the first: {replicas:?}",
                    first.len()
                )));
            }
        }
        let mut partitions = Vec::with_capacity(assignment.len());
        for (i, replicas) in assignment.iter().enumerate() {
            let isr: Vec<i32> = replicas
                .iter()
                .copied()
                .filter(|r| image.brokers.get(r).is_some_and(|b| !b.fenced))
                .collect();
            let Some(&leader) = isr.first() else {
                return Err(MetaError::InvalidReplicaAssignment(format!(
                    "every broker of partition {i}'s assignment {replicas:?} is fenced"
                )));
            };
            let mut p = PartitionInfo::new(replicas.clone());
            p.leader = leader;
            p.isr = isr;
            partitions.push(p);
        }
        Ok(MetadataRecord::CreateTopic {
            name: name.to_string(),
            id,
            partitions,
            configs,
        })
    }

    /// Records adding partitions up to `total`.
    pub fn create_partitions(
        image: &MetadataImage,
        topic: &str,
        total: i32,
    ) -> Result<MetadataRecord, MetaError> {
        let t = image
            .topics
            .get(topic)
            .ok_or_else(|| MetaError::UnknownTopicOrPartition(topic.to_string()))?;
        let have = t.partitions.len() as i32;
        if total <= have {
            return Err(MetaError::InvalidPartitions(format!(
                "topic {topic} has {have} partitions; {total} is not more"
            )));
        }
        let rf = t
            .partitions
            .first()
            .map(|p| p.target_replicas().len())
            .unwrap_or(1) as i16;
        Ok(MetadataRecord::CreatePartitions {
            topic: topic.to_string(),
            partitions: place(image, have, total - have, rf)?,
            expected_count: Some(have),
        })
    }

    /// AlterPartition from a partition leader: valid only from the current leader at the current
    /// leader epoch (else FENCED_LEADER_EPOCH) and partition epoch (else INVALID_UPDATE_VERSION),
    /// with a non-empty ISR that contains the leader and only replicas (adding and removing
    /// ones included). An ISR that lets a reassignment complete completes it in the same record.
    pub fn alter_partition(
        image: &MetadataImage,
        topic: &str,
        partition: i32,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    ) -> Result<MetadataRecord, MetaError> {
        let p = image
            .partition(topic, partition)
            .ok_or_else(|| MetaError::UnknownTopicOrPartition(format!("{topic}-{partition}")))?;
        if leader != p.leader || leader_epoch != p.leader_epoch {
            return Err(MetaError::FencedLeaderEpoch(format!(
                "{topic}-{partition}: leader {leader} epoch {leader_epoch}, current leader {} epoch {}",
                p.leader, p.leader_epoch
            )));
        }
        if partition_epoch != p.partition_epoch {
            return Err(MetaError::InvalidUpdateVersion(format!(
                "{topic}-{partition}: partition epoch {partition_epoch}, current {}",
                p.partition_epoch
            )));
        }
        if !isr.contains(&leader) || isr.iter().any(|r| !p.replicas.contains(r)) {
            return Err(MetaError::InvalidRequest(format!(
                "ISR {isr:?} must contain the leader and only replicas {:?}",
                p.replicas
            )));
        }
        // KIP-841: a broker joins the ISR only while it is registered and unfenced (a fenced one
        // could be counted toward min.insync.replicas but never be elected).
        if let Some(r) = isr
            .iter()
            .find(|r| !p.isr.contains(r) && image.brokers.get(r).is_none_or(|b| b.fenced))
        {
            return Err(MetaError::IneligibleReplica(format!(
                "{topic}-{partition}: broker {r} is fenced or not registered and cannot join the ISR"
            )));
        }
        let next = PartitionInfo {
            isr: isr.clone(),
            ..p.clone()
        };
        if let Some(done) = reassignment::completed(image, &next) {
            return Ok(reassignment::record(
                topic,
                partition,
                &done,
                partition_epoch,
            ));
        }
        Ok(MetadataRecord::ChangePartition {
            topic: topic.to_string(),
            partition,
            leader: None,
            isr: Some(isr),
            partition_epoch: Some(partition_epoch),
        })
    }

    /// Preferred-leader election: partitions whose first replica is in the ISR, unfenced and not
    /// the leader get it back as leader (during a reassignment: the first target replica).
    pub fn preferred_leader_elections(image: &MetadataImage) -> Vec<MetadataRecord> {
        let mut out = Vec::new();
        for (name, t) in &image.topics {
            for (i, p) in t.partitions.iter().enumerate() {
                let Some(&pref) = p.replicas.first() else {
                    continue;
                };
                let live = image.brokers.get(&pref).is_some_and(|b| !b.fenced);
                if p.leader != pref && live && p.isr.contains(&pref) {
                    out.push(MetadataRecord::ChangePartition {
                        topic: name.clone(),
                        partition: i as i32,
                        leader: Some(pref),
                        isr: None,
                        partition_epoch: Some(p.partition_epoch),
                    });
                }
            }
        }
        out
    }
}

/// Replica lists for `count` partitions starting at index `first`.
fn place(
    image: &MetadataImage,
    first: i32,
    count: i32,
    rf: i16,
) -> Result<Vec<PartitionInfo>, MetaError> {
    if count < 1 {
        return Err(MetaError::InvalidPartitions(format!(
            "number of partitions must be at least 1, got {count}"
        )));
    }
    let mut live: Vec<(String, i32)> = image
        .live_brokers()
        .iter()
        .map(|b| (b.rack.clone().unwrap_or_default(), b.id))
        .collect();
    if rf < 1 || rf as usize > live.len() {
        return Err(MetaError::InvalidReplicationFactor(format!(
            "replication factor: {rf} larger than available brokers: {}",
            live.len()
        )));
    }
    // Rack-alternating order: r1b1, r2b1, r1b2, r2b2, ... (plain id order without racks).
    live.sort();
    let rack_of: BTreeMap<i32, String> = live.iter().map(|(r, id)| (*id, r.clone())).collect();
    let mut by_rack: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (rack, id) in live {
        by_rack.entry(rack).or_default().push(id);
    }
    let mut order = Vec::new();
    let mut i = 0;
    while order.len() < rack_of.len() {
        for ids in by_rack.values() {
            if let Some(id) = ids.get(i) {
                order.push(*id);
            }
        }
        i += 1;
    }
    let n = order.len();
    Ok((first..first + count)
        .map(|p| {
            // Walk the rotation from this partition's start: first one replica per rack, then
            // fill up with the rest.
            let rotation: Vec<i32> = (0..n).map(|k| order[(p as usize + k) % n]).collect();
            let mut replicas: Vec<i32> = Vec::with_capacity(rf as usize);
            let mut racks = std::collections::BTreeSet::new();
            for id in &rotation {
                if replicas.len() < rf as usize && racks.insert(rack_of[id].clone()) {
                    replicas.push(*id);
                }
            }
            for id in &rotation {
                if replicas.len() < rf as usize && !replicas.contains(id) {
                    replicas.push(*id);
                }
            }
            PartitionInfo::new(replicas)
        })
        .collect())
}

/// The first of `candidates` that is `live`, preferring replicas a reassignment is not removing.
pub(crate) fn pick_leader(
    candidates: &[i32],
    p: &PartitionInfo,
    live: impl Fn(&i32) -> bool,
) -> Option<i32> {
    candidates
        .iter()
        .copied()
        .filter(|r| live(r))
        .min_by_key(|r| p.removing_replicas.contains(r))
}

/// Records fencing `broker`: it leaves every ISR it is in (unless it is the last member), and
/// partitions it led get the first other ISR member that is unfenced as leader (one a
/// reassignment is not removing, if any), or no leader.
pub fn fence(image: &MetadataImage, broker: i32) -> Vec<MetadataRecord> {
    let mut out = vec![MetadataRecord::FenceBroker { id: broker }];
    for (name, t) in &image.topics {
        for (i, p) in t.partitions.iter().enumerate() {
            if !p.isr.contains(&broker) {
                continue;
            }
            let isr: Vec<i32> = p.isr.iter().copied().filter(|r| *r != broker).collect();
            let live = |r: &i32| {
                image
                    .brokers
                    .get(r)
                    .is_some_and(|b| !b.fenced && b.id != broker)
            };
            let (leader, isr) = if p.leader == broker {
                match pick_leader(&isr, p, live) {
                    Some(l) => (Some(l), isr),
                    // Kafka keeps the last ISR member and leaves the partition leaderless.
                    None => (Some(-1), vec![broker]),
                }
            } else if isr.is_empty() {
                continue;
            } else {
                (None, isr)
            };
            out.push(MetadataRecord::ChangePartition {
                topic: name.clone(),
                partition: i as i32,
                leader,
                isr: Some(isr),
                partition_epoch: Some(p.partition_epoch),
            });
        }
    }
    out
}

/// Leaders for leaderless partitions: an unfenced ISR member, else (only with unclean election)
/// any unfenced replica, which becomes the whole ISR. Replicas a reassignment is removing come
/// last; replicas it is adding (their logs are incomplete) are never elected uncleanly.
pub fn elect_leaderless(image: &MetadataImage, unclean: bool) -> Vec<MetadataRecord> {
    let live = |r: &i32| image.brokers.get(r).is_some_and(|b| !b.fenced);
    let mut out = Vec::new();
    for (name, t) in &image.topics {
        for (i, p) in t.partitions.iter().enumerate() {
            if p.leader != -1 {
                continue;
            }
            let choice = match pick_leader(&p.isr, p, live) {
                Some(l) => Some((l, p.isr.clone())),
                None if unclean => {
                    pick_leader(&p.original_replicas(), p, live).map(|l| (l, vec![l]))
                }
                None => None,
            };
            if let Some((leader, isr)) = choice {
                out.push(MetadataRecord::ChangePartition {
                    topic: name.clone(),
                    partition: i as i32,
                    leader: Some(leader),
                    isr: Some(isr),
                    partition_epoch: Some(p.partition_epoch),
                });
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;

// The reassignment tests drive reassignments through the controller (AlterPartition, fencing,
// elections), so they live under the controller: the reassignment module stays below it.
#[cfg(test)]
#[path = "controller_reassignment_tests.rs"]
mod reassignment_tests;
