//! Shapes of the cluster-view APIs: DescribeTopicPartitions (named, unknown, all topics, cursor
//! paging, bad cursors), DescribeQuorum (the metadata partition, another topic) and
//! ElectLeaders (preferred / unclean on an existing, an unknown and all partitions).

use kafka_protocol::messages::*;

use super::shape::{topic, Shape};
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
        _ => return None,
    })
}
