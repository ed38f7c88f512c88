//! Deterministic tests of the classic group state machine (time is a plain number).

use super::*;

const LIMITS: ClassicLimits = ClassicLimits {
    min_session_timeout_ms: 6_000,
    max_session_timeout_ms: 1_800_000,
    initial_rebalance_delay_ms: 3_000,
    max_size: 100,
};

fn params(member_id: &str, instance: Option<&str>) -> JoinParams {
    JoinParams {
        member_id: member_id.into(),
        instance_id: instance.map(String::from),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"sub"))],
        require_known_member_id: true,
    }
}

/// Deliver effects like the coordinator does (without persistence).
fn deliver(fx: Effects) -> bool {
    for (tx, o) in fx.joins {
        let _ = tx.send(o);
    }
    for (tx, o) in fx.syncs {
        let _ = tx.send(o);
    }
    fx.persist
}

fn join(g: &mut ClassicGroup, p: JoinParams, now: Ms) -> oneshot::Receiver<JoinOutcome> {
    let (tx, rx) = oneshot::channel();
    deliver(g.join(p, now, &LIMITS, tx));
    rx
}

/// A new dynamic member: MEMBER_ID_REQUIRED first, then the real join.
fn join_new(g: &mut ClassicGroup, now: Ms) -> (String, oneshot::Receiver<JoinOutcome>) {
    let mut rx = join(g, params("", None), now);
    let o = rx.try_recv().expect("answered at once");
    assert_eq!(o.error, ResponseError::MemberIdRequired.code());
    let id = o.member_id;
    let rx = join(g, params(&id, None), now);
    (id, rx)
}

fn sync(
    g: &mut ClassicGroup,
    id: &str,
    gen: i32,
    a: Vec<(String, Bytes)>,
    now: Ms,
) -> (oneshot::Receiver<SyncOutcome>, bool) {
    let (tx, rx) = oneshot::channel();
    let persist = deliver(g.sync(id, None, gen, a, now, &LIMITS, tx));
    (rx, persist)
}

#[test]
fn initial_delay_then_generation_one_with_a_leader_and_assignment() {
    let mut g = ClassicGroup::new("g", 0);
    let (a, mut ra) = join_new(&mut g, 0);
    assert_eq!(g.state, ClassicState::PreparingRebalance);
    deliver(g.tick(1_000, &LIMITS));
    assert!(ra.try_recv().is_err(), "initial delay holds the join");
    let (b, mut rb) = join_new(&mut g, 2_000);
    deliver(g.tick(4_999, &LIMITS));
    assert!(ra.try_recv().is_err(), "a new member extended the delay");
    deliver(g.tick(5_000, &LIMITS));
    let oa = ra.try_recv().unwrap();
    let ob = rb.try_recv().unwrap();
    assert_eq!((oa.error, oa.generation, ob.generation), (0, 1, 1));
    assert_eq!(oa.leader, ob.leader);
    let (leader, follower) = if oa.leader == a { (a, b) } else { (b, a) };
    let leader_members = if oa.leader == oa.member_id {
        &oa.members
    } else {
        &ob.members
    };
    assert_eq!(leader_members.len(), 2, "the leader sees every member");
    assert_eq!(g.state, ClassicState::CompletingRebalance);
    let (mut rf, _) = sync(&mut g, &follower, 1, vec![], 5_001);
    assert!(rf.try_recv().is_err(), "follower waits for the leader");
    let asg = vec![
        (leader.clone(), Bytes::from_static(b"L")),
        (follower.clone(), Bytes::from_static(b"F")),
    ];
    let (mut rl, persist) = sync(&mut g, &leader, 1, asg, 5_002);
    assert!(
        persist,
        "the assignment is persisted before anyone hears of it"
    );
    assert_eq!(rl.try_recv().unwrap().assignment, Bytes::from_static(b"L"));
    assert_eq!(rf.try_recv().unwrap().assignment, Bytes::from_static(b"F"));
    assert_eq!(g.state, ClassicState::Stable);
    assert_eq!(g.heartbeat(&follower, None, 1, 5_003), 0);
}

fn stable_pair() -> (ClassicGroup, String, String) {
    let mut g = ClassicGroup::new("g", 0);
    let (a, mut ra) = join_new(&mut g, 0);
    let (b, mut rb) = join_new(&mut g, 0);
    deliver(g.tick(3_000, &LIMITS));
    let leader = ra.try_recv().unwrap().leader;
    rb.try_recv().unwrap();
    let follower = if leader == a { b.clone() } else { a.clone() };
    let (_r1, _) = sync(&mut g, &follower, 1, vec![], 3_000);
    let (_r2, _) = sync(&mut g, &leader, 1, vec![], 3_000);
    assert_eq!(g.state, ClassicState::Stable);
    (g, leader, follower)
}

