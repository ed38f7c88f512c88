//! Kafka 4.4's newest group and transactional-offset API versions at the protocol level against
//! a real `weir` process: DeleteGroups v3 (per-group error message), OffsetCommit and OffsetFetch
//! v10 (topics by id, UNKNOWN_TOPIC_ID), TxnOffsetCommit v6 (topics by id, KIP-1319's codes).

use std::path::Path;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponseTopics;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::RawClient;
use weir_test_support::{BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// The id of `topic` (Metadata v12).
fn topic_id(c: &mut RawClient, topic: &str) -> Uuid {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(s(topic)));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    resp.topics[0].topic_id
}

/// A simple-group (generation -1, no member) OffsetCommit `version` of `offset` to each of
/// `partitions` of each topic, named by `name` (v2–v9) or `id` (v10).
fn commit(
    c: &mut RawClient,
    version: i16,
    group: &str,
    topics: &[(&str, Uuid)],
    partitions: &[i32],
    offset: i64,
) -> OffsetCommitResponse {
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(s(group));
    req.generation_id_or_member_epoch = -1;
    req.topics = topics
        .iter()
        .map(|&(name, id)| {
            let mut t = OffsetCommitRequestTopic::default();
            if version >= 10 {
                t.topic_id = id;
            } else {
                t.name = TopicName(s(name));
            }
            t.partitions = partitions
                .iter()
                .map(|&p| {
                    let mut rp = OffsetCommitRequestPartition::default();
                    rp.partition_index = p;
                    rp.committed_offset = offset;
                    rp.committed_metadata = Some(s("m"));
                    rp
                })
                .collect();
            t
        })
        .collect();
    c.call(ApiKey::OffsetCommit, version, &req)
}

/// OffsetFetch `version` (8+) of `group`: the given topics (by name below v10, by id from v10)
/// and partitions, or every committed one (`None`). Returns the group's (error, topics).
fn fetch(
    c: &mut RawClient,
    version: i16,
    group: &str,
    topics: Option<&[(&str, Uuid)]>,
    partitions: &[i32],
) -> (i16, Vec<OffsetFetchResponseTopics>) {
    let mut g = OffsetFetchRequestGroup::default();
    g.group_id = GroupId(s(group));
    g.topics = topics.map(|ts| {
        ts.iter()
            .map(|&(name, id)| {
                let mut t = OffsetFetchRequestTopics::default();
                if version >= 10 {
                    t.topic_id = id;
                } else {
                    t.name = TopicName(s(name));
                }
                t.partition_indexes = partitions.to_vec();
                t
            })
            .collect()
    });
    let mut req = OffsetFetchRequest::default();
    req.groups = vec![g];
    let mut resp: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, version, &req);
    let g = resp.groups.remove(0);
    (g.error_code, g.topics)
}

/// (partition, committed offset, error) of each partition of `t`.
fn offsets(t: &OffsetFetchResponseTopics) -> Vec<(i32, i64, i16)> {
    t.partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset, p.error_code))
        .collect()
}

#[test]
fn delete_groups_v3_answers_each_group_with_a_null_message() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "orders", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let r = commit(&mut c, 9, "dg", &[("orders", Uuid::nil())], &[0], 3);
    assert_eq!(r.topics[0].partitions[0].error_code, 0, "{r:?}");

    let mut del = DeleteGroupsRequest::default();
    del.groups_names = vec![GroupId(s("dg")), GroupId(s("nope"))];
    let d: DeleteGroupsResponse = c.call(ApiKey::DeleteGroups, 3, &del);
    let got: Vec<_> = d
        .results
        .iter()
        .map(|r| (r.group_id.0.as_str(), r.error_code, r.error_message.clone()))
        .collect();
    // GROUP_ID_NOT_FOUND for the unknown one; Kafka 4.4 leaves the message null for both.
    assert_eq!(got, [("dg", 0, None), ("nope", 69, None)], "{d:?}");
    // Deleted for good: a second time it is not found.
    let d: DeleteGroupsResponse = c.call(ApiKey::DeleteGroups, 3, &del);
    assert_eq!(d.results[0].error_code, 69, "{d:?}");
}

