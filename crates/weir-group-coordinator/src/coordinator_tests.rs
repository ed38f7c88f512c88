//! Tests of the coordinator without a broker: an in-memory `__consumer_offsets`, a manual clock
//! and a fake topic view.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use weir_coordinator::testing::MemoryLog;
use weir_coordinator::{partition_for, Record};

use crate::classic::JoinParams;
use crate::consumer::HeartbeatParams;
use crate::records::{self, OffsetValue, RecordKey};
use crate::*;

pub(crate) const N: i32 = 5;
const START: i64 = 1_000_000;

struct Topics;

impl TopicView for Topics {
    fn partition_counts(&self) -> BTreeMap<String, i32> {
        [("t".to_string(), 3)].into()
    }
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        topic == "t" && (0..3).contains(&partition)
    }
}

fn config() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: 0,
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 1_000,
        ..GroupConfig::default()
    }
}

pub(crate) fn coordinator(log: &Arc<MemoryLog>, clock: &Arc<ManualClock>) -> GroupCoordinator {
    GroupCoordinator::new(
        config(),
        log.clone(),
        log.clone(),
        clock.clone(),
        Arc::new(Topics),
    )
}

pub(crate) fn all(epoch: i32) -> BTreeMap<i32, i32> {
    (0..N).map(|p| (p, epoch)).collect()
}

/// A coordinator leading every partition of an existing topic at epoch 0.
pub(crate) fn setup() -> (Arc<MemoryLog>, Arc<ManualClock>, GroupCoordinator) {
    let log = Arc::new(MemoryLog::with_topic(N));
    let clock = Arc::new(ManualClock::new(START));
    let c = coordinator(&log, &clock);
    c.sync_ownership(Some(N), &all(0));
    (log, clock, c)
}

pub(crate) fn simple() -> Committer {
    Committer {
        generation_or_epoch: -1,
        ..Default::default()
    }
}

pub(crate) fn entry(p: i32, offset: i64) -> (String, i32, i64, i32, String) {
    ("t".into(), p, offset, 1, "m".into())
}

pub(crate) fn offsets(c: &GroupCoordinator, g: &str) -> Vec<(String, i32, i64)> {
    c.fetch(g, None, None)
        .unwrap()
        .into_iter()
        .map(|(t, p, v)| (t, p, v.map_or(-1, |v| v.offset)))
        .collect()
}

pub(crate) fn join_params(member_id: &str) -> JoinParams {
    JoinParams {
        member_id: member_id.into(),
        instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"sub"))],
        require_known_member_id: false,
    }
}

/// A one-member classic group, Stable at generation 1; returns the member id.
pub(crate) async fn stable_group(c: &GroupCoordinator, g: &str) -> String {
    let o = c.join(g, join_params("")).await;
    assert_eq!((o.error, o.generation), (0, 1));
    let s = c
        .sync(
            g,
            &o.member_id,
            None,
            1,
            vec![(o.member_id.clone(), Bytes::from_static(b"asg"))],
        )
        .await;
    assert_eq!(s.error, 0);
    assert_eq!(s.assignment, Bytes::from_static(b"asg"));
    o.member_id
}

#[tokio::test]
async fn commit_then_fetch() {
    let (log, _, c) = setup();
    assert_eq!(
        c.commit("g", &simple(), vec![entry(0, 5), entry(2, 7)])
            .await,
        vec![0, 0]
    );
    assert_eq!(
        offsets(&c, "g"),
        vec![("t".into(), 0, 5), ("t".into(), 2, 7)]
    );
    let asked = c
        .fetch("g", None, Some(vec![("t".into(), vec![0, 1])]))
        .unwrap();
    assert_eq!(
        asked[0].2.as_ref().map(|v| (v.offset, v.leader_epoch)),
        Some((5, 1))
    );
    assert_eq!(asked[1], ("t".into(), 1, None));
    let p = partition_for("g", N);
    assert_eq!(c.coordinator_partition("g"), Some(p));
    let recs = log.records(p);
    assert_eq!(recs.len(), 2);
    let v = records::decode_offset(recs[0].value.as_deref().unwrap()).unwrap();
    assert_eq!(
        v,
        OffsetValue {
            offset: 5,
            leader_epoch: 1,
            metadata: "m".into(),
            commit_timestamp: START,
        }
    );
}