#[test]
fn stale_generation_and_unknown_member_get_their_errors() {
    let (mut g, leader, _) = stable_pair();
    assert_eq!(
        g.heartbeat(&leader, None, 0, 3_001),
        ResponseError::IllegalGeneration.code()
    );
    assert_eq!(
        g.heartbeat("nobody", None, 1, 3_001),
        ResponseError::UnknownMemberId.code()
    );
    let (mut r, _) = sync(&mut g, &leader, 7, vec![], 3_001);
    assert_eq!(
        r.try_recv().unwrap().error,
        ResponseError::IllegalGeneration.code()
    );
    let mut rj = join(&mut g, params("nobody", None), 3_001);
    assert_eq!(
        rj.try_recv().unwrap().error,
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn expired_session_rebalances_the_rest() {
    let (mut g, leader, follower) = stable_pair();
    assert_eq!(g.heartbeat(&leader, None, 1, 12_000), 0);
    // The follower's last sign of life was at 3_000; the session is 10 s.
    deliver(g.tick(13_001, &LIMITS));
    assert!(!g.members.contains_key(&follower));
    assert_eq!(g.state, ClassicState::PreparingRebalance);
    assert_eq!(
        g.heartbeat(&leader, None, 1, 13_002),
        ResponseError::RebalanceInProgress.code()
    );
    let mut r = join(&mut g, params(&leader, None), 13_003);
    let o = r
        .try_recv()
        .expect("the only member rejoined: join completes at once");
    assert_eq!((o.error, o.generation, o.members.len()), (0, 2, 1));
}

#[test]
fn leave_of_the_last_member_empties_the_group_and_persists() {
    let (mut g, leader, follower) = stable_pair();
    let (code, fx) = g.leave(&follower, None, 4_000, &LIMITS);
    assert_eq!(code, 0);
    deliver(fx);
    let (code, fx) = g.leave(&leader, None, 4_001, &LIMITS);
    assert_eq!(code, 0);
    assert!(deliver(fx), "an emptied group is persisted");
    assert_eq!(g.state, ClassicState::Empty);
    assert_eq!(g.generation, 2);
    let (code, _) = g.leave(&leader, None, 4_002, &LIMITS);
    assert_eq!(code, ResponseError::UnknownMemberId.code());
}

#[test]
fn static_member_rejoin_fences_the_old_id_and_keeps_the_assignment() {
    let mut g = ClassicGroup::new("g", 0);
    let mut r = join(&mut g, params("", Some("i1")), 0);
    deliver(g.tick(3_000, &LIMITS));
    let first = r.try_recv().unwrap();
    assert_eq!(
        first.error, 0,
        "static members need no MEMBER_ID_REQUIRED round"
    );
    let old = first.member_id;
    let (mut rs, _) = sync(
        &mut g,
        &old,
        1,
        vec![(old.clone(), Bytes::from_static(b"A"))],
        3_000,
    );
    assert_eq!(rs.try_recv().unwrap().assignment, Bytes::from_static(b"A"));
    // The same instance restarts: a new member id, same generation, no rebalance.
    let mut r2 = join(&mut g, params("", Some("i1")), 4_000);
    let second = r2.try_recv().unwrap();
    assert_eq!((second.error, second.generation), (0, 1));
    assert_ne!(second.member_id, old);
    assert_eq!(g.state, ClassicState::Stable);
    assert_eq!(
        g.heartbeat(&old, Some("i1"), 1, 4_001),
        ResponseError::FencedInstanceId.code()
    );
    let (mut rs2, _) = sync(&mut g, &second.member_id, 1, vec![], 4_002);
    assert_eq!(rs2.try_recv().unwrap().assignment, Bytes::from_static(b"A"));
}

#[test]
fn inconsistent_protocols_and_bad_session_timeouts_are_refused() {
    let (mut g, _, _) = stable_pair();
    let mut p = params("", None);
    p.protocols = vec![("roundrobin".into(), Bytes::new())];
    let mut r = join(&mut g, p, 5_000);
    assert_eq!(
        r.try_recv().unwrap().error,
        ResponseError::InconsistentGroupProtocol.code()
    );
    let mut p = params("", None);
    p.session_timeout_ms = 10;
    let mut r = join(&mut g, p, 5_000);
    assert_eq!(
        r.try_recv().unwrap().error,
        ResponseError::InvalidSessionTimeout.code()
    );
}

#[test]
fn stored_form_round_trips_through_records() {
    let (g, leader, _) = stable_pair();
    let stored = g.to_stored(9);
    let bytes = super::super::records::encode_group(&stored);
    let back = super::super::records::decode_group(&bytes).unwrap();
    let g2 = ClassicGroup::from_stored("g", &back, 10);
    assert_eq!(g2.generation, 1);
    assert_eq!(g2.leader.as_deref(), Some(leader.as_str()));
    assert_eq!(g2.members.len(), 2);
    assert_eq!(g2.state, ClassicState::Stable);
}