#[test]
fn offset_commit_and_fetch_v10_name_topics_by_id() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "orders", 2, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let id = topic_id(&mut c, "orders");
    assert!(!id.is_nil());
    let ghost = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);

    // v10 commits by id; partition 7 does not exist; an unknown id is UNKNOWN_TOPIC_ID.
    let r = commit(&mut c, 10, "g10", &[("", id), ("", ghost)], &[0, 7], 42);
    let got: Vec<_> = r
        .topics
        .iter()
        .map(|t| {
            let codes: Vec<_> = t
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
                .collect();
            (t.topic_id, codes)
        })
        .collect();
    assert_eq!(
        got,
        [
            (id, vec![(0, 0), (7, 3)]),
            (ghost, vec![(0, 100), (7, 100)])
        ],
        "{r:?}"
    );

    // v10 fetches by id; the unknown id answers UNKNOWN_TOPIC_ID with offset -1.
    let (err, topics) = fetch(&mut c, 10, "g10", Some(&[("", id), ("", ghost)]), &[0, 1]);
    assert_eq!(err, 0);
    assert_eq!(topics.len(), 2, "{topics:?}");
    assert_eq!(topics[0].topic_id, id);
    assert_eq!(offsets(&topics[0]), [(0, 42, 0), (1, -1, 0)]);
    assert_eq!(topics[0].partitions[0].metadata.as_deref(), Some("m"));
    assert_eq!(topics[1].topic_id, ghost);
    assert_eq!(offsets(&topics[1]), [(0, -1, 100), (1, -1, 100)]);

    // Every committed topic (null): named by id in v10, by name in v9.
    let (err, topics) = fetch(&mut c, 10, "g10", None, &[]);
    assert_eq!(err, 0);
    assert_eq!(topics.len(), 1, "{topics:?}");
    assert_eq!(topics[0].topic_id, id);
    assert_eq!(offsets(&topics[0]), [(0, 42, 0)]);
    let (_, topics) = fetch(&mut c, 9, "g10", None, &[]);
    assert_eq!(
        (topics[0].name.0.as_str(), topics[0].topic_id),
        ("orders", Uuid::nil())
    );

    // The same offsets whichever way the topic is named: v9 by name, then v10 by id.
    let r = commit(&mut c, 9, "g10", &[("orders", Uuid::nil())], &[1], 7);
    assert_eq!(r.topics[0].partitions[0].error_code, 0, "{r:?}");
    let (_, topics) = fetch(&mut c, 10, "g10", Some(&[("", id)]), &[0, 1]);
    assert_eq!(offsets(&topics[0]), [(0, 42, 0), (1, 7, 0)]);
    let (_, topics) = fetch(&mut c, 9, "g10", Some(&[("orders", Uuid::nil())]), &[0, 1]);
    assert_eq!(offsets(&topics[0]), [(0, 42, 0), (1, 7, 0)]);
}

/// A topic's id and name in an answer, with (partition, error) of each of its partitions.
type TopicCodes = (Uuid, String, Vec<(i32, i16)>);

/// TxnOffsetCommit `version` (5+: the offsets partition joins the transaction itself) of
/// transactional id `id`'s producer, `offset` to partition 0 of each topic, named by name
/// (v0–v5) or id (v6), for group `group` at `generation` (-1: a simple group). Returns (topic id, name, [(partition, error)]) per topic.
fn txn_commit(
    c: &mut RawClient,
    version: i16,
    (id, pid, epoch): (&str, i64, i16),
    (group, generation): (&str, i32),
    topics: &[(&str, Uuid)],
    offset: i64,
) -> Vec<TopicCodes> {
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    let mut req = TxnOffsetCommitRequest::default();
    req.transactional_id = TransactionalId(s(id));
    req.group_id = GroupId(s(group));
    req.producer_id = pid.into();
    req.producer_epoch = epoch;
    req.generation_id = generation;
    req.topics = topics
        .iter()
        .map(|&(name, id)| {
            let mut p = TxnOffsetCommitRequestPartition::default();
            p.partition_index = 0;
            p.committed_offset = offset;
            let mut t = TxnOffsetCommitRequestTopic::default();
            if version >= 6 {
                t.topic_id = id;
            } else {
                t.name = TopicName(s(name));
            }
            t.partitions = vec![p];
            t
        })
        .collect();
    let resp: TxnOffsetCommitResponse = c.call(ApiKey::TxnOffsetCommit, version, &req);
    resp.topics
        .iter()
        .map(|t| {
            let codes = t
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
                .collect();
            (t.topic_id, t.name.to_string(), codes)
        })
        .collect()
}

