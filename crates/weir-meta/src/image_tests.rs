//! The state machine validates every record and changes nothing on error.

use super::*;

fn broker(id: i32) -> MetadataRecord {
    MetadataRecord::RegisterBroker {
        id,
        incarnation: Uuid::from_u128(id as u128),
        listeners: vec![],
        rack: None,
    }
}

fn part(replicas: &[i32]) -> PartitionInfo {
    PartitionInfo::new(replicas.to_vec())
}

fn topic(name: &str, parts: Vec<PartitionInfo>) -> MetadataRecord {
    MetadataRecord::CreateTopic {
        name: name.into(),
        id: Uuid::from_u128(name.len() as u128 + 1000),
        partitions: parts,
        configs: BTreeMap::new(),
    }
}

#[test]
fn records_apply_in_order_and_answer_who_leads() {
    let mut img = MetadataImage::default();
    for id in 1..=3 {
        img.apply(&broker(id)).unwrap();
        img.apply(&MetadataRecord::UnfenceBroker { id }).unwrap();
    }
    img.apply(&topic("t", vec![part(&[1, 2, 3])])).unwrap();
    img.apply(&MetadataRecord::ChangePartition {
        topic: "t".into(),
        partition: 0,
        leader: Some(2),
        isr: Some(vec![2, 3]),
        partition_epoch: Some(0),
    })
    .unwrap();
    let p = img.partition("t", 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 1));
    assert_eq!(p.isr, vec![2, 3]);
    assert_eq!(
        img.apply(&MetadataRecord::AllocateProducerIds {
            broker: 1,
            count: 1000
        }),
        Ok(Applied::ProducerIds {
            start: 0,
            count: 1000
        })
    );
    assert_eq!(img.next_producer_id, 1000);
}

#[test]
fn invalid_records_are_rejected_and_leave_the_state_unchanged() {
    let mut img = MetadataImage::default();
    img.apply(&broker(1)).unwrap();
    img.apply(&topic("t", vec![part(&[1])])).unwrap();
    let before = img.clone();
    let bad = [
        (topic("t", vec![part(&[1])]), "exists"),
        (
            MetadataRecord::ChangePartition {
                topic: "t".into(),
                partition: 0,
                leader: Some(1),
                isr: None,
                partition_epoch: Some(7),
            },
            "stale partition epoch",
        ),
        (
            MetadataRecord::ChangePartition {
                topic: "t".into(),
                partition: 0,
                leader: Some(9),
                isr: None,
                partition_epoch: None,
            },
            "leader outside the ISR",
        ),
        (
            MetadataRecord::ChangePartition {
                topic: "nope".into(),
                partition: 0,
                leader: None,
                isr: None,
                partition_epoch: None,
            },
            "unknown topic",
        ),
        (
            MetadataRecord::DeleteTopic {
                name: "nope".into(),
            },
            "unknown topic",
        ),
        (MetadataRecord::FenceBroker { id: 42 }, "unknown broker"),
        (topic("u", vec![]), "no partitions"),
    ];
    for (rec, why) in bad {
        assert!(img.apply(&rec).is_err(), "{why}");
        assert_eq!(img, before, "{why}: state changed");
    }
    assert!(matches!(
        img.apply(&MetadataRecord::ChangePartition {
            topic: "t".into(),
            partition: 0,
            leader: None,
            isr: None,
            partition_epoch: Some(3),
        }),
        Err(MetaError::InvalidUpdateVersion(_))
    ));
}

#[test]
fn a_new_incarnation_registers_fenced() {
    let mut img = MetadataImage::default();
    img.apply(&broker(1)).unwrap();
    assert!(img.brokers[&1].fenced, "fenced until a heartbeat");
    img.apply(&MetadataRecord::UnfenceBroker { id: 1 }).unwrap();
    img.apply(&broker(1)).unwrap();
    assert!(
        !img.brokers[&1].fenced,
        "same incarnation re-registering stays unfenced"
    );
    img.apply(&MetadataRecord::RegisterBroker {
        id: 1,
        incarnation: Uuid::from_u128(99),
        listeners: vec![],
        rack: None,
    })
    .unwrap();
    assert!(
        img.brokers[&1].fenced,
        "a restarted broker is fenced until it heartbeats"
    );
}

fn reassign_rec(
    replicas: &[i32],
    adding: &[i32],
    removing: &[i32],
    isr: &[i32],
    leader: i32,
    epoch: i32,
) -> MetadataRecord {
    MetadataRecord::ReassignPartition {
        topic: "t".into(),
        partition: 0,
        replicas: replicas.to_vec(),
        adding_replicas: adding.to_vec(),
        removing_replicas: removing.to_vec(),
        isr: isr.to_vec(),
        leader,
        partition_epoch: epoch,
    }
}

