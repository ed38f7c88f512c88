//! Partition reassignment (Kafka KIP-455, as Kafka's KRaft controller does it), sans-IO.
//!
//! * Start: the replicas become the target followed by the current replicas not in it;
//!   `adding` = target − original replicas, `removing` = current − target; ISR and leader stay.
//! * Catch-up: the leader counts the adding replicas as followers; they join the ISR through
//!   AlterPartition like any follower.
//! * Completion (right after the ISR change that makes it possible, or on a controller tick):
//!   once every adding replica is in the ISR and the ISR keeps a member of the target, the
//!   replicas become the target, the ISR loses the removed replicas, and a leader outside the
//!   target hands over to the first target replica in the ISR. Removing replicas leave the ISR
//!   there (or, like any replica, when they fall out of sync or are fenced).
//! * Cancel: back to the original replicas (current minus adding) with ISR ∩ original.
//!
//! Every transition is one [`MetadataRecord::ReassignPartition`] carrying the whole new
//! assignment at the partition epoch it was computed from.

use crate::image::MetadataImage;
use crate::records::{without, MetadataRecord, PartitionInfo};
use crate::MetaError;

fn live(image: &MetadataImage, id: i32) -> bool {
    image.brokers.get(&id).is_some_and(|b| !b.fenced)
}

/// The first of `replicas` that is in `isr` and unfenced.
fn elect(image: &MetadataImage, replicas: &[i32], isr: &[i32]) -> Option<i32> {
    replicas
        .iter()
        .copied()
        .find(|r| isr.contains(r) && live(image, *r))
}

/// The record setting partition `topic`-`partition` (now at `partition_epoch`) to `next`.
pub fn record(
    topic: &str,
    partition: i32,
    next: &PartitionInfo,
    partition_epoch: i32,
) -> MetadataRecord {
    MetadataRecord::ReassignPartition {
        topic: topic.to_string(),
        partition,
        replicas: next.replicas.clone(),
        adding_replicas: next.adding_replicas.clone(),
        removing_replicas: next.removing_replicas.clone(),
        isr: next.isr.clone(),
        leader: next.leader,
        partition_epoch,
    }
}

/// Kafka's checks of a manual assignment: not empty, no broker twice, every broker registered
/// (fenced brokers are allowed, as in Kafka). INVALID_REPLICA_ASSIGNMENT otherwise.
pub(crate) fn validate_target(image: &MetadataImage, target: &[i32]) -> Result<(), MetaError> {
    if target.is_empty() {
        return Err(MetaError::InvalidReplicaAssignment(
            "the target replica list is empty".into(),
        ));
    }
    let mut sorted = target.to_vec();
    sorted.sort_unstable();
    for w in sorted.windows(2) {
        if w[0] == w[1] {
            return Err(MetaError::InvalidReplicaAssignment(format!(
                "the target replica list {target:?} names broker {} more than once",
                w[0]
            )));
        }
    }
    if let Some(b) = sorted.iter().find(|b| !image.brokers.contains_key(b)) {
        return Err(MetaError::InvalidReplicaAssignment(format!(
            "the target replica list {target:?} names broker {b}, which is not registered"
        )));
    }
    Ok(())
}

