//! Shapes of the cluster-view APIs: DescribeTopicPartitions (named, unknown, all topics, cursor
//! paging, bad cursors), DescribeQuorum (the metadata partition, another topic) and
//! ElectLeaders (preferred / unclean on an existing, an unknown and all partitions),
//! AddRaftVoter / RemoveRaftVoter (refusals only: both brokers run a single-voter quorum that
//! every later shape needs, so no shape may change the voter set).

use kafka_protocol::messages::*;
use uuid::Uuid;

use super::shape::{st, topic, Ctx, Shape};
use crate::names::{DATA_TOPIC, DELETE_RECORDS_TOPIC, MISSING_TOPIC};

use RequestKind as R;

/// The KRaft metadata log's topic.
const METADATA_TOPIC: &str = "__cluster_metadata";

/// Fields of DescribeQuorum that depend on each broker's metadata log and raft peers, not on
/// the protocol: offsets and epochs of the log, the voters' ids, directory ids and fetch times.
const QUORUM_MASK: &[&str] = &[
    "leader_epoch",
    "high_watermark",
    "log_end_offset",
    "replica_id",
    "replica_directory_id",
    "last_fetch_timestamp",
    "last_caught_up_timestamp",
    "listeners",
];

fn dtp(names: &[&str], limit: i32, cursor: Option<(&str, i32)>) -> DescribeTopicPartitionsRequest {
    DescribeTopicPartitionsRequest::default()
        .with_topics(
            names
                .iter()
                .map(|n| {
                    describe_topic_partitions_request::TopicRequest::default().with_name(topic(n))
                })
                .collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(t, p)| {
            describe_topic_partitions_request::Cursor::default()
                .with_topic_name(topic(t))
                .with_partition_index(p)
        }))
}

fn quorum(name: &str) -> DescribeQuorumRequest {
    DescribeQuorumRequest::default().with_topics(vec![describe_quorum_request::TopicData::default(
    )
    .with_topic_name(topic(name))
    .with_partitions(vec![
        describe_quorum_request::PartitionData::default().with_partition_index(0)
    ])])
}

fn elect(election_type: i8, parts: Option<(&str, i32)>) -> ElectLeadersRequest {
    ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_timeout_ms(30_000)
        .with_topic_partitions(parts.map(|(t, p)| {
            vec![elect_leaders_request::TopicPartitions::default()
                .with_topic(topic(t))
                .with_partitions(vec![p])]
        }))
}

/// A voter id no broker of the suite has.
const STRANGER_VOTER: i32 = 999;
/// A voter directory id (Kafka refuses a request without one with INVALID_REQUEST before any
/// other check but the cluster id's; Weir accepts the zero id, see docs/compatibility.md).
const VOTER_DIR: Uuid = Uuid::from_u128(0x0dd0_0000_0000_4000_8000_0000_0000_0001);
/// A cluster id neither broker has.
const WRONG_CLUSTER_ID: &str = "not-this-cluster-00000";

/// The broker's own cluster id (None: Kafka does not check an absent one).
fn own_cluster(ctx: &Ctx) -> Option<kafka_protocol::protocol::StrBytes> {
    Some(st(&ctx.cluster_id))
}

/// AddRaftVoter for `voter_id`, with a CONTROLLER endpoint on a port nothing listens on when
/// `endpoint` (no shape gets past the refusals to the catch-up of a new voter).
fn add_voter(cluster: Option<&str>, voter_id: i32, endpoint: bool) -> AddRaftVoterRequest {
    AddRaftVoterRequest::default()
        .with_cluster_id(cluster.map(st))
        .with_timeout_ms(5_000)
        .with_voter_id(voter_id)
        .with_voter_directory_id(VOTER_DIR)
        .with_listeners(if endpoint {
            vec![add_raft_voter_request::Listener::default()
                .with_name(st("CONTROLLER"))
                .with_host(st("127.0.0.1"))
                .with_port(1)]
        } else {
            Vec::new()
        })
}

fn remove_voter(cluster: Option<&str>, voter_id: i32) -> RemoveRaftVoterRequest {
    RemoveRaftVoterRequest::default()
        .with_cluster_id(cluster.map(st))
        .with_voter_id(voter_id)
        .with_voter_directory_id(VOTER_DIR)
}