#[test]
fn reassignment_records_are_validated_and_bump_epochs() {
    let mut img = MetadataImage::default();
    for id in 1..=3 {
        img.apply(&broker(id)).unwrap();
    }
    img.apply(&topic("t", vec![part(&[1, 2])])).unwrap();
    // Start [1, 2] → [2, 3]: the union, nothing else changes but the partition epoch.
    img.apply(&reassign_rec(&[2, 3, 1], &[3], &[1], &[1, 2], 1, 0))
        .unwrap();
    let p = img.partition("t", 0).unwrap().clone();
    assert_eq!(
        (p.leader, p.leader_epoch, p.partition_epoch),
        (1, 0, 1),
        "{p:?}"
    );
    assert!(p.is_reassigning());
    assert_eq!(p.target_replicas(), vec![2, 3]);
    assert_eq!(p.original_replicas(), vec![2, 1]);
    let before = img.clone();
    let bad = [
        (
            reassign_rec(&[2, 3, 1], &[3], &[1], &[1, 2], 1, 0),
            "stale epoch",
        ),
        (
            reassign_rec(&[2, 1], &[3], &[1], &[1, 2], 1, 1),
            "adding not a replica",
        ),
        (
            reassign_rec(&[2, 3, 1], &[3], &[3, 1], &[1, 2], 1, 1),
            "adding and removing overlap",
        ),
        (
            reassign_rec(&[2, 9, 1], &[9], &[1], &[1, 2], 1, 1),
            "unregistered broker",
        ),
        (
            reassign_rec(&[2, 3], &[], &[], &[1, 2], 1, 1),
            "ISR member not a replica",
        ),
        (
            reassign_rec(&[2, 3, 2], &[3], &[], &[2], 2, 1),
            "duplicate replica",
        ),
    ];
    for (rec, why) in bad {
        assert!(img.apply(&rec).is_err(), "{why}");
        assert_eq!(img, before, "{why}: state changed");
    }
    assert!(matches!(
        img.apply(&reassign_rec(&[2, 9, 1], &[9], &[1], &[1, 2], 1, 1)),
        Err(MetaError::InvalidReplicaAssignment(_))
    ));
    // Complete: the leader leaves the assignment, so a new one at the next leader epoch.
    img.apply(&reassign_rec(&[2, 3], &[], &[], &[2, 3], 2, 1))
        .unwrap();
    let p = img.partition("t", 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 2));
    assert!(!p.is_reassigning());
    // A replica leaving while the leader stays: same leader epoch.
    img.apply(&reassign_rec(&[2], &[], &[], &[2], 2, 2))
        .unwrap();
    let p = img.partition("t", 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 3));
}

