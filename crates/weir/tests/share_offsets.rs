//! Share-group offsets (KIP-932, KIP-1226) at the protocol level against a real `weir` process:
//! DescribeShareGroupOffsets v0/v1 (start offset, lag, -1 for a never-initialized partition),
//! AlterShareGroupOffsets (NON_EMPTY_GROUP with members, GROUP_ID_NOT_FOUND, the next member
//! acquires from the new start offset) and DeleteShareGroupOffsets (the state is gone); and
//! `weir groups list|describe|reset-offsets` on a share group.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use kafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
use kafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::describe_share_group_offsets_response::DescribeShareGroupOffsetsResponsePartition as Described;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch,
};
use kafka_protocol::messages::share_fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::{create_topic, flush, producer, send};
use weir_test_support::raw::RawClient;
use weir_test_support::{BrokerOptions, BrokerProcess};

const GROUP: &str = "offsets-g";

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic_id(c: &mut RawClient, topic: &str) -> uuid::Uuid {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(s(topic)));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    resp.topics[0].topic_id
}

fn heartbeat(c: &mut RawClient, member: &str, epoch: i32) -> ShareGroupHeartbeatResponse {
    let mut req = ShareGroupHeartbeatRequest::default();
    req.group_id = GroupId(s(GROUP));
    req.member_id = s(member);
    req.member_epoch = epoch;
    req.subscribed_topic_names = (epoch == 0).then(|| vec![TopicName(s("t"))]);
    let resp: ShareGroupHeartbeatResponse = c.call(ApiKey::ShareGroupHeartbeat, 1, &req);
    assert_eq!(resp.error_code, 0, "{resp:?}");
    resp
}

/// Open a share session for `member` and acquire what it can: the acquired ranges.
fn acquire(c: &mut RawClient, id: uuid::Uuid, member: &str) -> Vec<(i64, i64)> {
    let mut p = FetchPartition::default();
    p.partition_index = 0;
    let mut t = FetchTopic::default();
    t.topic_id = id;
    t.partitions = vec![p];
    let mut req = ShareFetchRequest::default();
    req.group_id = Some(GroupId(s(GROUP)));
    req.member_id = Some(s(member));
    req.share_session_epoch = 0;
    req.max_wait_ms = 5000;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.max_records = 100;
    req.topics = vec![t];
    let resp: ShareFetchResponse = c.call(ApiKey::ShareFetch, 1, &req);
    assert_eq!(resp.error_code, 0, "{resp:?}");
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0, "{resp:?}");
    p.acquired_records
        .iter()
        .map(|r| (r.first_offset, r.last_offset))
        .collect()
}

/// Acknowledge `acks` (offset, type: 1 accept, 2 release, 3 reject) in `member`'s session
/// (at epoch 1, right after [`acquire`]).
fn acknowledge(c: &mut RawClient, id: uuid::Uuid, member: &str, acks: &[(i64, i8)]) {
    let mut p = AcknowledgePartition::default();
    p.partition_index = 0;
    p.acknowledgement_batches = acks
        .iter()
        .map(|&(o, t)| {
            let mut b = AcknowledgementBatch::default();
            b.first_offset = o;
            b.last_offset = o;
            b.acknowledge_types = vec![t];
            b
        })
        .collect();
    let mut t = AcknowledgeTopic::default();
    t.topic_id = id;
    t.partitions = vec![p];
    let mut req = ShareAcknowledgeRequest::default();
    req.group_id = Some(GroupId(s(GROUP)));
    req.member_id = Some(s(member));
    req.share_session_epoch = 1;
    req.topics = vec![t];
    let resp: ShareAcknowledgeResponse = c.call(ApiKey::ShareAcknowledge, 1, &req);
    assert_eq!(resp.error_code, 0, "{resp:?}");
    assert_eq!(resp.responses[0].partitions[0].error_code, 0, "{resp:?}");
}

fn describe(
    c: &mut RawClient,
    v: i16,
    topics: Option<&[(&str, i32)]>,
) -> DescribeShareGroupOffsetsResponseGroup {
    let mut g = DescribeShareGroupOffsetsRequestGroup::default();
    g.group_id = GroupId(s(GROUP));
    g.topics = topics.map(|ts| {
        ts.iter()
            .map(|(name, p)| {
                let mut t = DescribeShareGroupOffsetsRequestTopic::default();
                t.topic_name = TopicName(s(name));
                t.partitions = vec![*p];
                t
            })
            .collect()
    });
    let mut req = DescribeShareGroupOffsetsRequest::default();
    req.groups = vec![g];
    let mut resp: DescribeShareGroupOffsetsResponse =
        c.call(ApiKey::DescribeShareGroupOffsets, v, &req);
    resp.groups.remove(0)
}

use kafka_protocol::messages::describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseGroup;

