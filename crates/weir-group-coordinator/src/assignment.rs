//! The consumer protocol's subscription and assignment bytes (classic groups carry them opaquely;
//! the coordinator only reads topic names out of them), and the server-side assignors of KIP-848
//! groups: `uniform` (balanced and sticky) and `range` (contiguous ranges per topic).

use std::collections::{BTreeMap, BTreeSet};

use bytes::{BufMut, Bytes};

/// Partitions per topic, as assigned to one member.
pub type TopicPartitions = BTreeMap<String, BTreeSet<i32>>;

fn read_i16(b: &[u8], pos: &mut usize) -> Option<i16> {
    let s = b.get(*pos..*pos + 2)?;
    *pos += 2;
    Some(i16::from_be_bytes([s[0], s[1]]))
}

fn read_i32(b: &[u8], pos: &mut usize) -> Option<i32> {
    let s = b.get(*pos..*pos + 4)?;
    *pos += 4;
    Some(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn read_str(b: &[u8], pos: &mut usize) -> Option<String> {
    let len = read_i16(b, pos)?;
    let s = b.get(*pos..*pos + usize::try_from(len).ok()?)?;
    *pos += s.len();
    String::from_utf8(s.to_vec()).ok()
}

/// The topics of a ConsumerProtocolSubscription (any version; only the leading fields are
/// read). Garbage yields an empty list.
pub fn decode_subscription(b: &[u8]) -> Vec<String> {
    let mut pos = 0;
    let mut out = Vec::new();
    let Some(_version) = read_i16(b, &mut pos) else {
        return out;
    };
    let Some(n) = read_i32(b, &mut pos) else {
        return out;
    };
    for _ in 0..n.max(0) {
        match read_str(b, &mut pos) {
            Some(t) => out.push(t),
            None => return Vec::new(),
        }
    }
    out
}

/// Encode a ConsumerProtocolAssignment v0 (no user data).
pub fn encode_assignment(a: &TopicPartitions) -> Bytes {
    let mut out = Vec::new();
    out.put_i16(0);
    out.put_i32(a.len() as i32);
    for (topic, parts) in a {
        out.put_i16(topic.len() as i16);
        out.extend_from_slice(topic.as_bytes());
        out.put_i32(parts.len() as i32);
        for p in parts {
            out.put_i32(*p);
        }
    }
    out.put_i32(-1);
    Bytes::from(out)
}

/// Decode a ConsumerProtocolAssignment; None for garbage.
pub fn decode_assignment(b: &[u8]) -> Option<TopicPartitions> {
    let mut pos = 0;
    let mut out = TopicPartitions::new();
    read_i16(b, &mut pos)?;
    let n = read_i32(b, &mut pos)?;
    for _ in 0..n.max(0) {
        let topic = read_str(b, &mut pos)?;
        let count = read_i32(b, &mut pos)?;
        let set = out.entry(topic).or_default();
        for _ in 0..count.max(0) {
            set.insert(read_i32(b, &mut pos)?);
        }
    }
    Some(out)
}

/// One member's input to a server-side assignor.
#[derive(Debug, Clone)]
pub struct AssignorMember {
    /// Member id.
    pub id: String,
    /// Subscribed topics that exist.
    pub topics: BTreeSet<String>,
    /// Current assignment (for stickiness).
    pub current: TopicPartitions,
}

/// `uniform`: every subscribed partition goes to exactly one subscribed member, counts differ by
/// at most one among members with the same subscription, and partitions stay with their current
/// owner when that keeps the balance.
pub fn assign_uniform(
    members: &[AssignorMember],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, TopicPartitions> {
    let mut out: BTreeMap<String, TopicPartitions> = members
        .iter()
        .map(|m| (m.id.clone(), TopicPartitions::new()))
        .collect();
    let all: Vec<(String, i32)> = partitions
        .iter()
        .filter(|(t, _)| members.iter().any(|m| m.topics.contains(*t)))
        .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
        .collect();
    if members.is_empty() {
        return out;
    }
    let cap = all.len().div_ceil(members.len());
    let mut counts: BTreeMap<&str, usize> = members.iter().map(|m| (m.id.as_str(), 0)).collect();
    let mut left = Vec::new();
    for (t, p) in all {
        let keeper = members.iter().find(|m| {
            m.topics.contains(&t)
                && m.current.get(&t).is_some_and(|s| s.contains(&p))
                && counts[m.id.as_str()] < cap
        });
        match keeper {
            Some(m) => {
                *counts.get_mut(m.id.as_str()).unwrap_or(&mut 0) += 1;
                out.entry(m.id.clone())
                    .or_default()
                    .entry(t)
                    .or_default()
                    .insert(p);
            }
            None => left.push((t, p)),
        }
    }
    for (t, p) in left {
        let target = members
            .iter()
            .filter(|m| m.topics.contains(&t))
            .min_by_key(|m| (counts[m.id.as_str()], m.id.clone()));
        if let Some(m) = target {
            *counts.get_mut(m.id.as_str()).unwrap_or(&mut 0) += 1;
            out.entry(m.id.clone())
                .or_default()
                .entry(t)
                .or_default()
                .insert(p);
        }
    }
    out
}

/// `range`: per topic, the subscribed members (sorted by id) get contiguous ranges, the first
/// `partitions % members` one partition more.
pub fn assign_range(
    members: &[AssignorMember],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, TopicPartitions> {
    let mut out: BTreeMap<String, TopicPartitions> = members
        .iter()
        .map(|m| (m.id.clone(), TopicPartitions::new()))
        .collect();
    for (topic, n) in partitions {
        let mut subs: Vec<&AssignorMember> = members
            .iter()
            .filter(|m| m.topics.contains(topic))
            .collect();
        if subs.is_empty() {
            continue;
        }
        subs.sort_by(|a, b| a.id.cmp(&b.id));
        let per = *n as usize / subs.len();
        let extra = *n as usize % subs.len();
        let mut next = 0i32;
        for (i, m) in subs.iter().enumerate() {
            let take = per + usize::from(i < extra);
            let set: BTreeSet<i32> = (next..next + take as i32).collect();
            next += take as i32;
            if !set.is_empty() {
                out.entry(m.id.clone())
                    .or_default()
                    .insert(topic.clone(), set);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> AssignorMember {
        AssignorMember {
            id: id.into(),
            topics: topics.iter().map(|s| s.to_string()).collect(),
            current: TopicPartitions::new(),
        }
    }

    fn owners(a: &BTreeMap<String, TopicPartitions>) -> Vec<(String, i32, String)> {
        let mut v: Vec<_> = a
            .iter()
            .flat_map(|(m, tp)| {
                tp.iter()
                    .flat_map(move |(t, ps)| ps.iter().map(move |p| (t.clone(), *p, m.clone())))
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn uniform_is_balanced_complete_and_sticky() {
        let parts: BTreeMap<String, i32> = [("t".to_string(), 6)].into();
        let ms = vec![
            member("a", &["t"]),
            member("b", &["t"]),
            member("c", &["t"]),
        ];
        let a = assign_uniform(&ms, &parts);
        let o = owners(&a);
        assert_eq!(o.len(), 6, "every partition exactly once");
        assert!(a.values().all(|tp| tp["t"].len() == 2));
        // c leaves: a and b keep what they had and share c's partitions.
        let mut ms2 = vec![member("a", &["t"]), member("b", &["t"])];
        ms2[0].current = a["a"].clone();
        ms2[1].current = a["b"].clone();
        let b = assign_uniform(&ms2, &parts);
        assert!(a["a"]["t"].is_subset(&b["a"]["t"]));
        assert!(a["b"]["t"].is_subset(&b["b"]["t"]));
        assert_eq!(owners(&b).len(), 6);
    }

    #[test]
    fn range_gives_contiguous_ranges() {
        let parts: BTreeMap<String, i32> = [("t".to_string(), 5)].into();
        let a = assign_range(&[member("b", &["t"]), member("a", &["t"])], &parts);
        assert_eq!(a["a"]["t"], [0, 1, 2].into());
        assert_eq!(a["b"]["t"], [3, 4].into());
    }

    #[test]
    fn assignment_round_trips_and_garbage_is_none() {
        let mut tp = TopicPartitions::new();
        tp.insert("t".into(), [1, 3].into());
        assert_eq!(decode_assignment(&encode_assignment(&tp)), Some(tp));
        assert_eq!(decode_assignment(&[0, 0, 0, 0, 0, 9, 0]), None);
        assert!(decode_subscription(&[0, 1, 0, 0, 0, 5, 0, 1, b'x']).is_empty());
        assert_eq!(
            decode_subscription(&[0, 1, 0, 0, 0, 1, 0, 1, b'x', 255, 255, 255, 255]),
            vec!["x".to_string()]
        );
    }
}
