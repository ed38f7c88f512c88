//! Shapes of the transaction APIs and the share-group APIs. Their full scenarios need a live
//! producer or share member per broker; here they get minimal ones: an idempotent and a
//! transactional InitProducerId, describe / list, and requests from unknown producers, members
//! or groups (compared field by field: mostly error codes).

use kafka_protocol::messages::*;

use super::shape::{group, st, topic, Ctx, Shape};
use crate::names::DATA_TOPIC;

use RequestKind as R;

const TXN: &str = "conf-txn";

fn txn_id(s: &str) -> TransactionalId {
    TransactionalId(st(s))
}

fn add_partitions(v: i16) -> AddPartitionsToTxnRequest {
    let topics = vec![
        add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
            .with_name(topic(DATA_TOPIC))
            .with_partitions(vec![0]),
    ];
    let mut r = AddPartitionsToTxnRequest::default();
    if v >= 4 {
        r.transactions = vec![
            add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default()
                .with_transactional_id(txn_id("no-such-txn"))
                .with_producer_id(ProducerId(4242))
                .with_producer_epoch(0)
                .with_verify_only(true)
                .with_topics(topics),
        ];
    } else {
        r.v3_and_below_transactional_id = txn_id("no-such-txn");
        r.v3_and_below_producer_id = ProducerId(4242);
        r.v3_and_below_topics = topics;
    }
    r
}

fn share_heartbeat(grp: &str, epoch: i32) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(group(grp))
        .with_member_id(st("conformance-share-member-001"))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(Some(vec![topic(DATA_TOPIC)]))
}

fn share_fetch(c: &Ctx, grp: &str) -> ShareFetchRequest {
    ShareFetchRequest::default()
        .with_group_id(Some(group(grp)))
        .with_member_id(Some(st("conformance-share-member-404")))
        .with_share_session_epoch(0)
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_max_records(10)
        .with_batch_size(10)
        .with_topics(vec![share_fetch_request::FetchTopic::default()
            .with_topic_id(c.topic_id(DATA_TOPIC))
            .with_partitions(vec![
                share_fetch_request::FetchPartition::default().with_partition_index(0),
            ])])
}

fn share_ack(c: &Ctx, grp: &str) -> ShareAcknowledgeRequest {
    ShareAcknowledgeRequest::default()
        .with_group_id(Some(group(grp)))
        .with_member_id(Some(st("conformance-share-member-404")))
        .with_share_session_epoch(1)
        .with_topics(vec![share_acknowledge_request::AcknowledgeTopic::default()
            .with_topic_id(c.topic_id(DATA_TOPIC))
            .with_partitions(vec![
                share_acknowledge_request::AcknowledgePartition::default()
                    .with_partition_index(0)
                    .with_acknowledgement_batches(vec![
                        share_acknowledge_request::AcknowledgementBatch::default()
                            .with_first_offset(0)
                            .with_last_offset(0)
                            .with_acknowledge_types(vec![1]),
                    ]),
            ])])
}

fn describe_share_offsets(grp: &str) -> DescribeShareGroupOffsetsRequest {
    DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(group(grp))
            .with_topics(None),
    ])
}