/// AlterPartitionReassignments for one partition: start a reassignment to `target` (replacing
/// one in progress), or cancel the one in progress (`target` None). Without
/// `allow_rf_change` (KIP-860) the target must keep the replication factor. Returns `None` when
/// nothing changes (the target is the current assignment and nothing is in progress).
///
/// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (bad target; a cancel that
/// would need an unclean election), INVALID_REPLICATION_FACTOR, NO_REASSIGNMENT_IN_PROGRESS.
pub fn reassign(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
    allow_rf_change: bool,
) -> Result<Option<MetadataRecord>, MetaError> {
    let p = image
        .partition(topic, partition)
        .ok_or_else(|| MetaError::UnknownTopicOrPartition(format!("{topic}-{partition}")))?;
    let next = match target {
        None => cancelled(image, topic, partition, p)?,
        Some(target) => {
            validate_target(image, target)?;
            let rf = p.target_replicas().len();
            if !allow_rf_change && target.len() != rf {
                return Err(MetaError::InvalidReplicationFactor(format!(
                    "the target replica list {target:?} changes the replication factor {rf}"
                )));
            }
            let mut replicas = target.to_vec();
            replicas.extend(p.replicas.iter().filter(|r| !target.contains(r)));
            let mut next = PartitionInfo {
                replicas,
                // A replica still being added by a superseded reassignment stays adding.
                adding_replicas: without(target, &p.original_replicas()),
                removing_replicas: without(&p.replicas, target),
                ..p.clone()
            };
            if let Some(done) = completed(image, &next) {
                next = done;
            }
            next
        }
    };
    if next == *p {
        return Ok(None);
    }
    Ok(Some(record(topic, partition, &next, p.partition_epoch)))
}

/// The partition after cancelling its reassignment: the original replicas, the ISR without
/// the adding replicas, the leader kept if it stays in the ISR, else the first original replica
/// in the ISR that is unfenced (or none).
fn cancelled(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    p: &PartitionInfo,
) -> Result<PartitionInfo, MetaError> {
    if !p.is_reassigning() {
        return Err(MetaError::NoReassignmentInProgress(format!(
            "{topic}-{partition}"
        )));
    }
    let replicas = p.original_replicas();
    let isr = without(&p.isr, &p.adding_replicas);
    if isr.is_empty() {
        return Err(MetaError::InvalidReplicaAssignment(format!(
            "reverting the reassignment of {topic}-{partition} would need an unclean leader \
             election: no original replica is in the ISR {:?}",
            p.isr
        )));
    }
    let leader = if isr.contains(&p.leader) {
        p.leader
    } else {
        elect(image, &replicas, &isr).unwrap_or(-1)
    };
    Ok(PartitionInfo {
        replicas,
        isr,
        leader,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
        ..p.clone()
    })
}

/// The partition with its reassignment completed, if it can complete now: every adding replica
/// is in the ISR and the ISR keeps at least one target replica. The replicas become the target,
/// the ISR loses the removed replicas, and a leader outside the target is replaced by the first
/// target replica in the ISR that is unfenced (no completion while there is none).
pub fn completed(image: &MetadataImage, p: &PartitionInfo) -> Option<PartitionInfo> {
    if !p.is_reassigning() {
        return None;
    }
    let replicas = p.target_replicas();
    let isr = without(&p.isr, &p.removing_replicas);
    if replicas.is_empty() || isr.is_empty() || p.adding_replicas.iter().any(|r| !isr.contains(r)) {
        return None;
    }
    let leader = if isr.contains(&p.leader) {
        p.leader
    } else {
        elect(image, &replicas, &isr)?
    };
    Some(PartitionInfo {
        replicas,
        isr,
        leader,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
        ..p.clone()
    })
}

/// Records completing every reassignment that can complete now (the controller's periodic
/// check; an ISR expansion through AlterPartition completes one at once).
pub fn complete_reassignments(image: &MetadataImage) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for (name, t) in &image.topics {
        for (i, p) in t.partitions.iter().enumerate() {
            if let Some(done) = completed(image, p) {
                out.push(record(name, i as i32, &done, p.partition_epoch));
            }
        }
    }
    out
}

/// Every partition with a reassignment in progress: (topic, partition, its info).
pub fn in_progress(image: &MetadataImage) -> Vec<(&str, i32, &PartitionInfo)> {
    image
        .topics
        .iter()
        .flat_map(|(name, t)| {
            t.partitions
                .iter()
                .enumerate()
                .filter(|(_, p)| p.is_reassigning())
                .map(move |(i, p)| (name.as_str(), i as i32, p))
        })
        .collect()
}
