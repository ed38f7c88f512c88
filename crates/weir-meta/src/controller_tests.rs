//! Controller decisions with an injected clock: placement, fencing, leader choice only from the
//! ISR, epoch bumps, AlterPartition checks.

use super::*;
use crate::records::MetadataRecord;

fn cluster(racks: &[Option<&str>]) -> MetadataImage {
    let mut img = MetadataImage::default();
    for (i, rack) in racks.iter().enumerate() {
        let id = i as i32 + 1;
        img.apply(&MetadataRecord::RegisterBroker {
            id,
            incarnation: Uuid::from_u128(id as u128),
            listeners: vec![],
            rack: rack.map(String::from),
        })
        .unwrap();
        img.apply(&MetadataRecord::UnfenceBroker { id }).unwrap();
    }
    img
}

fn apply_all(img: &mut MetadataImage, recs: &[MetadataRecord]) {
    for r in recs {
        img.apply(r).unwrap();
    }
}

#[test]
fn placement_spreads_replicas_and_leaders_and_respects_racks() {
    let mut img = cluster(&[None, None, None]);
    let rec =
        Controller::create_topic(&img, "t", Uuid::from_u128(7), 6, 3, BTreeMap::new()).unwrap();
    img.apply(&rec).unwrap();
    let parts = &img.topics["t"].partitions;
    for p in parts {
        let mut r = p.replicas.clone();
        r.sort();
        assert_eq!(r, vec![1, 2, 3]);
        assert_eq!(p.leader, p.replicas[0]);
    }
    let leaders: Vec<i32> = parts.iter().map(|p| p.leader).collect();
    for b in 1..=3 {
        assert_eq!(
            leaders.iter().filter(|l| **l == b).count(),
            2,
            "leaders spread: {leaders:?}"
        );
    }
    assert!(matches!(
        Controller::create_topic(&img, "u", Uuid::from_u128(8), 1, 4, BTreeMap::new()),
        Err(MetaError::InvalidReplicationFactor(_))
    ));
    assert!(matches!(
        Controller::create_topic(&img, "t", Uuid::from_u128(9), 1, 1, BTreeMap::new()),
        Err(MetaError::TopicAlreadyExists(_))
    ));
    // Racks: with rf=2 over racks a,a,b every partition has one replica in each rack.
    let img2 = cluster(&[Some("a"), Some("a"), Some("b")]);
    let MetadataRecord::CreateTopic { partitions, .. } =
        Controller::create_topic(&img2, "r", Uuid::from_u128(1), 4, 2, BTreeMap::new()).unwrap()
    else {
        panic!("not a CreateTopic")
    };
    let rack = |id: i32| img2.brokers[&id].rack.clone().unwrap();
    for p in partitions {
        assert_ne!(rack(p.replicas[0]), rack(p.replicas[1]), "{:?}", p.replicas);
    }
}

#[test]
fn a_silent_broker_is_fenced_and_its_partitions_get_a_leader_from_the_isr() {
    let mut img = cluster(&[None, None, None]);
    let rec =
        Controller::create_topic(&img, "t", Uuid::from_u128(7), 3, 2, BTreeMap::new()).unwrap();
    img.apply(&rec).unwrap();
    let mut c = Controller::new(9_000, false);
    for b in 1..=3 {
        assert!(c.heartbeat(&img, b, 0).is_empty());
    }
    assert!(
        c.tick(&img, 9_000).is_empty(),
        "exactly the timeout is still alive"
    );
    c.heartbeat(&img, 2, 9_500);
    c.heartbeat(&img, 3, 9_500);
    let recs = c.tick(&img, 9_001);
    assert_eq!(recs[0], MetadataRecord::FenceBroker { id: 1 });
    let before = img.clone();
    apply_all(&mut img, &recs);
    assert!(img.brokers[&1].fenced);
    for (i, p) in img.topics["t"].partitions.iter().enumerate() {
        let old = &before.topics["t"].partitions[i];
        assert!(!p.isr.contains(&1) || p.isr == vec![1]);
        if old.leader == 1 {
            assert!(old.isr.contains(&p.leader), "new leader comes from the ISR");
            assert_eq!(p.leader_epoch, old.leader_epoch + 1, "leader epoch bumped");
        } else {
            assert_eq!(p.leader, old.leader);
        }
        assert!(p.partition_epoch > old.partition_epoch || !old.isr.contains(&1));
    }
}