/// The scenario shapes of AddRaftVoter / RemoveRaftVoter, all refused by both brokers.
fn voter_shapes(key: ApiKey) -> Vec<Shape> {
    match key {
        ApiKey::AddRaftVoter => vec![
            // The only voter again: DUPLICATE_VOTER (checked before the endpoint).
            Shape::new("duplicate-voter", |ctx: &Ctx| {
                R::AddRaftVoter(
                    add_voter(None, ctx.node_id, true).with_cluster_id(own_cluster(ctx)),
                )
            }),
            Shape::new("duplicate-voter-no-cluster-id", |ctx: &Ctx| {
                R::AddRaftVoter(add_voter(None, ctx.node_id, true))
            }),
            Shape::fixed(
                "wrong-cluster-id",
                R::AddRaftVoter(add_voter(Some(WRONG_CLUSTER_ID), STRANGER_VOTER, true)),
            ),
            // A new voter without a CONTROLLER endpoint: INVALID_REQUEST.
            Shape::fixed(
                "no-controller-endpoint",
                R::AddRaftVoter(add_voter(None, STRANGER_VOTER, false)),
            ),
            Shape::new("duplicate-voter-no-directory-id", |ctx: &Ctx| {
                R::AddRaftVoter(
                    add_voter(None, ctx.node_id, true).with_voter_directory_id(Uuid::nil()),
                )
            }),
        ],
        ApiKey::RemoveRaftVoter => vec![
            Shape::fixed(
                "not-a-voter",
                R::RemoveRaftVoter(remove_voter(None, STRANGER_VOTER)),
            ),
            Shape::new("not-a-voter-own-cluster-id", |ctx: &Ctx| {
                R::RemoveRaftVoter(
                    remove_voter(None, STRANGER_VOTER).with_cluster_id(own_cluster(ctx)),
                )
            }),
            Shape::fixed(
                "wrong-cluster-id",
                R::RemoveRaftVoter(remove_voter(Some(WRONG_CLUSTER_ID), STRANGER_VOTER)),
            ),
            // The only voter (under a directory id it does not have): refused with
            // VOTER_NOT_FOUND by both, the quorum stays as it is.
            Shape::new("only-voter", |ctx: &Ctx| {
                R::RemoveRaftVoter(remove_voter(None, ctx.node_id))
            }),
            Shape::fixed(
                "not-a-voter-no-directory-id",
                R::RemoveRaftVoter(
                    remove_voter(None, STRANGER_VOTER).with_voter_directory_id(Uuid::nil()),
                ),
            ),
        ],
        _ => Vec::new(),
    }
}

/// The scenario shapes of `key` at `v`, or None when `key` is not a cluster-view API.
pub fn shapes(key: ApiKey, v: i16) -> Option<Vec<Shape>> {
    Some(match key {
        ApiKey::DescribeTopicPartitions => vec![
            Shape::fixed(
                "named",
                R::DescribeTopicPartitions(dtp(&[DATA_TOPIC], 2000, None)),
            ),
            Shape::fixed(
                "unknown-topic",
                R::DescribeTopicPartitions(dtp(&[MISSING_TOPIC], 2000, None)),
            ),
            Shape::fixed(
                "named-and-unknown",
                R::DescribeTopicPartitions(dtp(&[DATA_TOPIC, MISSING_TOPIC], 2000, None)),
            ),
            Shape::fixed(
                "all-topics",
                R::DescribeTopicPartitions(dtp(&[], 2000, None)),
            ),
            Shape::fixed(
                "page-limit-1",
                R::DescribeTopicPartitions(dtp(&[DATA_TOPIC, DELETE_RECORDS_TOPIC], 1, None)),
            ),
            Shape::fixed(
                "cursor",
                R::DescribeTopicPartitions(dtp(
                    &[DATA_TOPIC, DELETE_RECORDS_TOPIC],
                    2000,
                    Some((DELETE_RECORDS_TOPIC, 0)),
                )),
            ),
            Shape::fixed(
                "cursor-not-in-list",
                R::DescribeTopicPartitions(dtp(&[DATA_TOPIC], 2000, Some((MISSING_TOPIC, 0)))),
            ),
            Shape::fixed(
                "cursor-negative-partition",
                R::DescribeTopicPartitions(dtp(&[DATA_TOPIC], 2000, Some((DATA_TOPIC, -1)))),
            ),
            Shape::fixed(
                "cursor-past-partitions",
                R::DescribeTopicPartitions(dtp(&[DATA_TOPIC], 2000, Some((DATA_TOPIC, 5)))),
            ),
        ],
        ApiKey::DescribeQuorum => vec![
            Shape::fixed(
                "metadata-partition",
                R::DescribeQuorum(quorum(METADATA_TOPIC)),
            )
            .masking(QUORUM_MASK),
            Shape::fixed("other-topic", R::DescribeQuorum(quorum(DATA_TOPIC))).masking(QUORUM_MASK),
        ],
        ApiKey::ElectLeaders => {
            let mut s = vec![
                Shape::fixed(
                    "preferred-existing",
                    R::ElectLeaders(elect(0, Some((DATA_TOPIC, 0)))),
                ),
                Shape::fixed(
                    "preferred-unknown-partition",
                    R::ElectLeaders(elect(0, Some((DATA_TOPIC, 7)))),
                ),
                Shape::fixed(
                    "preferred-unknown-topic",
                    R::ElectLeaders(elect(0, Some((MISSING_TOPIC, 0)))),
                ),
                Shape::fixed("preferred-all", R::ElectLeaders(elect(0, None))),
            ];
            if v >= 1 {
                s.push(Shape::fixed(
                    "unclean-existing",
                    R::ElectLeaders(elect(1, Some((DATA_TOPIC, 0)))),
                ));
                s.push(Shape::fixed(
                    "bad-election-type",
                    R::ElectLeaders(elect(5, Some((DATA_TOPIC, 0)))),
                ));
            }
            s
        }
        ApiKey::AddRaftVoter | ApiKey::RemoveRaftVoter => voter_shapes(key),
        _ => return None,
    })
}