#[tokio::test]
async fn commit_refusals() {
    let (log, _, c) = setup();
    let big = "x".repeat(OFFSET_METADATA_MAX_BYTES + 1);
    let codes = c
        .commit(
            "g",
            &simple(),
            vec![
                entry(0, 1),
                ("t".into(), 3, 1, -1, String::new()),
                ("u".into(), 0, 1, -1, String::new()),
                ("t".into(), 1, 1, -1, big),
            ],
        )
        .await;
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    assert_eq!(
        codes,
        vec![
            0,
            unknown,
            unknown,
            ResponseError::OffsetMetadataTooLarge.code()
        ]
    );
    assert_eq!(log.records(partition_for("g", N)).len(), 1);
    // Generations of a classic group.
    let m = stable_group(&c, "h").await;
    let who = |gen| Committer {
        member_id: m.clone(),
        instance_id: None,
        generation_or_epoch: gen,
    };
    assert_eq!(
        c.commit("h", &who(2), vec![entry(0, 1)]).await,
        vec![ResponseError::IllegalGeneration.code()]
    );
    assert_eq!(
        c.commit("h", &simple(), vec![entry(0, 1)]).await,
        vec![ResponseError::UnknownMemberId.code()]
    );
    let stranger = Committer {
        member_id: "nobody".into(),
        instance_id: None,
        generation_or_epoch: 1,
    };
    assert_eq!(
        c.commit("h", &stranger, vec![entry(0, 1)]).await,
        vec![ResponseError::UnknownMemberId.code()]
    );
    assert!(offsets(&c, "h").is_empty());
    assert_eq!(c.commit("h", &who(1), vec![entry(0, 9)]).await, vec![0]);
    assert_eq!(offsets(&c, "h"), vec![("t".into(), 0, 9)]);
}

#[tokio::test]
async fn a_failed_write_leaves_no_offset_and_maps_the_error() {
    let (log, _, c) = setup();
    log.fail_next_append(WriteError::Timeout("isr too slow".into()));
    assert_eq!(
        c.commit("g", &simple(), vec![entry(0, 5), entry(9, 1)])
            .await,
        vec![15, 3]
    );
    assert!(offsets(&c, "g").is_empty());
    log.fail_next_append(WriteError::NotEnoughReplicas("isr".into()));
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 5)]).await, vec![15]);
    log.fail_next_append(WriteError::NotLeader("moved".into()));
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 5)]).await, vec![16]);
    log.fail_next_append(WriteError::Storage("disk".into()));
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 5)]).await, vec![16]);
    assert!(offsets(&c, "g").is_empty());
    assert!(log.records(partition_for("g", N)).is_empty());
    // Join waiters get the failed metadata write's error.
    log.fail_next_append(WriteError::Timeout("isr".into()));
    let o = c.join("k", join_params("")).await;
    assert_eq!(o.error, 0, "the join phase itself persists nothing");
    log.fail_next_append(WriteError::Timeout("isr".into()));
    let s = c.sync("k", &o.member_id, None, 1, vec![]).await;
    assert_eq!(s.error, 15);
}

#[tokio::test]
async fn offsets_of_an_empty_group_expire_after_retention() {
    let (log, clock, c) = setup();
    assert_eq!(
        c.commit("g", &simple(), vec![entry(0, 5), entry(1, 6)])
            .await,
        vec![0, 0]
    );
    c.tick().await;
    assert_eq!(offsets(&c, "g").len(), 2);
    clock.advance(59_000);
    c.tick().await;
    assert_eq!(offsets(&c, "g").len(), 2, "not yet");
    clock.advance(1_000);
    c.tick().await;
    assert!(offsets(&c, "g").is_empty());
    assert!(c.list_groups(&[], &[]).is_empty());
    let recs = log.records(partition_for("g", N));
    let tombstones: Vec<RecordKey> = recs[2..]
        .iter()
        .inspect(|r| assert!(r.value.is_none()))
        .map(|r| records::decode_key(&r.key).unwrap().unwrap())
        .collect();
    assert_eq!(
        tombstones.len(),
        4,
        "two offsets, group metadata, consumer group"
    );
    assert!(tombstones.contains(&RecordKey::Group { group: "g".into() }));
    // A restart sees nothing.
    let c2 = coordinator(&log, &clock);
    c2.sync_ownership(Some(N), &all(0));
    assert!(offsets(&c2, "g").is_empty());
    assert!(c2.list_groups(&[], &[]).is_empty());
}