#[test]
fn no_leader_outside_the_isr_unless_unclean_election_is_enabled() {
    let mut img = cluster(&[None, None]);
    let rec =
        Controller::create_topic(&img, "t", Uuid::from_u128(7), 1, 2, BTreeMap::new()).unwrap();
    img.apply(&rec).unwrap();
    let leader = img.topics["t"].partitions[0].leader;
    let follower = if leader == 1 { 2 } else { 1 };
    // The follower fell out of the ISR, then the leader died.
    img.apply(&Controller::alter_partition(&img, "t", 0, leader, 0, 0, vec![leader]).unwrap())
        .unwrap();
    let recs = fence(&img, leader);
    apply_all(&mut img, &recs);
    let p = &img.topics["t"].partitions[0];
    assert_eq!(
        (p.leader, p.isr.clone()),
        (-1, vec![leader]),
        "no clean leader"
    );
    assert!(elect_leaderless(&img, false).is_empty());
    let unclean = elect_leaderless(&img, true);
    apply_all(&mut img, &unclean);
    assert_eq!(img.topics["t"].partitions[0].leader, follower);
}

#[test]
fn alter_partition_checks_leader_and_partition_epochs() {
    let mut img = cluster(&[None, None, None]);
    img.apply(
        &Controller::create_topic(&img, "t", Uuid::from_u128(7), 1, 3, BTreeMap::new()).unwrap(),
    )
    .unwrap();
    let p = img.topics["t"].partitions[0].clone();
    let shrunk: Vec<i32> = p.replicas[..2].to_vec();
    assert!(matches!(
        Controller::alter_partition(
            &img,
            "t",
            0,
            p.leader,
            p.leader_epoch + 1,
            0,
            shrunk.clone()
        ),
        Err(MetaError::FencedLeaderEpoch(_))
    ));
    assert!(matches!(
        Controller::alter_partition(&img, "t", 0, p.leader, p.leader_epoch, 5, shrunk.clone()),
        Err(MetaError::InvalidUpdateVersion(_))
    ));
    assert!(matches!(
        Controller::alter_partition(&img, "t", 0, p.leader, 0, 0, vec![p.replicas[1]]),
        Err(MetaError::InvalidRequest(_))
    ));
    assert!(matches!(
        Controller::alter_partition(&img, "zz", 0, 1, 0, 0, vec![1]),
        Err(MetaError::UnknownTopicOrPartition(_))
    ));
    img.apply(&Controller::alter_partition(&img, "t", 0, p.leader, 0, 0, shrunk.clone()).unwrap())
        .unwrap();
    assert_eq!(img.topics["t"].partitions[0].isr, shrunk);
    assert_eq!(img.topics["t"].partitions[0].partition_epoch, 1);
}

