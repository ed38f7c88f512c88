//! Tests of share-group membership and assignment.

use std::collections::{BTreeMap, BTreeSet};

use crate::*;

const T1: TopicId = TopicId([1; 16]);
const T2: TopicId = TopicId([2; 16]);

fn topics(p1: i32, p2: i32) -> BTreeMap<String, TopicMetadata> {
    [
        (
            "t1".to_string(),
            TopicMetadata {
                topic_id: T1,
                partitions: p1,
            },
        ),
        (
            "t2".to_string(),
            TopicMetadata {
                topic_id: T2,
                partitions: p2,
            },
        ),
    ]
    .into_iter()
    .collect()
}

fn config() -> ShareGroupConfig {
    ShareGroupConfig::default()
}

fn req(member: &str, epoch: i32, subs: Option<&[&str]>) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        rack_id: None,
        subscribed_topic_names: subs.map(|s| s.iter().map(|t| t.to_string()).collect()),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
    }
}

fn hb(
    g: &mut ShareGroups,
    r: &HeartbeatRequest,
    md: &BTreeMap<String, TopicMetadata>,
    now: i64,
) -> HeartbeatResponse {
    g.heartbeat(r, &config(), md, now).unwrap()
}

/// Partitions of T1 in a response's assignment.
fn parts(resp: &HeartbeatResponse) -> Vec<i32> {
    resp.assignment
        .as_ref()
        .expect("assignment")
        .iter()
        .find(|(t, _)| *t == T1)
        .map(|(_, p)| p.clone())
        .unwrap_or_default()
}