#[tokio::test]
async fn a_restarted_coordinator_loads_what_the_earlier_one_wrote() {
    let (log, clock, c) = setup();
    let m = stable_group(&c, "g").await;
    assert_eq!(
        c.commit("g", &simple(), vec![entry(2, 11)]).await,
        vec![ResponseError::UnknownMemberId.code()]
    );
    let who = Committer {
        member_id: m.clone(),
        instance_id: None,
        generation_or_epoch: 1,
    };
    assert_eq!(c.commit("g", &who, vec![entry(2, 11)]).await, vec![0]);
    let hb = c
        .consumer_heartbeat(
            "cg",
            HeartbeatParams {
                member_epoch: 0,
                rebalance_timeout_ms: 30_000,
                subscribed: Some(["t".to_string()].into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(hb.error, 0);
    let epoch = hb.member_epoch;
    assert!(epoch > 0);
    drop(c);
    let c2 = coordinator(&log, &clock);
    assert!(
        c2.check_coordinator("g").is_ok(),
        "topic not synced yet: anyone may answer"
    );
    let change = c2.sync_ownership(Some(N), &all(0));
    assert_eq!(change.loaded.len(), N as usize);
    assert_eq!(offsets(&c2, "g"), vec![("t".into(), 2, 11)]);
    let d = c2.describe_groups(&["g".into(), "cg".into(), "none".into()]);
    let g = d[0].clone().unwrap().unwrap();
    assert_eq!(
        (g.state, g.group_type, g.protocol_type.as_str()),
        ("Stable", "classic", "consumer")
    );
    match g.detail {
        GroupDetail::Classic(cd) => {
            assert_eq!(cd.protocol, "range");
            assert_eq!(cd.generation, 1);
            assert_eq!(cd.members.len(), 1);
            assert_eq!(cd.members[0].member_id, m);
            assert_eq!(cd.members[0].metadata, Bytes::from_static(b"sub"));
            assert_eq!(cd.members[0].assignment, Bytes::from_static(b"asg"));
        }
        other => panic!("{other:?}"),
    }
    let cg = d[1].clone().unwrap().unwrap();
    assert_eq!((cg.state, cg.group_type), ("Stable", "consumer"));
    match cg.detail {
        GroupDetail::Consumer(cd) => {
            assert_eq!(
                (cd.group_epoch, cd.assignment_epoch, cd.assignor.as_str()),
                (epoch, epoch, "uniform")
            );
            assert_eq!(cd.members[0].member_epoch, epoch);
            assert_eq!(cd.members[0].subscribed_topics, vec!["t".to_string()]);
            assert_eq!(cd.members[0].assigned.get("t").map(|s| s.len()), Some(3));
            assert_eq!(cd.members[0].target, cd.members[0].assigned);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d[2], Ok(None));
    let listed: Vec<(String, &str)> = c2
        .list_groups(&[], &[])
        .into_iter()
        .map(|l| (l.group_id, l.group_type))
        .collect();
    assert_eq!(
        listed,
        vec![("cg".into(), "consumer"), ("g".into(), "classic")]
    );
    assert_eq!(
        c2.list_groups(&["STABLE".into()], &["Consumer".into()])
            .len(),
        1
    );
    // The member's session restarted at load: the classic member is still known.
    assert_eq!(c2.heartbeat("g", &m, None, 1), 0);
}

#[tokio::test]
async fn leadership_loss_unloads_and_a_new_epoch_reloads_other_leaders_writes() {
    let (log, _, c) = setup();
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 5)]).await, vec![0]);
    let p = partition_for("g", N);
    let others: BTreeMap<i32, i32> = all(0).into_iter().filter(|(q, _)| *q != p).collect();
    let change = c.sync_ownership(Some(N), &others);
    assert_eq!(change.unloaded, vec![p]);
    assert_eq!(c.check_coordinator("g").unwrap_err().code(), 16);
    assert_eq!(c.fetch("g", None, None).unwrap_err().code(), 16);
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 6)]).await, vec![16]);
    assert_eq!(c.delete_groups(&["g".into()]).await, vec![16]);
    assert_eq!(c.heartbeat("g", "m", None, 1), 16);
    assert!(c.describe_groups(&["g".into()])[0].is_err());
    // Another leader committed meanwhile.
    let key = RecordKey::Offset {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
    };
    let v = OffsetValue {
        offset: 42,
        leader_epoch: 2,
        metadata: String::new(),
        commit_timestamp: START,
    };
    log.push(
        p,
        vec![Record {
            key: records::encode_key(&key),
            value: Some(records::encode_offset(&v)),
        }],
    );
    log.set_epoch(p, 1);
    let change = c.sync_ownership(Some(N), &all(1));
    assert!(change.loaded.contains(&(p, 1)));
    assert_eq!(offsets(&c, "g"), vec![("t".into(), 0, 42)]);
    assert_eq!(c.owned().get(&p), Some(&1));
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 43)]).await, vec![0]);
}

