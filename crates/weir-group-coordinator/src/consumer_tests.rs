//! Deterministic tests of KIP-848 reconciliation (time is a plain number).

use super::*;

fn topics() -> BTreeMap<String, i32> {
    [("t".to_string(), 6)].into()
}

fn assignors() -> Vec<String> {
    vec!["uniform".into(), "range".into()]
}

fn hb(id: &str, epoch: i32, owned: Option<TopicPartitions>) -> HeartbeatParams {
    HeartbeatParams {
        member_id: id.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: 30_000,
        subscribed: (epoch == 0).then(|| ["t".to_string()].into()),
        owned,
        ..Default::default()
    }
}

fn count(tp: &TopicPartitions) -> usize {
    tp.values().map(BTreeSet::len).sum()
}

#[test]
fn partitions_move_only_after_the_old_owner_revoked_them() {
    let mut g = ConsumerGroup::new("g");
    let a = g.heartbeat(hb("a", 0, None), 0, &topics(), &assignors());
    assert_eq!(a.error, 0);
    assert_eq!(
        count(a.assignment.as_ref().unwrap()),
        6,
        "alone: everything"
    );
    let a_epoch = a.member_epoch;
    let a_owned = a.assignment.clone();
    let b = g.heartbeat(hb("b", 0, None), 1, &topics(), &assignors());
    assert_eq!(
        count(b.assignment.as_ref().unwrap()),
        0,
        "a still owns everything"
    );
    // a learns it must give up three partitions, keeping its epoch until it confirms.
    let a2 = g.heartbeat(hb("a", a_epoch, a_owned), 2, &topics(), &assignors());
    let kept = a2.assignment.clone().unwrap();
    assert_eq!(count(&kept), 3);
    assert_eq!(a2.member_epoch, a_epoch);
    let b2 = g.heartbeat(hb("b", b.member_epoch, None), 3, &topics(), &assignors());
    assert!(
        b2.assignment.is_none() || count(b2.assignment.as_ref().unwrap()) == 0,
        "not before a confirmed the revocation"
    );
    let a3 = g.heartbeat(
        hb("a", a_epoch, Some(kept.clone())),
        4,
        &topics(),
        &assignors(),
    );
    assert!(a3.member_epoch > a_epoch, "a reached the new epoch");
    let b3 = g.heartbeat(hb("b", b2.member_epoch, None), 5, &topics(), &assignors());
    let b_got = b3.assignment.unwrap();
    assert_eq!(count(&b_got), 3);
    for (t, ps) in &b_got {
        assert!(ps.is_disjoint(&kept[t]), "no partition has two owners");
    }
    assert_eq!(g.state_name(), "Stable");
}

#[test]
fn wrong_epochs_and_unknown_members_are_fenced() {
    let mut g = ConsumerGroup::new("g");
    let a = g.heartbeat(hb("a", 0, None), 0, &topics(), &assignors());
    let bad = g.heartbeat(
        hb("a", a.member_epoch + 5, None),
        1,
        &topics(),
        &assignors(),
    );
    assert_eq!(bad.error, ResponseError::FencedMemberEpoch.code());
    let unknown = g.heartbeat(hb("zz", 3, None), 1, &topics(), &assignors());
    assert_eq!(unknown.error, ResponseError::UnknownMemberId.code());
    let mut p = hb("c", 0, None);
    p.assignor = Some("sticky".into());
    assert_eq!(
        g.heartbeat(p, 1, &topics(), &assignors()).error,
        ResponseError::UnsupportedAssignor.code()
    );
    let mut p = hb("d", 0, None);
    p.subscribed = None;
    assert_eq!(
        g.heartbeat(p, 1, &topics(), &assignors()).error,
        ResponseError::InvalidRequest.code()
    );
}

#[test]
fn silent_members_are_removed_after_the_session_timeout() {
    let mut g = ConsumerGroup::new("g");
    g.heartbeat(hb("a", 0, None), 0, &topics(), &assignors());
    g.heartbeat(hb("b", 0, None), 0, &topics(), &assignors());
    let before = g.group_epoch;
    g.tick(45_000, 45_000, &topics(), &assignors());
    assert_eq!(g.members.len(), 2, "exactly the timeout is still alive");
    g.tick(45_001, 45_000, &topics(), &assignors());
    assert!(g.members.is_empty());
    assert!(g.group_epoch > before);
    assert_eq!(g.state_name(), "Empty");
}

#[test]
fn leaving_frees_the_partitions_for_the_others() {
    let mut g = ConsumerGroup::new("g");
    let a = g.heartbeat(hb("a", 0, None), 0, &topics(), &assignors());
    let left = g.heartbeat(hb("a", -1, None), 1, &topics(), &assignors());
    assert_eq!((left.error, left.member_epoch), (0, -1));
    assert!(a.member_epoch >= 1);
    let b = g.heartbeat(hb("b", 0, None), 2, &topics(), &assignors());
    assert_eq!(count(b.assignment.as_ref().unwrap()), 6);
}