/// InitProducerId v4 of transactional id `id`: (producer id, epoch).
fn init_producer(c: &mut RawClient, id: &str) -> (i64, i16) {
    let init: InitProducerIdResponse = c.call(
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(id))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id((-1).into())
            .with_producer_epoch(-1),
    );
    assert_eq!(init.error_code, 0, "{init:?}");
    (init.producer_id.0, init.producer_epoch)
}

#[test]
fn txn_offset_commit_below_v5_needs_the_offsets_partition_in_the_transaction() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "orders", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let (pid, epoch) = init_producer(&mut c, "tx1");
    // As a client does first: find the group's coordinator (which creates `__consumer_offsets`).
    let found = weir_test_support::wait_until(std::time::Duration::from_secs(30), || {
        let r: FindCoordinatorResponse = c.call(
            ApiKey::FindCoordinator,
            3,
            &FindCoordinatorRequest::default()
                .with_key(s("tg1"))
                .with_key_type(0),
        );
        r.error_code == 0
    });
    assert!(found, "no coordinator for group tg1");
    let commit = |c: &mut RawClient, id: &str| {
        let got = txn_commit(
            c,
            3,
            (id, pid, epoch),
            ("tg1", -1),
            &[("orders", Uuid::nil())],
            5,
        );
        got[0].2[0].1
    };
    // An unknown transactional id; then a transaction without AddOffsetsToTxn.
    assert_eq!(
        commit(&mut c, "no-such-txn"),
        49,
        "INVALID_PRODUCER_ID_MAPPING"
    );
    assert_eq!(commit(&mut c, "tx1"), 48, "INVALID_TXN_STATE");
    let added: AddOffsetsToTxnResponse = c.call(
        ApiKey::AddOffsetsToTxn,
        3,
        &AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(s("tx1")))
            .with_producer_id(pid.into())
            .with_producer_epoch(epoch)
            .with_group_id(GroupId(s("tg1"))),
    );
    assert_eq!(added.error_code, 0, "{added:?}");
    assert_eq!(commit(&mut c, "tx1"), 0);
}

#[test]
fn txn_offset_commit_v6_names_topics_by_id_and_answers_kip_1319_codes() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "orders", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let id = topic_id(&mut c, "orders");
    let ghost = Uuid::from_u128(77);
    let producer = init_producer(&mut c, "tx");

    // An unknown group asked with a generation: GROUP_ID_NOT_FOUND from v6, ILLEGAL_GENERATION
    // before.
    for (version, want) in [(6, 69), (5, 22)] {
        let got = txn_commit(
            &mut c,
            version,
            ("tx", producer.0, producer.1),
            ("nogroup", 4),
            &[("orders", id)],
            1,
        );
        assert_eq!(got[0].2, [(0, want)], "v{version}: {got:?}");
    }

    // By id, with an unknown id beside it; the answer names each topic by its id.
    let got = txn_commit(
        &mut c,
        6,
        ("tx", producer.0, producer.1),
        ("tg", -1),
        &[("", id), ("", ghost)],
        11,
    );
    assert_eq!(
        got,
        [
            (id, String::new(), vec![(0, 0)]),
            (ghost, String::new(), vec![(0, 100)])
        ]
    );
    // Pending until the transaction commits; then OffsetFetch v10 reads it by id.
    let (_, topics) = fetch(&mut c, 10, "tg", Some(&[("", id)]), &[0]);
    assert_eq!(offsets(&topics[0]), [(0, -1, 0)]);
    let end: EndTxnResponse = c.call(
        ApiKey::EndTxn,
        5,
        &EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s("tx")))
            .with_producer_id(producer.0.into())
            .with_producer_epoch(producer.1)
            .with_committed(true),
    );
    assert_eq!(end.error_code, 0, "{end:?}");
    let committed = weir_test_support::wait_until(std::time::Duration::from_secs(10), || {
        let (_, topics) = fetch(&mut c, 10, "tg", Some(&[("", id)]), &[0]);
        offsets(&topics[0]) == [(0, 11, 0)]
    });
    assert!(
        committed,
        "the offset committed by the transaction never became visible"
    );
}