#[tokio::test]
async fn load_in_progress_until_the_partition_is_loaded() {
    let log = Arc::new(MemoryLog::with_topic(N));
    let clock = Arc::new(ManualClock::new(START));
    let c = coordinator(&log, &clock);
    let p = partition_for("g", N);
    log.fail_reads(p, true);
    let change = c.sync_ownership(Some(N), &all(0));
    assert_eq!(change.failed, vec![p]);
    assert_eq!(c.check_coordinator("g").unwrap_err().code(), 14);
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 1)]).await, vec![14]);
    assert_eq!(c.fetch("g", None, None).unwrap_err().code(), 14);
    assert_eq!(c.join("g", join_params("")).await.error, 14);
    log.fail_reads(p, false);
    c.sync_ownership(Some(N), &all(0));
    assert!(c.check_coordinator("g").is_ok());
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 1)]).await, vec![0]);
}

#[tokio::test]
async fn the_first_write_creates_the_offsets_topic() {
    let log = Arc::new(MemoryLog::new(N));
    let clock = Arc::new(ManualClock::new(START));
    let c = Arc::new(coordinator(&log, &clock));
    let weak = Arc::downgrade(&c);
    log.on_create(Box::new(move |n| {
        if let Some(c) = weak.upgrade() {
            c.sync_ownership(Some(n), &(0..n).map(|p| (p, 0)).collect());
        }
    }));
    // Before the topic exists every broker may answer, and reads create nothing.
    assert!(c.check_coordinator("g").is_ok());
    assert_eq!(c.coordinator_partition("g"), None);
    assert!(offsets(&c, "g").is_empty());
    assert_eq!(c.describe_groups(&["g".into()]), vec![Ok(None)]);
    assert_eq!(
        c.heartbeat("g", "m", None, 1),
        ResponseError::UnknownMemberId.code()
    );
    assert_eq!(
        c.delete_groups(&["g".into()]).await,
        vec![ResponseError::GroupIdNotFound.code()]
    );
    assert_eq!(log.ensure_calls(), 0);
    assert_eq!(c.commit("g", &simple(), vec![entry(0, 1)]).await, vec![0]);
    assert_eq!(log.partitions(), Some(N));
    assert_eq!(offsets(&c, "g"), vec![("t".into(), 0, 1)]);
}

#[tokio::test]
async fn a_join_waiting_when_the_group_is_unloaded_gets_not_coordinator() {
    let (_, _, c) = setup();
    let c = Arc::new(c);
    let first = c.join("g", join_params("")).await;
    assert_eq!(first.generation, 1);
    // A second member starts a rebalance and waits for the first to rejoin.
    let waiting = tokio::spawn({
        let c = c.clone();
        async move { c.join("g", join_params("")).await }
    });
    while c
        .list_groups(&["PreparingRebalance".into()], &[])
        .is_empty()
    {
        tokio::task::yield_now().await;
    }
    c.sync_ownership(Some(N), &BTreeMap::new());
    assert_eq!(waiting.await.unwrap().error, 16);
}

