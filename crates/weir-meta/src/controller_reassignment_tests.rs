//! Reassignment decisions on hand-built images: start, catch-up, completion (with a leader
//! handover), cancel, validation, and how fencing and elections treat adding/removing replicas.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{elect_leaderless, fence, Controller};
use crate::image::MetadataImage;
use crate::reassignment::{complete_reassignments, in_progress, reassign};
use crate::records::{MetadataRecord, PartitionInfo};
use crate::MetaError;

/// Brokers 1..=n, registered and unfenced, and topic "t" with one partition on `replicas`.
fn cluster(n: i32, replicas: &[i32]) -> MetadataImage {
    let mut img = MetadataImage::default();
    for id in 1..=n {
        img.apply(&MetadataRecord::RegisterBroker {
            id,
            incarnation: Uuid::from_u128(id as u128),
            listeners: vec![],
            rack: None,
        })
        .unwrap();
        img.apply(&MetadataRecord::UnfenceBroker { id }).unwrap();
    }
    img.apply(&MetadataRecord::CreateTopic {
        name: "t".into(),
        id: Uuid::from_u128(7),
        partitions: vec![PartitionInfo::new(replicas.to_vec())],
        configs: BTreeMap::new(),
    })
    .unwrap();
    img
}

fn p0(img: &MetadataImage) -> PartitionInfo {
    img.topics["t"].partitions[0].clone()
}

/// Start (or cancel) and apply; panics when nothing would change.
fn reassign_to(img: &mut MetadataImage, target: Option<&[i32]>) {
    let rec = reassign(img, "t", 0, target, true).unwrap().unwrap();
    img.apply(&rec).unwrap();
}

/// AlterPartition from the current leader at the current epochs, applied.
fn set_isr(img: &mut MetadataImage, isr: &[i32]) -> MetadataRecord {
    let p = p0(img);
    let rec = Controller::alter_partition(
        img,
        "t",
        0,
        p.leader,
        p.leader_epoch,
        p.partition_epoch,
        isr.to_vec(),
    )
    .unwrap();
    img.apply(&rec).unwrap();
    rec
}

#[test]
fn a_move_grows_then_completes_when_the_new_replica_joins_the_isr() {
    let mut img = cluster(4, &[1, 2]);
    reassign_to(&mut img, Some(&[2, 3]));
    let p = p0(&img);
    assert_eq!(p.replicas, vec![2, 3, 1], "target first, then the removed");
    assert_eq!(
        (p.adding_replicas.clone(), p.removing_replicas.clone()),
        (vec![3], vec![1])
    );
    assert_eq!(
        (p.isr.clone(), p.leader),
        (vec![1, 2], 1),
        "ISR and leader unchanged"
    );
    assert_eq!((p.leader_epoch, p.partition_epoch), (0, 1));
    assert!(
        complete_reassignments(&img).is_empty(),
        "3 is not in the ISR yet"
    );
    // An ISR change that does not complete it is a plain ChangePartition.
    assert!(matches!(
        set_isr(&mut img, &[1, 2]),
        MetadataRecord::ChangePartition { .. }
    ));
    // Broker 3 caught up: the same AlterPartition completes the reassignment, and leadership
    // moves off broker 1 (leaving) to the first target replica in the ISR.
    assert!(matches!(
        set_isr(&mut img, &[1, 2, 3]),
        MetadataRecord::ReassignPartition { .. }
    ));
    let p = p0(&img);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![2, 3], vec![2, 3], 2)
    );
    assert!(!p.is_reassigning());
    assert_eq!((p.leader_epoch, p.partition_epoch), (1, 3));
    assert!(in_progress(&img).is_empty());
}

#[test]
fn targets_are_validated_as_kafka_does() {
    let img = cluster(3, &[1, 2]);
    let err =
        |target: Option<&[i32]>, allow: bool| reassign(&img, "t", 0, target, allow).unwrap_err();
    for bad in [&[][..], &[1, 1], &[1, 99]] {
        assert!(
            matches!(err(Some(bad), true), MetaError::InvalidReplicaAssignment(_)),
            "{bad:?}"
        );
    }
    assert!(matches!(
        err(None, true),
        MetaError::NoReassignmentInProgress(_)
    ));
    assert!(matches!(
        err(Some(&[1, 2, 3]), false),
        MetaError::InvalidReplicationFactor(_)
    ));
    assert!(matches!(
        reassign(&img, "t", 1, Some(&[1]), true),
        Err(MetaError::UnknownTopicOrPartition(_))
    ));
    assert!(matches!(
        reassign(&img, "u", 0, Some(&[1]), true),
        Err(MetaError::UnknownTopicOrPartition(_))
    ));
    // The current assignment: nothing to do. A new order: done at once, no epoch bump.
    assert_eq!(reassign(&img, "t", 0, Some(&[1, 2]), false), Ok(None));
    let mut img = img;
    reassign_to(&mut img, Some(&[2, 1]));
    let p = p0(&img);
    assert_eq!(
        (p.replicas.clone(), p.leader, p.leader_epoch),
        (vec![2, 1], 1, 0)
    );
    assert!(!p.is_reassigning());
    // A fenced but registered broker is a valid target (as in Kafka).
    img.apply(&MetadataRecord::FenceBroker { id: 3 }).unwrap();
    assert!(reassign(&img, "t", 0, Some(&[2, 3]), false).is_ok());
}