#[test]
fn partitions_without_reassignment_fields_load_and_serialise_as_before() {
    let old = r#"{"replicas":[1,2],"isr":[1],"leader":1,"leader_epoch":3,"partition_epoch":7}"#;
    let p: PartitionInfo = serde_json::from_str(old).unwrap();
    assert_eq!(p.replicas, vec![1, 2]);
    assert!(p.adding_replicas.is_empty() && p.removing_replicas.is_empty());
    assert_eq!(serde_json::to_string(&p).unwrap(), old);
    let moving = PartitionInfo {
        adding_replicas: vec![3],
        ..p
    };
    let json = serde_json::to_string(&moving).unwrap();
    assert!(json.contains(r#""adding_replicas":[3]"#), "{json}");
    assert!(!json.contains("removing_replicas"), "{json}");
    assert_eq!(
        serde_json::from_str::<PartitionInfo>(&json).unwrap(),
        moving
    );
}

#[test]
fn the_first_cluster_id_wins_and_an_image_without_one_still_loads() {
    let old = r#"{"brokers":{},"topics":{},"broker_configs":{},"next_producer_id":5}"#;
    let mut img: MetadataImage = serde_json::from_str(old).unwrap();
    assert_eq!(img.cluster_id, None);
    let set = |id: &str| MetadataRecord::SetClusterId { id: id.into() };
    img.apply(&set("AAAAAAAAAAAAAAAAAAAAAA")).unwrap();
    img.apply(&set("AAAAAAAAAAAAAAAAAAAAAA")).unwrap();
    let before = img.clone();
    assert!(matches!(
        img.apply(&set("BBBBBBBBBBBBBBBBBBBBBB")),
        Err(MetaError::InvalidRequest(_))
    ));
    assert_eq!(img, before);
    let json = serde_json::to_string(&img).unwrap();
    assert_eq!(
        serde_json::from_str::<MetadataImage>(&json)
            .unwrap()
            .cluster_id,
        Some("AAAAAAAAAAAAAAAAAAAAAA".to_string())
    );
}

#[test]
fn create_partitions_applies_only_at_the_expected_count() {
    let mut img = MetadataImage::default();
    img.apply(&broker(1)).unwrap();
    img.apply(&topic("t", vec![part(&[1])])).unwrap();
    let grow = MetadataRecord::CreatePartitions {
        topic: "t".into(),
        partitions: vec![part(&[1])],
        expected_count: Some(1),
    };
    img.apply(&grow).unwrap();
    // The same proposal again (a retry after an unknown outcome) adds nothing.
    assert!(matches!(
        img.apply(&grow),
        Err(MetaError::InvalidPartitions(_))
    ));
    assert_eq!(img.topics["t"].partitions.len(), 2);
    // A record from before the field existed still deserialises (and applies unconditionally).
    let old = r#"{"CreatePartitions":{"topic":"t","partitions":[]}}"#;
    let rec: MetadataRecord = serde_json::from_str(old).unwrap();
    assert!(matches!(
        rec,
        MetadataRecord::CreatePartitions {
            expected_count: None,
            ..
        }
    ));
}

#[test]
fn acls_are_created_once_removed_and_survive_a_snapshot() {
    use crate::acl::*;
    let acl = AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: "p-".into(),
        pattern_type: PatternType::Prefixed,
        principal: "User:alice".into(),
        host: "*".into(),
        operation: AclOperation::Write,
        permission: AclPermission::Allow,
    };
    let mut img = MetadataImage::default();
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    img.apply(&MetadataRecord::CreateAcl {
        id: a,
        acl: acl.clone(),
    })
    .unwrap();
    // The same binding again (a retried proposal, another id): a no-op.
    img.apply(&MetadataRecord::CreateAcl {
        id: b,
        acl: acl.clone(),
    })
    .unwrap();
    assert_eq!(img.acls.len(), 1);
    // Another binding under a used id, or an invalid binding: refused, nothing changes.
    let other = AclBinding {
        operation: AclOperation::Read,
        ..acl.clone()
    };
    let before = img.clone();
    assert!(img
        .apply(&MetadataRecord::CreateAcl {
            id: a,
            acl: other.clone()
        })
        .is_err());
    let bad = AclBinding {
        pattern_type: PatternType::Match,
        ..acl.clone()
    };
    assert!(matches!(
        img.apply(&MetadataRecord::CreateAcl { id: b, acl: bad }),
        Err(MetaError::InvalidRequest(_))
    ));
    assert_eq!(img, before);
    img.apply(&MetadataRecord::CreateAcl { id: b, acl: other })
        .unwrap();
    // The snapshot is the image as JSON: ACLs survive it.
    let json = serde_json::to_vec(&img).unwrap();
    let back: MetadataImage = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, img);
    assert_eq!(back.acls.len(), 2);
    img.apply(&MetadataRecord::RemoveAcl { id: a }).unwrap();
    img.apply(&MetadataRecord::RemoveAcl { id: a }).unwrap();
    assert_eq!(img.acls.keys().copied().collect::<Vec<_>>(), vec![b]);
    // A snapshot from before ACLs existed (no `acls` field) still loads.
    let old: MetadataImage = serde_json::from_str(
        r#"{"brokers":{},"topics":{},"broker_configs":{},"next_producer_id":0}"#,
    )
    .unwrap();
    assert!(old.acls.is_empty());
}

#[test]
fn client_quota_records_apply_survive_a_snapshot_and_refuse_bad_values() {
    use crate::quota::{QuotaValue, CLIENT_ID, PRODUCER_BYTE_RATE};
    let entity: crate::quota::QuotaEntity = [(CLIENT_ID.to_string(), Some("slow".to_string()))]
        .into_iter()
        .collect();
    let rec = |key: &str, v: f64, remove: bool| MetadataRecord::ClientQuota {
        entity: entity.clone(),
        key: key.into(),
        value: QuotaValue(v),
        remove,
    };
    let mut img = MetadataImage::default();
    img.apply(&rec(PRODUCER_BYTE_RATE, 1048576.0, false))
        .unwrap();
    let before = img.clone();
    assert!(img.apply(&rec("bogus", 1.0, false)).is_err());
    assert!(img.apply(&rec(PRODUCER_BYTE_RATE, -1.0, false)).is_err());
    assert_eq!(img, before);
    let snap = serde_json::to_vec(&img).unwrap();
    let back: MetadataImage = serde_json::from_slice(&snap).unwrap();
    assert_eq!(
        back.quotas.get(&entity, PRODUCER_BYTE_RATE),
        Some(1048576.0)
    );
    img.apply(&rec(PRODUCER_BYTE_RATE, 0.0, true)).unwrap();
    assert!(img.quotas.is_empty());
    // A snapshot from before quotas existed still loads.
    let old: MetadataImage = serde_json::from_slice(&serde_json::to_vec(&img).unwrap()).unwrap();
    assert!(old.quotas.is_empty());
}