#[test]
fn a_fenced_broker_cannot_join_the_isr() {
    // KIP-841 (found by weir-sim): a fenced or unregistered broker is not eligible.
    let mut img = cluster(&[None, None, None]);
    img.apply(
        &Controller::create_topic(&img, "t", Uuid::from_u128(7), 1, 3, BTreeMap::new()).unwrap(),
    )
    .unwrap();
    let p = img.topics["t"].partitions[0].clone();
    let out = p.replicas[2];
    let shrunk: Vec<i32> = p.isr.iter().copied().filter(|r| *r != out).collect();
    img.apply(&Controller::alter_partition(&img, "t", 0, p.leader, 0, 0, shrunk.clone()).unwrap())
        .unwrap();
    img.apply(&MetadataRecord::FenceBroker { id: out }).unwrap();
    let back: Vec<i32> = p.isr.clone();
    assert!(matches!(
        Controller::alter_partition(&img, "t", 0, p.leader, 0, 1, back.clone()),
        Err(MetaError::IneligibleReplica(_))
    ));
    // A fenced member that is already in the ISR may stay (only joiners are checked).
    img.apply(&MetadataRecord::UnfenceBroker { id: out })
        .unwrap();
    img.apply(&Controller::alter_partition(&img, "t", 0, p.leader, 0, 1, back.clone()).unwrap())
        .unwrap();
    assert_eq!(img.topics["t"].partitions[0].isr, back);
}

#[test]
fn automatic_rebalance_runs_on_its_interval() {
    let mut img = cluster(&[None, None]);
    img.apply(
        &Controller::create_topic(&img, "t", Uuid::from_u128(7), 1, 2, BTreeMap::new()).unwrap(),
    )
    .unwrap();
    let p = img.topics["t"].partitions[0].clone();
    let other = p.replicas[1];
    // Leadership moved away from the preferred replica (e.g. after a failure).
    img.apply(&MetadataRecord::ChangePartition {
        topic: "t".into(),
        partition: 0,
        leader: Some(other),
        isr: None,
        partition_epoch: Some(0),
    })
    .unwrap();
    let mut c = Controller::new(60_000, false).with_auto_rebalance(300_000);
    c.heartbeat(&img, 1, 0);
    c.heartbeat(&img, 2, 0);
    assert!(c.tick(&img, 0).is_empty(), "the interval starts now");
    c.heartbeat(&img, 1, 299_000);
    c.heartbeat(&img, 2, 299_000);
    assert!(c.tick(&img, 299_999).is_empty());
    let recs = c.tick(&img, 300_000);
    apply_all(&mut img, &recs);
    assert_eq!(img.topics["t"].partitions[0].leader, p.replicas[0]);
    assert_eq!(img.topics["t"].partitions[0].leader_epoch, 2);
}

#[test]
fn each_preferred_election_is_its_own_proposal() {
    let mut img = cluster(&[None, None]);
    img.apply(
        &Controller::create_topic(&img, "t", Uuid::from_u128(7), 2, 2, BTreeMap::new()).unwrap(),
    )
    .unwrap();
    // Both partitions led by their second replica.
    for i in 0..2 {
        let p = img.topics["t"].partitions[i].clone();
        img.apply(&MetadataRecord::ChangePartition {
            topic: "t".into(),
            partition: i as i32,
            leader: Some(p.replicas[1]),
            isr: None,
            partition_epoch: Some(p.partition_epoch),
        })
        .unwrap();
    }
    let mut c = Controller::new(60_000, false).with_auto_rebalance(1_000);
    c.heartbeat(&img, 1, 0);
    c.heartbeat(&img, 2, 0);
    assert!(c.tick_proposals(&img, 0).is_empty());
    let proposals = c.tick_proposals(&img, 1_000);
    assert_eq!(proposals.len(), 2, "{proposals:?}");
    // An ISR change to partition 0 meanwhile makes its election stale; partition 1's still
    // applies on its own.
    let p0 = img.topics["t"].partitions[0].clone();
    img.apply(&MetadataRecord::ChangePartition {
        topic: "t".into(),
        partition: 0,
        leader: None,
        isr: Some(p0.isr.clone()),
        partition_epoch: Some(p0.partition_epoch),
    })
    .unwrap();
    let results: Vec<bool> = proposals
        .iter()
        .map(|p| p.iter().all(|r| img.apply(r).is_ok()))
        .collect();
    assert_eq!(results, vec![false, true]);
    let p1 = &img.topics["t"].partitions[1];
    assert_eq!(p1.leader, p1.replicas[0]);
}

