//! Partitions of a broker's offline log dirs (Weir's form of KIP-858): a broker whose log dir
//! failed lists, in every heartbeat, the partitions it held there. The controller takes the
//! broker out of their ISRs and, where it led, elects another ISR member (or leaves the partition
//! leaderless when there is none, keeping the broker as the last ISR member as fencing does), so
//! leadership moves to replicas on other brokers while the broker keeps serving its other dirs.
//! Kafka's brokers send the ids of the offline dirs and the controller knows each replica's
//! directory; Weir's controller does not track directories, so the broker sends the partitions.

use crate::controller::pick_leader;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Records moving `broker` out of the leadership and ISR of each of `offline` (topic,
/// partition). Empty when it is already out of all of them (so repeating it every heartbeat
/// proposes nothing).
pub fn offline_replicas(
    image: &MetadataImage,
    broker: i32,
    offline: &[(String, i32)],
) -> Vec<MetadataRecord> {
    let live = |r: &i32| *r != broker && image.brokers.get(r).is_some_and(|b| !b.fenced);
    let mut out = Vec::new();
    for (topic, partition) in offline {
        let Some(p) = image.partition(topic, *partition) else {
            continue;
        };
        let isr: Vec<i32> = p.isr.iter().copied().filter(|r| *r != broker).collect();
        let (leader, isr) = if p.leader == broker {
            match pick_leader(&isr, p, live) {
                Some(l) => (Some(l), isr),
                None if isr.is_empty() => (Some(-1), vec![broker]),
                None => (Some(-1), isr),
            }
        } else if p.isr.contains(&broker) && !isr.is_empty() {
            (None, isr)
        } else {
            continue;
        };
        out.push(MetadataRecord::ChangePartition {
            topic: topic.clone(),
            partition: *partition,
            leader,
            isr: Some(isr),
            partition_epoch: Some(p.partition_epoch),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use super::*;
    use crate::records::PartitionInfo;

    fn image() -> MetadataImage {
        let mut img = MetadataImage::default();
        for id in 1..=3 {
            img.apply(&MetadataRecord::RegisterBroker {
                id,
                incarnation: Uuid::new_v4(),
                listeners: vec![],
                rack: None,
            })
            .unwrap();
            img.apply(&MetadataRecord::UnfenceBroker { id }).unwrap();
        }
        img.apply(&MetadataRecord::CreateTopic {
            name: "t".into(),
            id: Uuid::new_v4(),
            partitions: vec![
                PartitionInfo::new(vec![1, 2, 3]),
                PartitionInfo::new(vec![2, 1, 3]),
                PartitionInfo::new(vec![1]),
            ],
            configs: BTreeMap::new(),
        })
        .unwrap();
        img
    }

    #[test]
    fn leadership_moves_to_another_isr_member_and_the_broker_leaves_the_isr() {
        let mut img = image();
        let offline = vec![
            ("t".to_string(), 0),
            ("t".to_string(), 1),
            ("t".to_string(), 2),
        ];
        let recs = offline_replicas(&img, 1, &offline);
        assert_eq!(recs.len(), 3);
        for r in &recs {
            img.apply(r).unwrap();
        }
        let p0 = img.partition("t", 0).unwrap();
        assert_eq!((p0.leader, p0.isr.clone()), (2, vec![2, 3]));
        let p1 = img.partition("t", 1).unwrap();
        assert_eq!((p1.leader, p1.isr.clone()), (2, vec![2, 3]));
        // The only replica: leaderless, the broker stays the last ISR member.
        let p2 = img.partition("t", 2).unwrap();
        assert_eq!((p2.leader, p2.isr.clone()), (-1, vec![1]));
        assert!(
            offline_replicas(&img, 1, &offline).is_empty(),
            "nothing more to do"
        );
    }
}
