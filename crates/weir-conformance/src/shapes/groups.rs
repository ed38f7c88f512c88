//! Shapes of the group APIs: FindCoordinator, OffsetCommit / OffsetFetch / OffsetDelete, the
//! classic protocol (Join, Sync, Heartbeat, Leave), Describe / List / DeleteGroups, and KIP-848's
//! ConsumerGroupHeartbeat / ConsumerGroupDescribe.

use bytes::Bytes;
use kafka_protocol::messages::*;
use uuid::Uuid;
use weir_protocol::versions::supported_range;

use super::data::id_of;
use super::shape::{group, st, topic, Ctx, Shape};
use crate::names::{DATA_TOPIC, MISSING_TOPIC, OFFSETS_GROUP};

use RequestKind as R;

/// The group of the ConsumerGroupHeartbeat shape of an unknown member.
const UNKNOWN_CONSUMER_GROUP: &str = "cg-unknown";

fn find(v: i16, key: &str, key_type: i8) -> FindCoordinatorRequest {
    let mut r = FindCoordinatorRequest::default();
    if v >= 4 {
        r.coordinator_keys = vec![st(key)];
    } else {
        r.key = st(key);
    }
    if v >= 1 {
        r.key_type = key_type;
    }
    r
}

/// An OffsetCommit of `offset` for `name` (v10: its id `id`) partition 0 in `grp` outside any
/// generation.
pub fn commit(v: i16, grp: &str, name: &str, id: Uuid, offset: i64) -> OffsetCommitRequest {
    let mut p = offset_commit_request::OffsetCommitRequestPartition::default()
        .with_partition_index(0)
        .with_committed_offset(offset)
        .with_committed_metadata(Some(st("")));
    if v >= 6 {
        p.committed_leader_epoch = -1;
    }
    let mut r = OffsetCommitRequest::default()
        .with_group_id(group(grp))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(if v >= 10 { topic("") } else { topic(name) })
                .with_topic_id(if v >= 10 { id } else { Uuid::nil() })
                .with_partitions(vec![p]),
        ]);
    if (2..=4).contains(&v) {
        r.retention_time_ms = -1;
    }
    r
}

/// An OffsetFetch of partition 0 of `name` (v10: by id, through `ctx`), or of every committed
/// partition (None), for `grp`.
fn fetch_offsets(ctx: &Ctx, v: i16, grp: &str, name: Option<&str>) -> OffsetFetchRequest {
    if v >= 8 {
        let topics = name.map(|n| {
            let t = offset_fetch_request::OffsetFetchRequestTopics::default()
                .with_partition_indexes(vec![0]);
            vec![if v >= 10 {
                t.with_topic_id(id_of(ctx, n))
            } else {
                t.with_name(topic(n))
            }]
        });
        OffsetFetchRequest::default().with_groups(vec![
            offset_fetch_request::OffsetFetchRequestGroup::default()
                .with_group_id(group(grp))
                .with_topics(topics),
        ])
    } else {
        let topics = name.map(|n| {
            vec![offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(topic(n))
                .with_partition_indexes(vec![0])]
        });
        OffsetFetchRequest::default()
            .with_group_id(group(grp))
            .with_topics(topics)
    }
}

/// A ConsumerProtocolSubscription v0 of `DATA_TOPIC`.
fn subscription() -> Bytes {
    let mut b = vec![0, 0, 0, 0, 0, 1];
    b.extend_from_slice(&(DATA_TOPIC.len() as i16).to_be_bytes());
    b.extend_from_slice(DATA_TOPIC.as_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(b)
}

fn join(v: i16, grp: &str, session_ms: i32, protocols: bool) -> JoinGroupRequest {
    let mut r = JoinGroupRequest::default()
        .with_group_id(group(grp))
        .with_session_timeout_ms(session_ms)
        .with_protocol_type(st("consumer"));
    if protocols {
        r.protocols = vec![join_group_request::JoinGroupRequestProtocol::default()
            .with_name(st("range"))
            .with_metadata(subscription())];
    }
    if v >= 1 {
        r.rebalance_timeout_ms = session_ms;
    }
    r
}

/// The group the JoinGroup shape of the lowest served version joined (a live, stable group).
fn joined_group() -> String {
    let lo = supported_range(ApiKey::JoinGroup).map_or(0, |(lo, _)| lo);
    format!("jg-v{lo}-new")
}

fn consumer_heartbeat(v: i16, grp: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
    let mut r = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(group(grp))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![topic(DATA_TOPIC)]))
        .with_topic_partitions(Some(vec![]));
    if v >= 1 {
        r.member_id = st("conformance-member-0000000001");
    }
    r
}

