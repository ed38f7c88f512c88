//! `weir serve` on a fresh data directory says what happened in a few lines at the default log
//! level — no Raft internals, no `Debug` struct dumps — and ends its start-up with a "ready"
//! line; `--log-format json` prints one JSON object per line (issue 22).

use std::path::Path;
use std::time::Duration;

use weir_test_support::{free_port, wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// At most this many lines before "weir ready" on a fresh data directory.
const MAX_STARTUP_LINES: usize = 15;

/// True when `line` holds a Rust `Debug` struct dump such as `RaftState { vote: ... }`: a
/// capitalised identifier, ` { `, then `field: ` before the closing brace.
fn has_struct_dump(line: &str) -> bool {
    if line.contains("RaftState") || line.contains("LogId {") {
        return true;
    }
    let mut rest = line;
    while let Some(i) = rest.find(" { ") {
        let before = &rest[..i];
        let ident = before
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        let after = &rest[i + 3..];
        let body = after.split('}').next().unwrap_or("");
        let field = body
            .split(": ")
            .next()
            .is_some_and(|f| !f.is_empty() && f.chars().all(|c| c.is_alphanumeric() || c == '_'));
        if ident.starts_with(|c: char| c.is_ascii_uppercase()) && body.contains(": ") && field {
            return true;
        }
        rest = after;
    }
    false
}

#[test]
fn the_detector_finds_struct_dumps() {
    assert!(has_struct_dump(
        "INFO openraft: startup begin: state: RaftState { vote: UTime { data: 1 } }"
    ));
    assert!(has_struct_dump(
        "x=Vote { leader_id: LeaderId { term: 0, node_id: 0 } }"
    ));
    assert!(!has_struct_dump(
        "INFO weir: weir ready: listening on 127.0.0.1:9092"
    ));
    assert!(!has_struct_dump(
        "ISR shrunk partition=t-0 from=[1, 2, 3] to=[1, 2]"
    ));
}

/// The lines the broker printed before (and including) its ready line, once it printed it.
fn startup_lines(b: &BrokerProcess) -> Vec<String> {
    assert!(
        wait_until(Duration::from_secs(30), || b
            .output()
            .contains("weir ready")),
        "no ready line:\n{}",
        b.output()
    );
    let out = b.output();
    let mut lines = Vec::new();
    for l in out.lines() {
        lines.push(l.to_string());
        if l.contains("weir ready") {
            break;
        }
    }
    lines
}

#[test]
fn a_fresh_start_is_a_few_readable_lines() {
    let http = free_port();
    let b = BrokerProcess::start(
        weir(),
        BrokerOptions::default().config("http.listener", &format!("127.0.0.1:{http}")),
    );
    let lines = startup_lines(&b);
    let all = lines.join("\n");
    assert!(
        lines.len() <= MAX_STARTUP_LINES,
        "{} lines before ready:\n{all}",
        lines.len()
    );
    for l in &lines {
        assert!(!has_struct_dump(l), "struct dump at the default level: {l}");
        assert!(
            !l.contains("openraft"),
            "Raft internals at the default level: {l}"
        );
    }
    for event in [
        "joined the metadata quorum as node 1",
        &format!("HTTP admin listener on http://127.0.0.1:{http}"),
        "weir ready: listening on",
    ] {
        assert!(all.contains(event), "no {event:?} line:\n{all}");
    }
}

#[test]
fn json_log_format_prints_one_object_per_line() {
    let b = BrokerProcess::start(
        weir(),
        BrokerOptions::default()
            .config("log.format", "json")
            .config("http.listener", "none"),
    );
    let lines = startup_lines(&b);
    assert!(lines.len() <= MAX_STARTUP_LINES, "{lines:#?}");
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some() && v.get("fields").is_some(), "{l}");
    }
    assert!(
        !b.output().contains("HTTP admin listener"),
        "http.listener=none still started it"
    );
}

/// The Raft leader's node id as `node` reports it (DescribeQuorum), once there is one.
fn raft_leader(node: &BrokerProcess) -> Option<i32> {
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    use kafka_protocol::messages::{
        ApiKey, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;
    let mut c = weir_test_support::raw::RawClient::connect(&node.bootstrap());
    let mut t = TopicData::default();
    t.topic_name = TopicName(StrBytes::from_static_str("__cluster_metadata"));
    t.partitions = vec![PartitionData::default()];
    let r: DescribeQuorumResponse = c.call(
        ApiKey::DescribeQuorum,
        2,
        &DescribeQuorumRequest::default().with_topics(vec![t]),
    );
    let leader = r.topics.first()?.partitions.first()?.leader_id.0;
    (leader > 0).then_some(leader)
}

/// A follower of a 3-node quorum killed with SIGKILL: the leader (the node that sends it Raft
/// RPCs) says once that it stopped answering (no openraft error per failed RPC while it is
/// gone), and once that it answers again after a restart.
#[test]
fn a_lost_quorum_peer_is_one_line_not_a_stream() {
    let mut nodes = weir_test_support::start_cluster(weir(), 3, BrokerOptions::default());
    assert!(wait_until(Duration::from_secs(30), || nodes
        .iter()
        .all(|n| n.output().contains("weir ready"))));
    let mut leader = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            leader = raft_leader(&nodes[0]);
            leader.is_some()
        }),
        "no Raft leader"
    );
    // Nodes are 1, 2, 3 in order; the victim is a follower, watched by the leader.
    let leader = usize::try_from(leader.unwrap_or(1) - 1).unwrap_or(0);
    let victim = (leader + 1) % 3;
    nodes[victim].kill9();
    let count =
        |n: &BrokerProcess, what: &str| n.output().lines().filter(|l| l.contains(what)).count();
    let gone = format!("metadata quorum: node {} stopped answering", victim + 1);
    assert!(
        wait_until(Duration::from_secs(30), || count(&nodes[leader], &gone) > 0),
        "the leader did not notice node {} is gone:\n{}",
        victim + 1,
        nodes[leader].output()
    );
    nodes[victim].restart();
    assert!(
        wait_until(Duration::from_secs(60), || nodes[victim]
            .output()
            .contains("weir ready")),
        "node {} did not restart:\n{}",
        victim + 1,
        nodes[victim].output()
    );
    let back = format!("metadata quorum: node {} answers again", victim + 1);
    // Generous: the leader retries an unreachable peer with a backoff, and CI machines are slow.
    assert!(
        wait_until(Duration::from_secs(60), || count(&nodes[leader], &back) > 0),
        "no line when node {} came back:\n{}",
        victim + 1,
        nodes[leader].output()
    );
    // Over the whole outage (a restart takes seconds; openraft retried every few hundred ms):
    // one line each way, nothing from openraft, no struct dump.
    for n in nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, n)| n)
    {
        let out = n.output();
        assert!(
            count(n, &gone) <= 1 && count(n, &back) <= 1,
            "repeated:\n{out}"
        );
        assert!(
            !out.contains("openraft"),
            "openraft at the default level:\n{out}"
        );
        for l in out.lines() {
            assert!(!has_struct_dump(l), "struct dump: {l}");
        }
    }
}
