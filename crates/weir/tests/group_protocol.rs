//! Protocol-level group errors against a real `weir` process, with hand-encoded requests (the
//! client libraries hide these codes): stale generation, unknown member, fenced static member,
//! KIP-848 fenced epoch, and the group admin APIs' errors.

use std::path::Path;

use bytes::Bytes;
use kafka_protocol::messages::consumer_group_heartbeat_request::ConsumerGroupHeartbeatRequest;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::RawClient;
use weir_test_support::{BrokerOptions, BrokerProcess};

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn join(c: &mut RawClient, group: &str, member: &str, instance: Option<&str>) -> JoinGroupResponse {
    let mut r = JoinGroupRequest::default();
    r.group_id = GroupId(s(group));
    r.session_timeout_ms = 10_000;
    r.rebalance_timeout_ms = 10_000;
    r.member_id = s(member);
    r.group_instance_id = instance.map(s);
    r.protocol_type = s("consumer");
    let mut p = JoinGroupRequestProtocol::default();
    p.name = s("range");
    p.metadata = Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 1, b't', 255, 255, 255, 255]);
    r.protocols = vec![p];
    c.call(ApiKey::JoinGroup, 5, &r)
}

fn heartbeat(
    c: &mut RawClient,
    group: &str,
    member: &str,
    instance: Option<&str>,
    gen: i32,
) -> i16 {
    let mut r = HeartbeatRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.group_instance_id = instance.map(s);
    r.generation_id = gen;
    let resp: HeartbeatResponse = c.call(ApiKey::Heartbeat, 4, &r);
    resp.error_code
}

fn sync(c: &mut RawClient, group: &str, member: &str, gen: i32) -> SyncGroupResponse {
    let mut r = SyncGroupRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.generation_id = gen;
    r.protocol_type = Some(s("consumer"));
    r.protocol_name = Some(s("range"));
    c.call(ApiKey::SyncGroup, 5, &r)
}

fn commit(c: &mut RawClient, group: &str, member: &str, instance: Option<&str>, gen: i32) -> i16 {
    let mut r = OffsetCommitRequest::default();
    r.group_id = GroupId(s(group));
    r.member_id = s(member);
    r.group_instance_id = instance.map(s);
    r.generation_id_or_member_epoch = gen;
    let mut p = OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = 1;
    let mut t = OffsetCommitRequestTopic::default();
    t.name = TopicName(s("t"));
    t.partitions = vec![p];
    r.topics = vec![t];
    let resp: OffsetCommitResponse = c.call(ApiKey::OffsetCommit, 8, &r);
    resp.topics[0].partitions[0].error_code
}

fn start() -> (BrokerProcess, RawClient) {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default().config("group.initial.rebalance.delay.ms", "0"),
    );
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let c = RawClient::connect(&b.bootstrap());
    (b, c)
}

#[test]
fn stale_generation_and_unknown_member_get_their_errors() {
    let (_b, mut c) = start();
    let mut fc = FindCoordinatorRequest::default();
    fc.coordinator_keys = vec![s("g"), s("other")];
    let found: FindCoordinatorResponse = c.call(ApiKey::FindCoordinator, 4, &fc);
    assert!(found
        .coordinators
        .iter()
        .all(|k| k.error_code == 0 && k.node_id.0 == 1));

    let first = join(&mut c, "g", "", None);
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED");
    let id = first.member_id.to_string();
    let joined = join(&mut c, "g", &id, None);
    assert_eq!((joined.error_code, joined.generation_id), (0, 1));
    assert_eq!(joined.leader.as_str(), id);
    assert_eq!(sync(&mut c, "g", &id, 1).error_code, 0);
    assert_eq!(heartbeat(&mut c, "g", &id, None, 1), 0);

    assert_eq!(
        heartbeat(&mut c, "g", &id, None, 0),
        22,
        "ILLEGAL_GENERATION"
    );
    assert_eq!(sync(&mut c, "g", &id, 5).error_code, 22);
    assert_eq!(commit(&mut c, "g", &id, None, 0), 22);
    assert_eq!(
        heartbeat(&mut c, "g", "ghost", None, 1),
        25,
        "UNKNOWN_MEMBER_ID"
    );
    assert_eq!(sync(&mut c, "g", "ghost", 1).error_code, 25);
    assert_eq!(commit(&mut c, "g", "ghost", None, 1), 25);
    assert_eq!(join(&mut c, "g", "ghost", None).error_code, 25);
    assert_eq!(
        commit(&mut c, "g", "", None, -1),
        25,
        "simple commit to a live group"
    );
    assert_eq!(commit(&mut c, "g", &id, None, 1), 0);

    // Admin APIs: a non-empty group cannot be deleted; an unknown one is not found.
    let mut del = DeleteGroupsRequest::default();
    del.groups_names = vec![GroupId(s("g")), GroupId(s("nope"))];
    let d: DeleteGroupsResponse = c.call(ApiKey::DeleteGroups, 2, &del);
    assert_eq!((d.results[0].error_code, d.results[1].error_code), (68, 69));
    let mut dg = DescribeGroupsRequest::default();
    dg.groups = vec![GroupId(s("g")), GroupId(s("nope"))];
    let described: DescribeGroupsResponse = c.call(ApiKey::DescribeGroups, 5, &dg);
    assert_eq!(described.groups[0].group_state.as_str(), "Stable");
    assert_eq!(described.groups[0].members.len(), 1);
    assert_eq!(described.groups[1].group_state.as_str(), "Dead");

    // Leaving empties the group; then it can be deleted and its offsets are gone.
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = GroupId(s("g"));
    let mut mi = MemberIdentity::default();
    mi.member_id = s(&id);
    leave.members = vec![mi];
    let l: LeaveGroupResponse = c.call(ApiKey::LeaveGroup, 4, &leave);
    assert_eq!((l.error_code, l.members[0].error_code), (0, 0));
    let d: DeleteGroupsResponse = c.call(ApiKey::DeleteGroups, 2, &del);
    assert_eq!(d.results[0].error_code, 0);
}