/// The scenario shapes of `key` at `v`, or None when `key` is not a group API.
pub fn shapes(key: ApiKey, v: i16) -> Option<Vec<Shape>> {
    Some(match key {
        ApiKey::FindCoordinator => {
            let mut s = vec![Shape::fixed(
                "group",
                R::FindCoordinator(find(v, OFFSETS_GROUP, 0)),
            )];
            s.push(Shape::fixed(
                "empty-group-key",
                R::FindCoordinator(find(v, "", 0)),
            ));
            if v >= 1 {
                s.push(Shape::fixed(
                    "empty-transaction-key",
                    R::FindCoordinator(find(v, "", 1)),
                ));
                s.push(Shape::fixed(
                    "transaction",
                    R::FindCoordinator(find(v, "conf-txn", 1)),
                ));
                s.push(Shape::fixed(
                    "unknown-key-type",
                    R::FindCoordinator(find(v, OFFSETS_GROUP, 7)),
                ));
            }
            s
        }
        ApiKey::OffsetCommit => vec![
            Shape::new("simple-commit", move |ctx| {
                let id = id_of(ctx, DATA_TOPIC);
                R::OffsetCommit(commit(v, OFFSETS_GROUP, DATA_TOPIC, id, 1))
            }),
            Shape::new("unknown-topic", move |ctx| {
                let id = id_of(ctx, MISSING_TOPIC);
                R::OffsetCommit(commit(v, OFFSETS_GROUP, MISSING_TOPIC, id, 1))
            }),
            Shape::new("unknown-member", move |ctx| {
                let id = id_of(ctx, DATA_TOPIC);
                R::OffsetCommit(
                    commit(v, OFFSETS_GROUP, DATA_TOPIC, id, 1)
                        .with_generation_id_or_member_epoch(3)
                        .with_member_id(st("nobody")),
                )
            }),
        ],
        ApiKey::OffsetFetch => {
            let mut s = vec![
                Shape::new("committed", move |ctx| {
                    R::OffsetFetch(fetch_offsets(ctx, v, OFFSETS_GROUP, Some(DATA_TOPIC)))
                }),
                Shape::new("unknown-group", move |ctx| {
                    R::OffsetFetch(fetch_offsets(ctx, v, "no-such-group", Some(DATA_TOPIC)))
                }),
            ];
            if v >= 10 {
                s.push(Shape::new("unknown-topic-id", move |ctx| {
                    R::OffsetFetch(fetch_offsets(ctx, v, OFFSETS_GROUP, Some(MISSING_TOPIC)))
                }));
            }
            if v >= 2 {
                s.push(Shape::new("all-topics", move |ctx| {
                    R::OffsetFetch(fetch_offsets(ctx, v, OFFSETS_GROUP, None))
                }));
            }
            s
        }
        ApiKey::JoinGroup => vec![
            Shape::fixed(
                "new-member",
                R::JoinGroup(join(v, &format!("jg-v{v}-new"), 10_000, true)),
            ),
            Shape::fixed(
                "no-protocols",
                R::JoinGroup(join(v, &format!("jg-v{v}-none"), 10_000, false)),
            ),
            Shape::fixed(
                "session-timeout-too-small",
                R::JoinGroup(join(v, &format!("jg-v{v}-short"), 1, true)),
            ),
        ],
        ApiKey::Heartbeat => vec![Shape::fixed(
            "unknown-member",
            R::Heartbeat(
                HeartbeatRequest::default()
                    .with_group_id(group(&joined_group()))
                    .with_generation_id(1)
                    .with_member_id(st("nobody")),
            ),
        )],
        ApiKey::LeaveGroup => {
            let mut r = LeaveGroupRequest::default().with_group_id(group(&joined_group()));
            if v >= 3 {
                r.members = vec![
                    leave_group_request::MemberIdentity::default().with_member_id(st("nobody"))
                ];
            } else {
                r.member_id = st("nobody");
            }
            vec![Shape::fixed("unknown-member", R::LeaveGroup(r))]
        }
        ApiKey::SyncGroup => vec![Shape::fixed(
            "unknown-member",
            R::SyncGroup(
                SyncGroupRequest::default()
                    .with_group_id(group(&joined_group()))
                    .with_generation_id(1)
                    .with_member_id(st("nobody")),
            ),
        )],
        ApiKey::DescribeGroups => vec![
            Shape::fixed(
                "offsets-only-group",
                R::DescribeGroups(
                    DescribeGroupsRequest::default().with_groups(vec![group(OFFSETS_GROUP)]),
                ),
            ),
            Shape::fixed(
                "joined-group",
                R::DescribeGroups(
                    DescribeGroupsRequest::default().with_groups(vec![group(&joined_group())]),
                ),
            ),
            Shape::fixed(
                "unknown-group",
                R::DescribeGroups(
                    DescribeGroupsRequest::default().with_groups(vec![group("no-such-group")]),
                ),
            ),
        ],
        ApiKey::ListGroups => {
            let mut s = Vec::new();
            if v >= 4 {
                s.push(Shape::fixed(
                    "states-empty",
                    R::ListGroups(
                        ListGroupsRequest::default().with_states_filter(vec![st("Empty")]),
                    ),
                ));
            }
            if v >= 5 {
                s.push(Shape::fixed(
                    "types-consumer",
                    R::ListGroups(
                        ListGroupsRequest::default().with_types_filter(vec![st("consumer")]),
                    ),
                ));
            }
            s
        }
        ApiKey::DeleteGroups => vec![
            Shape::fixed(
                "offsets-only-group",
                R::DeleteGroups(
                    DeleteGroupsRequest::default()
                        .with_groups_names(vec![group(&format!("dg-v{v}"))]),
                ),
            ),
            Shape::fixed(
                "unknown-group",
                R::DeleteGroups(
                    DeleteGroupsRequest::default().with_groups_names(vec![group("no-such-group")]),
                ),
            ),
        ],
        ApiKey::OffsetDelete => {
            let req = |grp: &str, name: &str| {
                R::OffsetDelete(
                    OffsetDeleteRequest::default()
                        .with_group_id(group(grp))
                        .with_topics(vec![
                            offset_delete_request::OffsetDeleteRequestTopic::default()
                                .with_name(topic(name))
                                .with_partitions(vec![
                                    offset_delete_request::OffsetDeleteRequestPartition::default()
                                        .with_partition_index(0),
                                ]),
                        ]),
                )
            };
            vec![
                Shape::fixed("committed", req(OFFSETS_GROUP, DATA_TOPIC)),
                Shape::fixed("unknown-group", req("no-such-group", DATA_TOPIC)),
                Shape::fixed("unknown-topic", req(OFFSETS_GROUP, MISSING_TOPIC)),
            ]
        }
        ApiKey::ConsumerGroupHeartbeat => vec![
            Shape::fixed(
                "join",
                R::ConsumerGroupHeartbeat(consumer_heartbeat(v, &format!("cg-v{v}"), 0)),
            ),
            Shape::fixed(
                "unknown-member",
                R::ConsumerGroupHeartbeat(
                    consumer_heartbeat(v, UNKNOWN_CONSUMER_GROUP, 5).with_member_id(st("nobody")),
                ),
            ),
        ],
        ApiKey::ConsumerGroupDescribe => {
            let hi = supported_range(ApiKey::ConsumerGroupHeartbeat).map_or(0, |(_, hi)| hi);
            vec![
                Shape::fixed(
                    "joined-group",
                    R::ConsumerGroupDescribe(
                        ConsumerGroupDescribeRequest::default()
                            .with_group_ids(vec![group(&format!("cg-v{hi}"))]),
                    ),
                ),
                Shape::fixed(
                    "unknown-group",
                    R::ConsumerGroupDescribe(
                        ConsumerGroupDescribeRequest::default()
                            .with_group_ids(vec![group("no-such-group")]),
                    ),
                ),
                // The group an unknown member's heartbeat named (it should not exist either).
                Shape::fixed(
                    "heartbeat-named-group",
                    R::ConsumerGroupDescribe(
                        ConsumerGroupDescribeRequest::default()
                            .with_group_ids(vec![group(UNKNOWN_CONSUMER_GROUP)]),
                    ),
                ),
            ]
        }
        _ => return None,
    })
}