#[test]
fn broker_configs_per_node_and_cluster_default_apply_and_survive_a_snapshot() {
    let mut img = MetadataImage::default();
    let set =
        |resource: ConfigResource, key: &str, value: Option<&str>| MetadataRecord::SetConfig {
            resource,
            key: key.into(),
            value: value.map(String::from),
        };
    img.apply(&set(
        ConfigResource::BrokerDefault,
        "log.segment.bytes",
        Some("1048576"),
    ))
    .unwrap();
    img.apply(&set(
        ConfigResource::Broker(2),
        "log.retention.ms",
        Some("60000"),
    ))
    .unwrap();
    assert_eq!(
        img.broker_default_configs
            .get("log.segment.bytes")
            .map(String::as_str),
        Some("1048576")
    );
    assert_eq!(img.broker_configs[&2]["log.retention.ms"], "60000");
    let json = serde_json::to_string(&img).unwrap();
    let back: MetadataImage = serde_json::from_str(&json).unwrap();
    assert_eq!(back, img, "both kinds survive a snapshot");
    // Deleting the last override of a broker drops its entry; of the default, empties it.
    img.apply(&set(ConfigResource::Broker(2), "log.retention.ms", None))
        .unwrap();
    img.apply(&set(
        ConfigResource::BrokerDefault,
        "log.segment.bytes",
        None,
    ))
    .unwrap();
    assert!(img.broker_configs.is_empty());
    assert!(img.broker_default_configs.is_empty());
    // An image written before cluster defaults existed still loads.
    let old = r#"{"brokers":{},"topics":{},"broker_configs":{"1":{"a":"b"}},"next_producer_id":0}"#;
    let img: MetadataImage = serde_json::from_str(old).unwrap();
    assert!(img.broker_default_configs.is_empty());
    assert_eq!(img.broker_configs[&1]["a"], "b");
}

#[test]
fn only_a_fenced_registered_broker_can_be_unregistered() {
    let mut img = MetadataImage::default();
    img.apply(&broker(1)).unwrap();
    img.apply(&MetadataRecord::UnfenceBroker { id: 1 }).unwrap();
    let before = img.clone();
    assert!(matches!(
        img.apply(&MetadataRecord::UnregisterBroker { id: 1 }),
        Err(MetaError::InvalidRequest(_))
    ));
    assert!(matches!(
        img.apply(&MetadataRecord::UnregisterBroker { id: 7 }),
        Err(MetaError::BrokerIdNotRegistered(_))
    ));
    assert_eq!(img, before, "refusals change nothing");
    img.apply(&MetadataRecord::FenceBroker { id: 1 }).unwrap();
    img.apply(&MetadataRecord::UnregisterBroker { id: 1 })
        .unwrap();
    assert!(img.brokers.is_empty());
    // It may register again later.
    img.apply(&broker(1)).unwrap();
    assert!(img.brokers[&1].fenced);
}

#[test]
fn feature_levels_are_finalized_removed_at_zero_and_counted() {
    let mut img = MetadataImage::default();
    let level = |name: &str, level: i16| MetadataRecord::FeatureLevel {
        name: name.into(),
        level,
    };
    img.apply(&level("transaction.version", 1)).unwrap();
    assert_eq!(img.finalized_features["transaction.version"], 1);
    assert_eq!(img.features_epoch, 1);
    let before = img.clone();
    assert!(img.apply(&level("transaction.version", -1)).is_err());
    assert!(img.apply(&level("", 1)).is_err());
    assert_eq!(img, before);
    let json = serde_json::to_string(&img).unwrap();
    assert_eq!(serde_json::from_str::<MetadataImage>(&json).unwrap(), img);
    img.apply(&level("transaction.version", 0)).unwrap();
    assert!(img.finalized_features.is_empty());
    assert_eq!(img.features_epoch, 2);
}