#[tokio::test]
async fn consumer_heartbeat_is_installed_only_after_its_record() {
    let (log, _, c) = setup();
    log.fail_next_append(WriteError::Timeout("isr".into()));
    let join = HeartbeatParams {
        member_id: "m1".into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed: Some(["t".to_string()].into()),
        ..Default::default()
    };
    let o = c.consumer_heartbeat("cg", join.clone()).await;
    assert_eq!(
        (o.error, o.member_epoch, o.member_id.as_str()),
        (15, -1, "m1")
    );
    let d = c
        .describe_groups(&["cg".into()])
        .remove(0)
        .unwrap()
        .unwrap();
    assert_eq!(d.state, "Empty", "the failed join was not installed");
    let o = c.consumer_heartbeat("cg", join).await;
    assert_eq!(o.error, 0);
    assert!(o.member_epoch > 0);
    let recs = log.records(partition_for("cg", N));
    assert_eq!(recs.len(), 1);
    assert_eq!(
        records::decode_key(&recs[0].key).unwrap(),
        Some(RecordKey::ConsumerGroup { group: "cg".into() })
    );
    // A classic join of a non-empty consumer group is refused; offsets need the member epoch.
    assert_eq!(
        c.join("cg", join_params("")).await.error,
        ResponseError::InconsistentGroupProtocol.code()
    );
    let stale = Committer {
        member_id: "m1".into(),
        instance_id: None,
        generation_or_epoch: 7,
    };
    assert_eq!(
        c.commit("cg", &stale, vec![entry(0, 1)]).await,
        vec![ResponseError::StaleMemberEpoch.code()]
    );
    assert_eq!(
        c.fetch("cg", Some(&stale), None).unwrap_err().code(),
        ResponseError::StaleMemberEpoch.code()
    );
}

#[tokio::test]
async fn delete_groups_and_offsets() {
    let (log, _, c) = setup();
    assert_eq!(
        c.commit("g", &simple(), vec![entry(0, 1), entry(1, 2)])
            .await,
        vec![0, 0]
    );
    let p = partition_for("g", N);
    // OffsetDelete tombstones only the deleted offsets.
    assert_eq!(
        c.delete_offsets("g", vec![("t".into(), 0), ("t".into(), 2)])
            .await,
        Ok(vec![0, 0])
    );
    assert_eq!(offsets(&c, "g"), vec![("t".into(), 1, 2)]);
    let recs = log.records(p);
    assert_eq!(recs.len(), 3);
    assert_eq!(
        records::decode_key(&recs[2].key).unwrap(),
        Some(RecordKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 0
        })
    );
    assert_eq!(
        c.delete_offsets("nope", vec![]).await.unwrap_err().code(),
        ResponseError::GroupIdNotFound.code()
    );
    let m = stable_group(&c, "busy").await;
    assert!(!m.is_empty());
    assert_eq!(
        c.delete_groups(&["g".into(), "busy".into(), "nope".into()])
            .await,
        vec![
            0,
            ResponseError::NonEmptyGroup.code(),
            ResponseError::GroupIdNotFound.code()
        ]
    );
    assert!(offsets(&c, "g").is_empty());
    assert_eq!(
        log.records(p).len(),
        6,
        "plus offset, group and consumer-group tombstones"
    );
    // Leaving empties the group (metadata persisted), then it can be deleted.
    assert_eq!(c.leave("busy", &[(m, None)]).await, vec![0]);
    assert_eq!(c.delete_groups(&["busy".into()]).await, vec![0]);
    assert_eq!(c.describe_groups(&["busy".into()]), vec![Ok(None)]);
}

/// The broker spawns these futures: they must be Send.
#[allow(dead_code)]
fn futures_are_send(c: &GroupCoordinator, who: &Committer) {
    fn send<T: Send>(_: T) {}
    send(c.join("g", join_params("")));
    send(c.sync("g", "m", None, 1, vec![]));
    send(c.leave("g", &[]));
    send(c.consumer_heartbeat("g", HeartbeatParams::default()));
    send(c.commit("g", who, vec![]));
    send(c.delete_offsets("g", vec![]));
    send(c.delete_groups(&[]));
    send(c.tick());
}