#[test]
fn preferred_leaders_come_back() {
    let mut img = cluster(&[None, None]);
    img.apply(
        &Controller::create_topic(&img, "t", Uuid::from_u128(7), 2, 2, BTreeMap::new()).unwrap(),
    )
    .unwrap();
    let recs = fence(&img, 1);
    apply_all(&mut img, &recs);
    let mut c = Controller::new(9_000, false);
    let back = c.heartbeat(&img, 1, 0);
    assert_eq!(back[0], MetadataRecord::UnfenceBroker { id: 1 });
    apply_all(&mut img, &back);
    // Broker 1 is not in the ISR any more; once it is again, preferred election moves leaders.
    for (i, p) in img.topics["t"].partitions.clone().iter().enumerate() {
        let mut isr = p.isr.clone();
        if !isr.contains(&1) {
            isr.push(1);
        }
        img.apply(
            &Controller::alter_partition(
                &img,
                "t",
                i as i32,
                p.leader,
                p.leader_epoch,
                p.partition_epoch,
                isr,
            )
            .unwrap(),
        )
        .unwrap();
    }
    let recs = Controller::preferred_leader_elections(&img);
    apply_all(&mut img, &recs);
    for p in &img.topics["t"].partitions {
        assert_eq!(p.leader, p.replicas[0]);
    }
}

#[test]
fn manual_assignments_are_checked_and_led_by_the_first_unfenced_replica() {
    let mut img = cluster(&[None, None, None]);
    let create = |img: &MetadataImage, a: &[Vec<i32>]| {
        Controller::create_topic_assigned(img, "m", Uuid::from_u128(5), a, BTreeMap::new())
    };
    let bad = |r: Result<MetadataRecord, MetaError>| {
        matches!(r, Err(MetaError::InvalidReplicaAssignment(_)))
    };
    assert!(bad(create(&img, &[])));
    assert!(bad(create(&img, &[vec![1, 1]])), "a broker twice");
    assert!(bad(create(&img, &[vec![1, 9]])), "an unknown broker");
    assert!(
        bad(create(&img, &[vec![1, 2], vec![3]])),
        "replica counts differ"
    );
    img.apply(&MetadataRecord::FenceBroker { id: 2 }).unwrap();
    assert!(bad(create(&img, &[vec![2]])), "only fenced replicas");
    let rec = create(&img, &[vec![2, 3], vec![1, 2]]).unwrap();
    img.apply(&rec).unwrap();
    let parts = &img.topics["m"].partitions;
    assert_eq!(
        (parts[0].replicas.clone(), parts[0].leader),
        (vec![2, 3], 3)
    );
    assert_eq!(
        parts[0].isr,
        vec![3],
        "the fenced replica is out of the ISR"
    );
    assert_eq!((parts[1].leader, parts[1].isr.clone()), (1, vec![1]));
    assert!(matches!(
        create(&img, &[vec![1]]),
        Err(MetaError::TopicAlreadyExists(_))
    ));
}

#[test]
fn the_dynamic_cluster_default_decides_unclean_election() {
    let mut img = cluster(&[None]);
    let c = Controller::new(9000, false);
    assert!(!c.unclean_enabled(&img));
    let set = |v: Option<&str>| MetadataRecord::SetConfig {
        resource: crate::records::ConfigResource::BrokerDefault,
        key: "unclean.leader.election.enable".into(),
        value: v.map(String::from),
    };
    img.apply(&set(Some("true"))).unwrap();
    assert!(c.unclean_enabled(&img));
    let on = Controller::new(9000, true);
    img.apply(&set(Some("false"))).unwrap();
    assert!(
        !on.unclean_enabled(&img),
        "the dynamic default beats the static"
    );
    img.apply(&set(None)).unwrap();
    assert!(on.unclean_enabled(&img));
}