/// The scenario shapes of `key` at `v`, or None when `key` is not a transaction or share API.
pub fn shapes(key: ApiKey, v: i16) -> Option<Vec<Shape>> {
    Some(match key {
        ApiKey::InitProducerId => vec![
            Shape::fixed(
                "idempotent",
                R::InitProducerId(
                    InitProducerIdRequest::default()
                        .with_transaction_timeout_ms(-1)
                        .with_producer_id(ProducerId(-1))
                        .with_producer_epoch(-1),
                ),
            ),
            Shape::fixed(
                "transactional",
                R::InitProducerId(
                    InitProducerIdRequest::default()
                        .with_transactional_id(Some(txn_id(&format!("{TXN}-v{v}"))))
                        .with_transaction_timeout_ms(60_000)
                        .with_producer_id(ProducerId(-1))
                        .with_producer_epoch(-1),
                ),
            ),
            Shape::fixed(
                "timeout-too-large",
                R::InitProducerId(
                    InitProducerIdRequest::default()
                        .with_transactional_id(Some(txn_id(&format!("{TXN}-v{v}-long"))))
                        .with_transaction_timeout_ms(i32::MAX)
                        .with_producer_id(ProducerId(-1))
                        .with_producer_epoch(-1),
                ),
            ),
        ],
        ApiKey::AddPartitionsToTxn => vec![Shape::fixed(
            "unknown-transaction",
            R::AddPartitionsToTxn(add_partitions(v)),
        )],
        ApiKey::AddOffsetsToTxn => vec![Shape::fixed(
            "unknown-transaction",
            R::AddOffsetsToTxn(
                AddOffsetsToTxnRequest::default()
                    .with_transactional_id(txn_id("no-such-txn"))
                    .with_producer_id(ProducerId(4242))
                    .with_group_id(group("conf-g")),
            ),
        )],
        ApiKey::EndTxn => vec![Shape::fixed(
            "unknown-transaction",
            R::EndTxn(
                EndTxnRequest::default()
                    .with_transactional_id(txn_id("no-such-txn"))
                    .with_producer_id(ProducerId(4242))
                    .with_committed(true),
            ),
        )],
        ApiKey::TxnOffsetCommit => vec![Shape::new("unknown-transaction", move |ctx| {
            // v6 names the topic by id (KIP-1319).
            let t = txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                .with_partitions(vec![
                    txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(1)
                        .with_committed_leader_epoch(-1),
                ]);
            let t = if v >= 6 {
                t.with_topic_id(ctx.topic_id(DATA_TOPIC))
            } else {
                t.with_name(topic(DATA_TOPIC))
            };
            R::TxnOffsetCommit(
                TxnOffsetCommitRequest::default()
                    .with_transactional_id(txn_id("no-such-txn"))
                    .with_group_id(group("conf-g"))
                    .with_producer_id(ProducerId(4242))
                    .with_generation_id(-1)
                    .with_topics(vec![t]),
            )
        })],
        ApiKey::DescribeTransactions => vec![
            Shape::fixed(
                "initialised",
                R::DescribeTransactions(
                    DescribeTransactionsRequest::default()
                        .with_transactional_ids(vec![txn_id(&format!("{TXN}-v0"))]),
                ),
            ),
            Shape::fixed(
                "unknown-transaction",
                R::DescribeTransactions(
                    DescribeTransactionsRequest::default()
                        .with_transactional_ids(vec![txn_id("no-such-txn")]),
                ),
            ),
        ],
        ApiKey::ListTransactions => {
            let mut s = vec![Shape::fixed(
                "state-empty",
                R::ListTransactions(
                    ListTransactionsRequest::default().with_state_filters(vec![st("Empty")]),
                ),
            )];
            if v >= 1 {
                s.push(Shape::fixed(
                    "duration",
                    R::ListTransactions(
                        ListTransactionsRequest::default().with_duration_filter(3_600_000),
                    ),
                ));
            }
            s
        }
        ApiKey::ShareGroupHeartbeat => vec![
            Shape::fixed(
                "join",
                R::ShareGroupHeartbeat(share_heartbeat("sg-conf", 0)),
            ),
            Shape::fixed(
                "unknown-member",
                R::ShareGroupHeartbeat(share_heartbeat("no-such-group", 3)),
            ),
        ],
        ApiKey::ShareGroupDescribe => vec![
            Shape::fixed(
                "joined-group",
                R::ShareGroupDescribe(
                    ShareGroupDescribeRequest::default().with_group_ids(vec![group("sg-conf")]),
                ),
            ),
            Shape::fixed(
                "unknown-group",
                R::ShareGroupDescribe(
                    ShareGroupDescribeRequest::default()
                        .with_group_ids(vec![group("no-such-group")]),
                ),
            ),
        ],
        ApiKey::ShareFetch => vec![Shape::new("unknown-member", |c| {
            R::ShareFetch(share_fetch(c, "sg-conf"))
        })],
        ApiKey::ShareAcknowledge => vec![Shape::new("unknown-member", |c| {
            R::ShareAcknowledge(share_ack(c, "sg-conf"))
        })],
        ApiKey::ReadShareGroupState => vec![Shape::new("unknown-group", |c| {
            R::ReadShareGroupState(
                ReadShareGroupStateRequest::default()
                    .with_group_id(st("no-such-group"))
                    .with_topics(vec![
                        read_share_group_state_request::ReadStateData::default()
                            .with_topic_id(c.topic_id(DATA_TOPIC))
                            .with_partitions(vec![
                                read_share_group_state_request::PartitionData::default()
                                    .with_partition(0)
                                    .with_leader_epoch(0),
                            ]),
                    ]),
            )
        })],
        ApiKey::DeleteShareGroupState => vec![Shape::new("unknown-group", |c| {
            R::DeleteShareGroupState(
                DeleteShareGroupStateRequest::default()
                    .with_group_id(st("no-such-group"))
                    .with_topics(vec![
                        delete_share_group_state_request::DeleteStateData::default()
                            .with_topic_id(c.topic_id(DATA_TOPIC))
                            .with_partitions(vec![
                                delete_share_group_state_request::PartitionData::default()
                                    .with_partition(0),
                            ]),
                    ]),
            )
        })],
        ApiKey::DescribeShareGroupOffsets => vec![
            Shape::fixed(
                "joined-group",
                R::DescribeShareGroupOffsets(describe_share_offsets("sg-conf")),
            ),
            Shape::fixed(
                "unknown-group",
                R::DescribeShareGroupOffsets(describe_share_offsets("no-such-group")),
            ),
        ],
        ApiKey::AlterShareGroupOffsets => vec![Shape::fixed(
            "unknown-group",
            R::AlterShareGroupOffsets(
                AlterShareGroupOffsetsRequest::default()
                    .with_group_id(group("no-such-group"))
                    .with_topics(vec![
                        alter_share_group_offsets_request::AlterShareGroupOffsetsRequestTopic::default()
                            .with_topic_name(topic(DATA_TOPIC))
                            .with_partitions(vec![
                                alter_share_group_offsets_request::AlterShareGroupOffsetsRequestPartition::default()
                                    .with_partition_index(0)
                                    .with_start_offset(0),
                            ]),
                    ]),
            ),
        )],
        ApiKey::DeleteShareGroupOffsets => vec![Shape::fixed(
            "unknown-group",
            R::DeleteShareGroupOffsets(
                DeleteShareGroupOffsetsRequest::default()
                    .with_group_id(group("no-such-group"))
                    .with_topics(vec![
                        delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic::default()
                            .with_topic_name(topic(DATA_TOPIC)),
                    ]),
            ),
        )],
        _ => return None,
    })
}