fn only(g: &DescribeShareGroupOffsetsResponseGroup) -> &Described {
    assert_eq!(g.error_code, 0, "{g:?}");
    &g.topics[0].partitions[0]
}

fn alter(c: &mut RawClient, group: &str, start: i64) -> AlterShareGroupOffsetsResponse {
    let mut p = AlterShareGroupOffsetsRequestPartition::default();
    p.partition_index = 0;
    p.start_offset = start;
    let mut t = AlterShareGroupOffsetsRequestTopic::default();
    t.topic_name = TopicName(s("t"));
    t.partitions = vec![p];
    let mut req = AlterShareGroupOffsetsRequest::default();
    req.group_id = GroupId(s(group));
    req.topics = vec![t];
    c.call(ApiKey::AlterShareGroupOffsets, 0, &req)
}

fn delete(c: &mut RawClient, topics: &[&str]) -> DeleteShareGroupOffsetsResponse {
    let mut req = DeleteShareGroupOffsetsRequest::default();
    req.group_id = GroupId(s(GROUP));
    req.topics = topics
        .iter()
        .map(|n| {
            let mut t = DeleteShareGroupOffsetsRequestTopic::default();
            t.topic_name = TopicName(s(n));
            t
        })
        .collect();
    c.call(ApiKey::DeleteShareGroupOffsets, 0, &req)
}

fn earliest(c: &mut RawClient) {
    let mut cfg = AlterableConfig::default();
    cfg.name = s("share.auto.offset.reset");
    cfg.config_operation = 0;
    cfg.value = Some(s("earliest"));
    let mut r = AlterConfigsResource::default();
    r.resource_type = 32;
    r.resource_name = s(GROUP);
    r.configs = vec![cfg];
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![r];
    let resp: IncrementalAlterConfigsResponse = c.call(ApiKey::IncrementalAlterConfigs, 1, &req);
    assert_eq!(resp.responses[0].error_code, 0);
}