#[test]
fn a_replaced_static_member_is_fenced() {
    let (_b, mut c) = start();
    let a = join(&mut c, "sg", "", Some("instance-1"));
    assert_eq!(
        (a.error_code, a.generation_id),
        (0, 1),
        "static members join directly"
    );
    let old = a.member_id.to_string();
    assert_eq!(sync(&mut c, "sg", &old, 1).error_code, 0);
    // The same instance comes back (e.g. restarted): new member id, old one fenced.
    let b = join(&mut c, "sg", "", Some("instance-1"));
    assert_eq!(b.error_code, 0);
    assert_ne!(b.member_id.to_string(), old);
    assert_eq!(
        heartbeat(&mut c, "sg", &old, Some("instance-1"), 1),
        82,
        "FENCED_INSTANCE_ID"
    );
    assert_eq!(commit(&mut c, "sg", &old, Some("instance-1"), 1), 82);
    assert_eq!(join(&mut c, "sg", &old, Some("instance-1")).error_code, 82);
    assert_eq!(
        heartbeat(&mut c, "sg", b.member_id.as_str(), Some("instance-1"), 1),
        0
    );
}

#[test]
fn kip848_heartbeat_with_a_wrong_epoch_is_fenced_and_state_survives_a_restart() {
    let (mut b, mut c) = start();
    let mut r = ConsumerGroupHeartbeatRequest::default();
    r.group_id = GroupId(s("cg"));
    r.member_id = s("m-1");
    r.member_epoch = 0;
    r.rebalance_timeout_ms = 10_000;
    r.subscribed_topic_names = Some(vec![TopicName(s("t"))]);
    r.topic_partitions = Some(vec![]);
    let joined: ConsumerGroupHeartbeatResponse = c.call(ApiKey::ConsumerGroupHeartbeat, 1, &r);
    assert_eq!(joined.error_code, 0);
    assert!(joined.member_epoch > 0);
    let a = joined
        .assignment
        .expect("the first answer carries the assignment");
    assert_eq!(a.topic_partitions[0].partitions, vec![0]);

    r.member_epoch = joined.member_epoch + 7;
    r.subscribed_topic_names = None;
    r.topic_partitions = None;
    let fenced: ConsumerGroupHeartbeatResponse = c.call(ApiKey::ConsumerGroupHeartbeat, 1, &r);
    assert_eq!(fenced.error_code, 110, "FENCED_MEMBER_EPOCH");
    r.member_id = s("never-joined");
    let unknown: ConsumerGroupHeartbeatResponse = c.call(ApiKey::ConsumerGroupHeartbeat, 1, &r);
    assert_eq!(unknown.error_code, 25, "UNKNOWN_MEMBER_ID");
    assert_eq!(
        commit(&mut c, "cg", "m-1", None, joined.member_epoch + 1),
        113,
        "STALE_MEMBER_EPOCH"
    );
    assert_eq!(commit(&mut c, "cg", "m-1", None, joined.member_epoch), 0);

    // The group's epochs, members and assignment are in __consumer_offsets: after a restart the
    // member carries on with its epoch.
    b.stop();
    b.restart();
    let mut c = RawClient::connect(&b.bootstrap());
    r.member_id = s("m-1");
    r.member_epoch = joined.member_epoch;
    let again: ConsumerGroupHeartbeatResponse = c.call(ApiKey::ConsumerGroupHeartbeat, 1, &r);
    assert_eq!(
        (again.error_code, again.member_epoch),
        (0, joined.member_epoch)
    );
    let mut d = ConsumerGroupDescribeRequest::default();
    d.group_ids = vec![GroupId(s("cg"))];
    let described: ConsumerGroupDescribeResponse = c.call(ApiKey::ConsumerGroupDescribe, 0, &d);
    let g = &described.groups[0];
    assert_eq!((g.error_code, g.group_state.as_str()), (0, "Stable"));
    assert_eq!(
        g.members[0].assignment.topic_partitions[0].partitions,
        vec![0]
    );
}
