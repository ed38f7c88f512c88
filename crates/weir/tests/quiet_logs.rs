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

/// A node of a 3-node quorum killed with SIGKILL: a survivor says once that it stopped
/// answering (no openraft error per failed RPC while it is gone), and once that it answers again
/// after a restart.
#[test]
fn a_lost_quorum_peer_is_one_line_not_a_stream() {
    let mut nodes = weir_test_support::start_cluster(weir(), 3, BrokerOptions::default());
    assert!(wait_until(Duration::from_secs(30), || nodes
        .iter()
        .all(|n| n.output().contains("weir ready"))));
    nodes[2].kill9();
    let count =
        |n: &BrokerProcess, what: &str| n.output().lines().filter(|l| l.contains(what)).count();
    let gone = "metadata quorum: node 3 stopped answering";
    assert!(
        wait_until(Duration::from_secs(30), || count(&nodes[0], gone)
            + count(&nodes[1], gone)
            > 0),
        "nobody noticed node 3 is gone:\n{}\n{}",
        nodes[0].output(),
        nodes[1].output()
    );
    nodes[2].restart();
    assert!(
        wait_until(Duration::from_secs(60), || nodes[2]
            .output()
            .contains("weir ready")),
        "node 3 did not restart:\n{}",
        nodes[2].output()
    );
    let back = "metadata quorum: node 3 answers again";
    // Generous: the leader retries an unreachable peer with a backoff, and CI machines are slow.
    assert!(
        wait_until(Duration::from_secs(60), || count(&nodes[0], back)
            + count(&nodes[1], back)
            > 0),
        "no line when node 3 came back:\n{}\n{}",
        nodes[0].output(),
        nodes[1].output()
    );
    // Over the whole outage (a restart takes seconds; openraft retried every few hundred ms):
    // one line each way, nothing from openraft, no struct dump.
    for n in &nodes[..2] {
        let out = n.output();
        assert!(
            count(n, gone) <= 1 && count(n, back) <= 1,
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
