//! Server-side assignment of share groups (Kafka's `SimpleAssignor` for share groups): every
//! partition of a subscribed topic goes to at least one of its subscribers, every subscriber
//! of a topic gets at least one of its partitions, and many members may share a partition.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::TopicId;

/// What the assignor needs to know of a topic (from the broker's metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic's id.
    pub topic_id: TopicId,
    /// Its partition count.
    pub partitions: i32,
}

/// A member's assignment: topic id → partitions.
pub type Assignment = BTreeMap<TopicId, BTreeSet<i32>>;

/// Assign the topics each member subscribes to (`subscriptions`: member id → topic names;
/// topics missing from `topics` are ignored). Per topic, with its M subscribers in member-id
/// order and P partitions: when M >= P, member i gets partition i mod P (each partition shared
/// by about M/P members); when M < P, partition p goes to member p mod M (each member gets
/// about P/M partitions). So with one partition every subscriber gets it, and the result is
/// deterministic for the same members and metadata. Every member of `subscriptions` appears
/// in the result (possibly with an empty assignment).
pub fn assign(
    subscriptions: &BTreeMap<String, BTreeSet<String>>,
    topics: &BTreeMap<String, TopicMetadata>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = subscriptions
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    let mut subscribers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (member, names) in subscriptions {
        for name in names {
            subscribers.entry(name).or_default().push(member);
        }
    }
    for (name, members) in subscribers {
        let Some(meta) = topics.get(name) else {
            continue;
        };
        let p = usize::try_from(meta.partitions).unwrap_or(0);
        if p == 0 {
            continue;
        }
        let m = members.len();
        let mut give = |member: &str, partition: usize| {
            if let Some(a) = out.get_mut(member) {
                a.entry(meta.topic_id).or_default().insert(partition as i32);
            }
        };
        if m >= p {
            for (i, member) in members.iter().enumerate() {
                give(member, i % p);
            }
        } else {
            for partition in 0..p {
                give(members[partition % m], partition);
            }
        }
    }
    out
}
