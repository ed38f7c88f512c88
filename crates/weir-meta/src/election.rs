//! Leader elections an operator asks for (ElectLeaders, KIP-460): preferred — give a partition
//! back to its first replica — and unclean — give a leaderless partition to any live replica.
//! Sans-IO: the decision is a record to propose or the reason there is none.

use crate::controller::pick_leader;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Which election an operator asks for (Kafka's `ElectionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// The first replica (of the target replicas during a reassignment) becomes leader if it is
    /// live and in the ISR.
    Preferred,
    /// A partition without a leader gets an unfenced ISR member, else any unfenced replica, which
    /// becomes the whole ISR (records acknowledged only by the lost ISR may be gone).
    Unclean,
}

/// What electing one partition's leader comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Election {
    /// Propose this record; `unclean` when the new leader was not in the ISR.
    Elect {
        /// The leader change (partition-epoch checked when applied).
        record: MetadataRecord,
        /// True when the leader comes from outside the ISR.
        unclean: bool,
    },
    /// The partition already has the leader this election would give it (ELECTION_NOT_NEEDED).
    NotNeeded,
    /// The preferred replica is fenced or out of the ISR (PREFERRED_LEADER_NOT_AVAILABLE).
    PreferredNotAvailable,
    /// No live replica can lead (ELIGIBLE_LEADERS_NOT_AVAILABLE).
    NoEligibleLeader,
    /// No such topic or partition (UNKNOWN_TOPIC_OR_PARTITION).
    Unknown,
}

/// Decide `kind` for `topic`-`partition` on `image`.
pub fn elect(image: &MetadataImage, topic: &str, partition: i32, kind: ElectionType) -> Election {
    let Some(p) = image
        .topics
        .get(topic)
        .and_then(|t| t.partitions.get(usize::try_from(partition).ok()?))
    else {
        return Election::Unknown;
    };
    let live = |r: &i32| image.brokers.get(r).is_some_and(|b| !b.fenced);
    let change = |leader: i32, isr: Option<Vec<i32>>| MetadataRecord::ChangePartition {
        topic: topic.to_string(),
        partition,
        leader: Some(leader),
        isr,
        partition_epoch: Some(p.partition_epoch),
    };
    match kind {
        ElectionType::Preferred => {
            let Some(&pref) = p.target_replicas().first() else {
                return Election::NoEligibleLeader;
            };
            if p.leader == pref {
                Election::NotNeeded
            } else if live(&pref) && p.isr.contains(&pref) {
                Election::Elect {
                    record: change(pref, None),
                    unclean: false,
                }
            } else {
                Election::PreferredNotAvailable
            }
        }
        ElectionType::Unclean => {
            if p.leader >= 0 {
                return Election::NotNeeded;
            }
            if let Some(l) = pick_leader(&p.isr, p, live) {
                return Election::Elect {
                    record: change(l, Some(p.isr.clone())),
                    unclean: false,
                };
            }
            match pick_leader(&p.original_replicas(), p, live) {
                Some(l) => Election::Elect {
                    record: change(l, Some(vec![l])),
                    unclean: true,
                },
                None => Election::NoEligibleLeader,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use super::*;
    use crate::records::PartitionInfo;

    /// Brokers 1–3 live; topic "t" with one partition of `replicas`, led by `leader` with `isr`.
    fn image_with(replicas: Vec<i32>, leader: i32, isr: Vec<i32>) -> MetadataImage {
        let mut img = MetadataImage::default();
        for id in 1..=3 {
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
            id: Uuid::from_u128(9),
            partitions: vec![PartitionInfo::new(replicas)],
            configs: BTreeMap::new(),
        })
        .unwrap();
        let p = &mut img.topics.get_mut("t").unwrap().partitions[0];
        p.leader = leader;
        p.isr = isr;
        img
    }

    fn fence(img: &mut MetadataImage, id: i32) {
        img.brokers.get_mut(&id).unwrap().fenced = true;
    }

    #[test]
    fn preferred_election_needs_the_first_replica_live_and_in_the_isr() {
        let mut image = image_with(vec![2, 1, 3], 2, vec![2, 1, 3]);
        // The preferred replica 2 leads: nothing to do.
        assert_eq!(
            elect(&image, "t", 0, ElectionType::Preferred),
            Election::NotNeeded
        );
        image.topics.get_mut("t").unwrap().partitions[0].leader = 1;
        match elect(&image, "t", 0, ElectionType::Preferred) {
            Election::Elect {
                record: MetadataRecord::ChangePartition { leader, isr, .. },
                unclean,
            } => {
                assert_eq!((leader, isr, unclean), (Some(2), None, false));
            }
            other => panic!("{other:?}"),
        }
        image.topics.get_mut("t").unwrap().partitions[0].isr = vec![1, 3];
        assert_eq!(
            elect(&image, "t", 0, ElectionType::Preferred),
            Election::PreferredNotAvailable
        );
        image.topics.get_mut("t").unwrap().partitions[0].isr = vec![1, 2, 3];
        fence(&mut image, 2);
        assert_eq!(
            elect(&image, "t", 0, ElectionType::Preferred),
            Election::PreferredNotAvailable
        );
        assert_eq!(
            elect(&image, "t", 1, ElectionType::Preferred),
            Election::Unknown
        );
        assert_eq!(
            elect(&image, "nope", 0, ElectionType::Preferred),
            Election::Unknown
        );
    }

    #[test]
    fn unclean_election_prefers_the_isr_then_any_live_replica() {
        let mut image = image_with(vec![1, 2, 3], 1, vec![1, 2]);
        assert_eq!(
            elect(&image, "t", 0, ElectionType::Unclean),
            Election::NotNeeded
        );
        let p = &mut image.topics.get_mut("t").unwrap().partitions[0];
        p.leader = -1;
        p.isr = vec![1];
        fence(&mut image, 1);
        match elect(&image, "t", 0, ElectionType::Unclean) {
            Election::Elect {
                record: MetadataRecord::ChangePartition { leader, isr, .. },
                unclean,
            } => {
                assert_eq!((leader, isr, unclean), (Some(2), Some(vec![2]), true));
            }
            other => panic!("{other:?}"),
        }
        fence(&mut image, 2);
        fence(&mut image, 3);
        assert_eq!(
            elect(&image, "t", 0, ElectionType::Unclean),
            Election::NoEligibleLeader
        );
    }
}
