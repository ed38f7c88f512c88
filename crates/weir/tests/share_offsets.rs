//! Share-group offsets (KIP-932, KIP-1226) at the protocol level against a real `weir` process:
//! DescribeShareGroupOffsets v0/v1 (start offset, lag, -1 for a never-initialized partition),
//! AlterShareGroupOffsets (NON_EMPTY_GROUP with members, a group no group has, the next member
//! acquires from the new start offset) and DeleteShareGroupOffsets (the state is gone); and
//! `weir groups list|describe|reset-offsets` on a share group.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use kafka_protocol::messages::describe_share_group_offsets_response::{
    DescribeShareGroupOffsetsResponseGroup as Described,
    DescribeShareGroupOffsetsResponsePartition as DescribedPartition,
};
use weir_test_support::clients::{create_topic, flush, producer, send};
use weir_test_support::raw::RawClient;
use weir_test_support::share::ShareGroup;
use weir_test_support::{BrokerOptions, BrokerProcess};

const GROUP: &str = "offsets-g";

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// A broker with topics `t` (five records) and `other` (empty), and GROUP on `t` starting
/// at the earliest offset.
fn setup() -> (BrokerProcess, RawClient, ShareGroup) {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "t", 1, &[]);
    create_topic(&b.bootstrap(), "other", 1, &[]);
    let (p, _log) = producer(&b.bootstrap(), &[]);
    for i in 0..5 {
        send(&p, "t", Some(0), None, format!("v{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    let mut c = RawClient::connect(&b.bootstrap());
    let g = ShareGroup::new(&mut c, GROUP, "t");
    g.set_config(&mut c, "share.auto.offset.reset", "earliest");
    (b, c, g)
}

/// The only partition of a described group (no group error).
fn partition(d: &Described) -> DescribedPartition {
    assert_eq!(d.error_code, 0, "{d:?}");
    d.topics[0].partitions[0].clone()
}

#[test]
fn share_group_offsets_describe_alter_delete() {
    let (_b, mut c, g) = setup();
    // A group id no group has (as Kafka): describe lists nothing and delete removes nothing,
    // without error; an empty group id is INVALID_GROUP_ID.
    let none = g.describe(&mut c, 1, None);
    assert_eq!((none.error_code, none.topics.len()), (0, 0), "{none:?}");
    let named = g.describe(&mut c, 1, Some(&[("t", 0)]));
    assert_eq!((named.error_code, named.topics.len()), (0, 0), "{named:?}");
    let deleted = g.delete(&mut c, &["t"]);
    assert_eq!(deleted.error_code, 0, "{deleted:?}");
    assert_eq!(deleted.responses[0].error_code, 0);
    assert_eq!(g.alter(&mut c, "", 0).error_code, 24);
    // Alter initializes the state of a group no group has: its first member starts there.
    let fresh = ShareGroup::new(&mut c, "fresh-g", "t");
    let altered = fresh.alter(&mut c, "fresh-g", 4);
    assert_eq!(altered.error_code, 0, "{altered:?}");
    assert_eq!(altered.responses[0].partitions[0].error_code, 0);
    assert_eq!(fresh.offset(&mut c).0, 4);
    fresh.heartbeat(&mut c, "f1", 0);
    assert_eq!(fresh.acquire(&mut c, "f1"), vec![(4, 4)]);
    fresh.heartbeat(&mut c, "f1", -1);

    // A member acquires all five records (not acknowledged).
    g.heartbeat(&mut c, "m1", 0);
    assert_eq!(g.acquire(&mut c, "m1"), vec![(0, 4)]);
    assert_eq!(g.offset(&mut c), (0, 5));
    // v0 has no lag on the wire.
    assert_eq!(partition(&g.describe(&mut c, 0, Some(&[("t", 0)]))).lag, -1);
    // Null topics: every initialized share-partition; "other" has none.
    let all = g.describe(&mut c, 1, None);
    assert_eq!(all.topics.len(), 1, "{all:?}");
    assert_eq!(all.topics[0].topic_id, g.topic_id);
    // Never initialized: start offset -1; unknown topic: UNKNOWN_TOPIC_OR_PARTITION.
    let other = partition(&g.describe(&mut c, 1, Some(&[("other", 0)])));
    assert_eq!((other.start_offset, other.error_code), (-1, 0));
    assert_eq!(
        partition(&g.describe(&mut c, 1, Some(&[("nope", 0)]))).error_code,
        3
    );

    // Alter and delete need an empty group.
    let refused = g.alter(&mut c, GROUP, 3);
    assert_eq!(refused.error_code, 68, "{refused:?}");
    assert_eq!(refused.responses[0].partitions[0].error_code, 68);
    assert_eq!(g.delete(&mut c, &["t"]).error_code, 68);

    // Empty now: alter to 3; the next member acquires from 3.
    g.heartbeat(&mut c, "m1", -1);
    let altered = g.alter(&mut c, GROUP, 3);
    assert_eq!(altered.error_code, 0, "{altered:?}");
    assert_eq!(altered.responses[0].partitions[0].error_code, 0);
    assert_eq!(altered.responses[0].topic_id, g.topic_id);
    assert_eq!(g.offset(&mut c), (3, 2));
    g.heartbeat(&mut c, "m2", 0);
    assert_eq!(g.acquire(&mut c, "m2"), vec![(3, 4)]);
    g.heartbeat(&mut c, "m2", -1);

    // Delete: the state is gone; an unknown topic is a topic error.
    let deleted = g.delete(&mut c, &["t", "nope"]);
    assert_eq!(deleted.error_code, 0, "{deleted:?}");
    assert_eq!(deleted.responses[0].error_code, 0);
    assert_eq!(deleted.responses[1].error_code, 3);
    assert_eq!(g.offset(&mut c), (-1, -1));
    assert!(g.describe(&mut c, 1, None).topics.is_empty());
    // The next member starts again from share.auto.offset.reset (earliest).
    g.heartbeat(&mut c, "m3", 0);
    assert_eq!(g.acquire(&mut c, "m3"), vec![(0, 4)]);
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
    let (b, mut c, g) = setup();
    let m1 = g.heartbeat(&mut c, "m1", 0);
    assert_eq!(g.acquire(&mut c, "m1"), vec![(0, 4)]);

    assert!(cli_ok(&b, &["list"])
        .lines()
        .any(|l| l == format!("{GROUP}\tshare")));
    // A member holds all five records: start 0, lag 5 (acquisitions are not persisted, so
    // nothing is in flight yet for the share coordinator); the member is shown.
    assert_eq!(cli_offsets(&b), (0, 5, 0, 0));
    let text = cli_ok(&b, &["describe", "--group", GROUP]);
    assert!(text.contains("Type: share"), "{text}");
    let id = m1.member_id.as_deref().unwrap_or("?");
    assert!(
        text.lines().any(|l| l.starts_with(id) && l.contains("t:0")),
        "{text}"
    );
    // Accept 0, release 1, reject 2: start 1, one in flight (delivered, to be redelivered),
    // one archived, lag 5 - 1 - 1 = 3.
    g.acknowledge(&mut c, "m1", &[(0, 1), (1, 2), (2, 3)]);
    assert_eq!(cli_offsets(&b), (1, 3, 1, 1));

    // Refused while the member is there, with a clear message.
    let refused = cli(
        &b,
        &[
            "reset-offsets",
            "--group",
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

    g.heartbeat(&mut c, "m1", -1);
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
    g.heartbeat(&mut c, "m2", 0);
    assert_eq!(g.acquire(&mut c, "m2"), vec![(0, 4)]);
}