#[test]
fn share_group_offsets_describe_alter_delete() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    create_topic(&b.bootstrap(), "other", 1, &[]);
    let (p, _log) = producer(&b.bootstrap(), &[]);
    for i in 0..5 {
        send(&p, "t", Some(0), None, format!("v{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    let mut c = RawClient::connect(&b.bootstrap());
    let id = topic_id(&mut c, "t");
    earliest(&mut c);

    // Unknown group: GROUP_ID_NOT_FOUND everywhere.
    assert_eq!(describe(&mut c, 1, None).error_code, 69);
    assert_eq!(alter(&mut c, GROUP, 0).error_code, 69);
    assert_eq!(delete(&mut c, &["t"]).error_code, 69);

    // A member acquires all five records (not acknowledged).
    let m1 = heartbeat(&mut c, "m1", 0);
    assert_eq!(acquire(&mut c, id, "m1"), vec![(0, 4)]);
    let d = describe(&mut c, 1, Some(&[("t", 0)]));
    assert_eq!((only(&d).start_offset, only(&d).lag), (0, 5), "{d:?}");
    // v0 has no lag on the wire.
    assert_eq!(only(&describe(&mut c, 0, Some(&[("t", 0)]))).lag, -1);
    // Null topics: every initialized share-partition; "other" has none.
    let all = describe(&mut c, 1, None);
    assert_eq!(all.topics.len(), 1, "{all:?}");
    assert_eq!(all.topics[0].topic_id, id);
    // Never initialized: start offset -1; unknown topic: UNKNOWN_TOPIC_OR_PARTITION.
    assert_eq!(
        only(&describe(&mut c, 1, Some(&[("other", 0)]))).start_offset,
        -1
    );
    assert_eq!(
        only(&describe(&mut c, 1, Some(&[("nope", 0)]))).error_code,
        3
    );

    // Alter and delete need an empty group.
    let refused = alter(&mut c, GROUP, 3);
    assert_eq!(refused.error_code, 68, "{refused:?}");
    assert_eq!(refused.responses[0].partitions[0].error_code, 68);
    assert_eq!(delete(&mut c, &["t"]).error_code, 68);

    // Empty now: alter to 3; the next member acquires from 3.
    heartbeat(&mut c, "m1", -1);
    assert_eq!(m1.error_code, 0);
    let altered = alter(&mut c, GROUP, 3);
    assert_eq!(altered.error_code, 0, "{altered:?}");
    assert_eq!(altered.responses[0].partitions[0].error_code, 0);
    assert_eq!(altered.responses[0].topic_id, id);
    let d = describe(&mut c, 1, Some(&[("t", 0)]));
    assert_eq!((only(&d).start_offset, only(&d).lag), (3, 2), "{d:?}");
    heartbeat(&mut c, "m2", 0);
    assert_eq!(acquire(&mut c, id, "m2"), vec![(3, 4)]);
    heartbeat(&mut c, "m2", -1);

    // Delete: the state is gone; an unknown topic is a topic error.
    let deleted = delete(&mut c, &["t", "nope"]);
    assert_eq!(deleted.error_code, 0, "{deleted:?}");
    assert_eq!(deleted.responses[0].error_code, 0);
    assert_eq!(deleted.responses[1].error_code, 3);
    assert_eq!(
        only(&describe(&mut c, 1, Some(&[("t", 0)]))).start_offset,
        -1
    );
    assert!(describe(&mut c, 1, None).topics.is_empty());
    // The next member starts again from share.auto.offset.reset (earliest).
    heartbeat(&mut c, "m3", 0);
    assert_eq!(acquire(&mut c, id, "m3"), vec![(0, 4)]);
}

fn cli(b: &BrokerProcess, args: &[&str]) -> Output {
    let bs = b.bootstrap();
    let mut all = vec!["groups", "-b", bs.as_str()];
    all.extend_from_slice(args);
    Command::new(weir()).args(&all).output().expect("run weir")
}

fn cli_ok(b: &BrokerProcess, args: &[&str]) -> String {
    let out = cli(b, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "weir groups {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `weir groups describe --json` of GROUP: (start offset, lag, in-flight, archived) of t-0.
fn cli_offsets(b: &BrokerProcess) -> (i64, i64, i64, i64) {
    let v: serde_json::Value =
        serde_json::from_str(&cli_ok(b, &["--json", "describe", GROUP])).expect("json");
    let o = &v["offsets"][0];
    assert_eq!(o["topic"], "t", "{v}");
    (
        o["start_offset"].as_i64().unwrap(),
        o["lag"].as_i64().unwrap(),
        o["in_flight"].as_i64().unwrap(),
        o["archived"].as_i64().unwrap(),
    )
}

#[test]
fn weir_groups_cli_lists_describes_and_resets_share_groups() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    let (p, _log) = producer(&b.bootstrap(), &[]);
    for i in 0..5 {
        send(&p, "t", Some(0), None, format!("v{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    let mut c = RawClient::connect(&b.bootstrap());
    let id = topic_id(&mut c, "t");
    earliest(&mut c);
    let m1 = heartbeat(&mut c, "m1", 0);
    assert_eq!(acquire(&mut c, id, "m1"), vec![(0, 4)]);

    assert!(cli_ok(&b, &["list"])
        .lines()
        .any(|l| l == format!("{GROUP}\tshare")));
    // A member holds all five records: start 0, lag 5 (acquisitions are not persisted, so
    // nothing is in flight yet for the share coordinator); the member is shown.
    assert_eq!(cli_offsets(&b), (0, 5, 0, 0));
    // Accept 0, release 1, reject 2: start 1, one in flight (delivered, to be redelivered),
    // one archived, lag 5 - 1 - 1 = 3.
    acknowledge(&mut c, id, "m1", &[(0, 1), (1, 2), (2, 3)]);
    assert_eq!(cli_offsets(&b), (1, 3, 1, 1));
    let text = cli_ok(&b, &["describe", GROUP]);
    assert!(text.contains("Type: share"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(m1.member_id.as_deref().unwrap_or("?")) && l.contains("t:0")),
        "{text}"
    );

    // Refused while the member is there, with a clear message.
    let refused = cli(
        &b,
        &[
            "reset-offsets",
            GROUP,
            "--topic",
            "t",
            "--to-latest",
            "--execute",
        ],
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("stop its share consumers"), "{err}");

    heartbeat(&mut c, "m1", -1);
    // A dry run changes nothing; --execute moves the start offset.
    cli_ok(
        &b,
        &["reset-offsets", GROUP, "--topic", "t", "--to-offset", "2"],
    );
    assert_eq!(cli_offsets(&b).0, 1);
    let plan = cli_ok(
        &b,
        &[
            "reset-offsets",
            GROUP,
            "--topic",
            "t",
            "--to-offset",
            "2",
            "--execute",
        ],
    );
    assert!(
        plan.lines()
            .any(|l| l.split_whitespace().eq([GROUP, "t", "0", "2"])),
        "{plan}"
    );
    assert_eq!(cli_offsets(&b), (2, 3, 0, 0));
    cli_ok(
        &b,
        &[
            "reset-offsets",
            GROUP,
            "--topic",
            "t",
            "--to-latest",
            "--execute",
        ],
    );
    assert_eq!(cli_offsets(&b), (5, 0, 0, 0));
    cli_ok(
        &b,
        &[
            "reset-offsets",
            GROUP,
            "--topic",
            "t",
            "--to-earliest",
            "--execute",
        ],
    );
    assert_eq!(cli_offsets(&b), (0, 5, 0, 0));
    // The next member gets everything again.
    heartbeat(&mut c, "m2", 0);
    assert_eq!(acquire(&mut c, id, "m2"), vec![(0, 4)]);
}