#[test]
fn assignor_shares_partitions_among_all_subscribers() {
    let subs = |n: usize| -> BTreeMap<String, BTreeSet<String>> {
        (0..n)
            .map(|i| (format!("m{i}"), ["t1".to_string()].into_iter().collect()))
            .collect()
    };
    let got = |members: usize, partitions: i32| -> Vec<Vec<i32>> {
        assign(&subs(members), &topics(partitions, 1))
            .values()
            .map(|a| {
                a.get(&T1)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(got(1, 1), vec![vec![0]]);
    assert_eq!(got(2, 1), vec![vec![0], vec![0]]);
    assert_eq!(got(3, 1), vec![vec![0], vec![0], vec![0]]);
    assert_eq!(got(1, 4), vec![vec![0, 1, 2, 3]]);
    assert_eq!(got(2, 4), vec![vec![0, 2], vec![1, 3]]);
    assert_eq!(got(3, 4), vec![vec![0, 3], vec![1], vec![2]]);
    assert_eq!(got(5, 2), vec![vec![0], vec![1], vec![0], vec![1], vec![0]]);
    // Only subscribers of a topic get it; unknown topics are ignored.
    let mut s = subs(2);
    s.get_mut("m1").unwrap().insert("t2".into());
    s.get_mut("m0").unwrap().insert("nope".into());
    let a = assign(&s, &topics(1, 3));
    assert_eq!(a["m0"].get(&T2), None);
    assert_eq!(a["m1"][&T2], [0, 1, 2].into_iter().collect());
    assert_eq!(a["m0"][&T1], [0].into_iter().collect());
}

#[test]
fn members_join_and_are_assigned_at_the_new_epoch() {
    let md = topics(4, 1);
    let mut g = ShareGroups::new(DEFAULT_GROUP_MAX_SIZE);
    let a = hb(&mut g, &req("a", 0, Some(&["t1"])), &md, 0);
    assert_eq!((a.member_epoch, a.heartbeat_interval_ms), (1, 5_000));
    assert_eq!(parts(&a), vec![0, 1, 2, 3]);
    // A steady heartbeat carries no assignment.
    let again = hb(&mut g, &req("a", 1, None), &md, 100);
    assert_eq!((again.member_epoch, again.assignment), (1, None));
    let b = hb(&mut g, &req("b", 0, Some(&["t1"])), &md, 200);
    assert_eq!((b.member_epoch, parts(&b)), (2, vec![1, 3]));
    let a = hb(&mut g, &req("a", 1, None), &md, 300);
    assert_eq!((a.member_epoch, parts(&a)), (2, vec![0, 2]));
    let c = hb(&mut g, &req("c", 0, Some(&["t1"])), &md, 400);
    assert_eq!((c.member_epoch, parts(&c)), (3, vec![2]));
    let a = hb(&mut g, &req("a", 2, None), &md, 500);
    let b = hb(&mut g, &req("b", 2, None), &md, 500);
    assert_eq!((parts(&a), parts(&b)), (vec![0, 3], vec![1]));
    let d = g.describe("g").unwrap();
    assert_eq!(
        (d.state, d.group_epoch, d.assignment_epoch, d.members.len()),
        ("Stable", 3, 3, 3)
    );
    assert_eq!(d.members[2].member_id, "c");
    assert_eq!(d.members[2].subscribed_topic_names, vec!["t1".to_string()]);
    assert_eq!(d.members[0].client_host, "/127.0.0.1");
}

#[test]
fn every_member_gets_the_single_partition() {
    let md = topics(1, 1);
    let mut g = ShareGroups::new(10);
    for (i, m) in ["a", "b", "c"].into_iter().enumerate() {
        let r = hb(&mut g, &req(m, 0, Some(&["t1"])), &md, 0);
        assert_eq!((r.member_epoch, parts(&r)), (i as i32 + 1, vec![0]));
    }
    let d = g.describe("g").unwrap();
    assert!(d
        .members
        .iter()
        .all(|m| m.assignment == vec![(T1, vec![0])] || m.member_epoch < 3));
}

#[test]
fn wrong_epochs_are_fenced_and_unknown_members_rejected() {
    let md = topics(2, 1);
    let mut g = ShareGroups::new(10);
    hb(&mut g, &req("a", 0, Some(&["t1"])), &md, 0);
    let e = g
        .heartbeat(&req("a", 7, None), &config(), &md, 0)
        .unwrap_err();
    assert_eq!(e.code(), 110);
    assert_eq!(
        g.heartbeat(&req("z", 1, None), &config(), &md, 0)
            .unwrap_err()
            .code(),
        25
    );
    // A group that does not exist: GROUP_ID_NOT_FOUND for a heartbeat and a leave, as Kafka.
    for epoch in [1, -1] {
        let mut other = req("a", epoch, None);
        other.group_id = "unknown".into();
        assert_eq!(
            g.heartbeat(&other, &config(), &md, 0).unwrap_err().code(),
            69
        );
    }
    assert_eq!(
        g.describe("unknown").unwrap_err().code(),
        69,
        "nothing created"
    );
    assert_eq!(
        g.heartbeat(&req("z", -1, None), &config(), &md, 0)
            .unwrap_err()
            .code(),
        25
    );
    assert_eq!(
        g.heartbeat(&req("b", 0, None), &config(), &md, 0)
            .unwrap_err()
            .code(),
        42
    );
    assert_eq!(
        g.heartbeat(&req("", 0, Some(&["t1"])), &config(), &md, 0)
            .unwrap_err()
            .code(),
        42
    );
    assert_eq!(
        g.heartbeat(&req("a", -2, None), &config(), &md, 0)
            .unwrap_err()
            .code(),
        42
    );
    let mut no_group = req("a", 0, Some(&["t1"]));
    no_group.group_id.clear();
    assert_eq!(
        g.heartbeat(&no_group, &config(), &md, 0)
            .unwrap_err()
            .code(),
        24
    );
    assert_eq!(g.describe("unknown").unwrap_err().code(), 69);
    // Rejoining with epoch 0 starts the member over at a new epoch.
    let r = hb(&mut g, &req("a", 0, Some(&["t1"])), &md, 0);
    assert_eq!((r.member_epoch, parts(&r)), (2, vec![0, 1]));
}

#[test]
fn leaving_reassigns_the_rest() {
    let md = topics(2, 1);
    let mut g = ShareGroups::new(10);
    hb(&mut g, &req("a", 0, Some(&["t1"])), &md, 0);
    hb(&mut g, &req("b", 0, Some(&["t1"])), &md, 0);
    let left = hb(&mut g, &req("a", -1, None), &md, 0);
    assert_eq!((left.member_epoch, left.assignment), (-1, None));
    let b = hb(&mut g, &req("b", 2, None), &md, 0);
    assert_eq!((b.member_epoch, parts(&b)), (3, vec![0, 1]));
    hb(&mut g, &req("b", -1, None), &md, 0);
    let d = g.describe("g").unwrap();
    assert_eq!((d.state, d.group_epoch, d.members.len()), ("Empty", 4, 0));
    assert_eq!(g.group_ids(), vec!["g".to_string()]);
}

#[test]
fn expired_sessions_are_removed_and_reported() {
    let md = topics(4, 1);
    let mut g = ShareGroups::new(10);
    hb(&mut g, &req("a", 0, Some(&["t1"])), &md, 0);
    hb(&mut g, &req("b", 0, Some(&["t1"])), &md, 1_000);
    hb(&mut g, &req("a", 1, None), &md, 10_000);
    assert_eq!(g.next_session_deadline(), Some(46_000));
    assert!(g.expire_members(&md, 45_999).is_empty());
    let gone = g.expire_members(&md, 46_000);
    assert_eq!(
        gone,
        vec![ExpiredMember {
            group_id: "g".into(),
            member_id: "b".into(),
            assignment: vec![(T1, vec![1, 3])],
        }]
    );
    assert_eq!(
        g.heartbeat(&req("b", 2, None), &config(), &md, 46_001)
            .unwrap_err()
            .code(),
        25
    );
    let a = hb(&mut g, &req("a", 2, None), &md, 46_001);
    assert_eq!((a.member_epoch, parts(&a)), (3, vec![0, 1, 2, 3]));
    assert_eq!(g.expire_members(&md, 91_001).len(), 1);
    assert_eq!(g.next_session_deadline(), None);
}

#[test]
fn subscription_and_metadata_changes_bump_the_epoch() {
    let mut g = ShareGroups::new(10);
    let md = topics(2, 3);
    hb(&mut g, &req("a", 0, Some(&["t1"])), &md, 0);
    let r = hb(&mut g, &req("a", 1, Some(&["t1", "t2"])), &md, 0);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(
        r.assignment.unwrap(),
        vec![(T1, vec![0, 1]), (T2, vec![0, 1, 2])]
    );
    // Same subscription: nothing changes.
    assert_eq!(
        hb(&mut g, &req("a", 2, Some(&["t2", "t1"])), &md, 0).assignment,
        None
    );
    // More partitions: the next heartbeat gets them.
    let grown = topics(3, 3);
    let r = hb(&mut g, &req("a", 2, None), &grown, 0);
    assert_eq!((r.member_epoch, parts(&r)), (3, vec![0, 1, 2]));
}

#[test]
fn the_group_size_is_bounded() {
    let md = topics(1, 1);
    let mut g = ShareGroups::new(2);
    hb(&mut g, &req("a", 0, Some(&["t1"])), &md, 0);
    hb(&mut g, &req("b", 0, Some(&["t1"])), &md, 0);
    let e = g
        .heartbeat(&req("c", 0, Some(&["t1"])), &config(), &md, 0)
        .unwrap_err();
    assert_eq!(e.code(), 81);
    // A known member may rejoin.
    assert_eq!(
        hb(&mut g, &req("b", 0, Some(&["t1"])), &md, 0).member_epoch,
        3
    );
    g.drop_groups(|id| id == "g");
    assert!(g.group_ids().is_empty());
}