#[test]
fn cancel_reverts_to_the_original_replicas() {
    let mut img = cluster(4, &[1, 2]);
    reassign_to(&mut img, Some(&[3, 4]));
    let p = p0(&img);
    assert_eq!(p.replicas, vec![3, 4, 1, 2]);
    assert_eq!(
        (p.adding_replicas.clone(), p.removing_replicas.clone()),
        (vec![3, 4], vec![1, 2])
    );
    // One of two new replicas caught up: not complete yet.
    assert!(matches!(
        set_isr(&mut img, &[1, 2, 3]),
        MetadataRecord::ChangePartition { .. }
    ));
    reassign_to(&mut img, None);
    let p = p0(&img);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![1, 2], vec![1, 2], 1)
    );
    assert!(!p.is_reassigning());
    assert_eq!(p.leader_epoch, 0, "the leader stays: same leader epoch");
    assert!(matches!(
        reassign(&img, "t", 0, None, true),
        Err(MetaError::NoReassignmentInProgress(_))
    ));
    // When only new replicas are in sync, reverting would need an unclean election.
    reassign_to(&mut img, Some(&[3, 4]));
    set_isr(&mut img, &[1, 3]);
    img.apply(&fence(&img, 1)[1]).unwrap();
    assert_eq!((p0(&img).isr, p0(&img).leader), (vec![3], 3));
    assert!(matches!(
        reassign(&img, "t", 0, None, true),
        Err(MetaError::InvalidReplicaAssignment(_))
    ));
}

#[test]
fn shrinking_completes_at_once_when_the_isr_allows() {
    let mut img = cluster(3, &[1, 2, 3]);
    reassign_to(&mut img, Some(&[2, 3]));
    let p = p0(&img);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![2, 3], vec![2, 3], 2)
    );
    assert!(!p.is_reassigning());
    assert_eq!((p.leader_epoch, p.partition_epoch), (1, 1));
    // With no target replica in the ISR it waits for one to catch up.
    let mut img = cluster(3, &[1, 2, 3]);
    set_isr(&mut img, &[1]);
    reassign_to(&mut img, Some(&[2, 3]));
    let p = p0(&img);
    assert_eq!(
        (p.adding_replicas.clone(), p.removing_replicas.clone()),
        (vec![], vec![1])
    );
    assert!(complete_reassignments(&img).is_empty());
    set_isr(&mut img, &[1, 3]);
    let p = p0(&img);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![2, 3], vec![3], 3)
    );
}

#[test]
fn a_new_target_replaces_the_one_in_progress() {
    let mut img = cluster(4, &[1, 2]);
    reassign_to(&mut img, Some(&[2, 3]));
    reassign_to(&mut img, Some(&[3, 4]));
    let p = p0(&img);
    assert_eq!(p.replicas, vec![3, 4, 2, 1]);
    assert_eq!(
        (p.adding_replicas.clone(), p.removing_replicas.clone()),
        (vec![3, 4], vec![2, 1]),
        "3, still being added, stays adding"
    );
    reassign_to(&mut img, None);
    assert_eq!(p0(&img).replicas, vec![2, 1]);
}

#[test]
fn the_periodic_check_completes_once_a_target_leader_is_available() {
    let mut img = cluster(3, &[1]);
    reassign_to(&mut img, Some(&[3]));
    // Broker 3 is in the ISR (recorded directly) but fenced: no leader in the target yet.
    img.apply(&MetadataRecord::ChangePartition {
        topic: "t".into(),
        partition: 0,
        leader: None,
        isr: Some(vec![1, 3]),
        partition_epoch: Some(1),
    })
    .unwrap();
    img.apply(&MetadataRecord::FenceBroker { id: 3 }).unwrap();
    assert!(complete_reassignments(&img).is_empty());
    img.apply(&MetadataRecord::UnfenceBroker { id: 3 }).unwrap();
    let recs = complete_reassignments(&img);
    assert_eq!(recs.len(), 1);
    img.apply(&recs[0]).unwrap();
    let p = p0(&img);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![3], vec![3], 3)
    );
    assert_eq!(p.leader_epoch, 1);
}

#[test]
fn fencing_and_elections_prefer_replicas_that_stay_and_never_elect_new_ones_uncleanly() {
    let mut img = cluster(4, &[1, 2, 3]);
    reassign_to(&mut img, Some(&[3, 4]));
    assert_eq!(p0(&img).removing_replicas, vec![1, 2]);
    // Leader 1 fenced: 3 (staying) is preferred over 2 (leaving), though 2 comes first.
    let recs = fence(&img, 1);
    for r in &recs {
        img.apply(r).unwrap();
    }
    assert_eq!((p0(&img).leader, p0(&img).isr), (3, vec![2, 3]));
    assert_eq!(
        p0(&img).adding_replicas,
        vec![4],
        "the reassignment goes on"
    );
    // 2 falls out of sync, then 3 dies: leaderless with ISR [3].
    set_isr(&mut img, &[3]);
    for r in &fence(&img, 3) {
        img.apply(r).unwrap();
    }
    assert_eq!((p0(&img).leader, p0(&img).isr), (-1, vec![3]));
    assert!(elect_leaderless(&img, false).is_empty());
    // Unclean: 2 (an original replica, though leaving), never 4 (being added, log incomplete).
    let recs = elect_leaderless(&img, true);
    for r in &recs {
        img.apply(r).unwrap();
    }
    assert_eq!((p0(&img).leader, p0(&img).isr), (2, vec![2]));
    // Preferred leader during a reassignment: the first target replica.
    let mut img = cluster(3, &[1, 2]);
    reassign_to(&mut img, Some(&[2, 1, 3]));
    for r in &Controller::preferred_leader_elections(&img) {
        img.apply(r).unwrap();
    }
    assert_eq!(p0(&img).leader, 2);
}
