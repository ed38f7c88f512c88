//! One cluster id per cluster (issue #18): three combined nodes started as the README's "A local
//! cluster" shows (no `weir format`) agree on one id through the quorum and keep it across a
//! full restart; `weir format` with one id gives that id everywhere; a node whose
//! `meta.properties` names another cluster exits with a clear message and leaves its data dir
//! untouched; `weir random-uuid` and `weir format`'s refusals.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kafka_protocol::messages::*;
use weir_test_support::raw::RawClient;
use weir_test_support::{restart_all, start_cluster, BrokerOptions, BrokerProcess};

/// The tests of this file run one at a time (each starts three broker processes).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// The cluster id of `node`'s Metadata answer (None when it does not answer).
fn cluster_id(node: &BrokerProcess) -> Option<String> {
    let mut c = RawClient::try_connect(&node.bootstrap()).ok()?;
    c.set_timeout(Duration::from_secs(5));
    let mut req = MetadataRequest::default();
    req.topics = Some(Vec::new());
    let md: MetadataResponse = c.try_call(ApiKey::Metadata, 12, &req).ok()?;
    md.cluster_id.map(|s| s.to_string())
}

/// The one cluster id every node reports (panics if they differ or one does not answer).
fn one_cluster_id(nodes: &[BrokerProcess]) -> String {
    let ids: Vec<Option<String>> = nodes.iter().map(cluster_id).collect();
    assert!(
        ids.iter().all(|i| i.is_some()),
        "every node answers: {ids:?}"
    );
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one cluster id: {ids:?}"
    );
    ids[0].clone().unwrap()
}

fn meta_properties(node: &BrokerProcess) -> BTreeMap<String, String> {
    std::fs::read_to_string(node.log_dir().join("meta.properties"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every file under `dir` with its bytes (directories as empty entries).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p.clone());
                out.insert(p, Vec::new());
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn run_weir(args: &[&str]) -> std::process::Output {
    Command::new(weir()).args(args).output().expect("run weir")
}

#[test]
fn unformatted_voters_agree_on_one_cluster_id_that_survives_a_full_restart() {
    let _serial = serial();
    let mut nodes = start_cluster(weir(), 3, BrokerOptions::default());
    // Every node answers (its listener is bound only once it has the agreed id) with one id.
    let id = one_cluster_id(&nodes);
    assert_eq!(id.len(), 22, "{id}");
    for n in &nodes {
        let m = meta_properties(n);
        assert_eq!(m.get("cluster.id"), Some(&id), "{m:?}");
        assert_eq!(m.get("version").map(String::as_str), Some("1"));
        assert_eq!(m.get("directory.id").map(String::len), Some(22));
        assert_eq!(m.get("node.id"), Some(&n.node_id().unwrap().to_string()));
    }
    // A full restart, one node at a time (each has the id in its own metadata log) ...
    for n in nodes.iter_mut() {
        n.stop();
    }
    for n in nodes.iter_mut() {
        n.restart();
    }
    assert_eq!(one_cluster_id(&nodes), id);
    // ... and all at once after SIGKILL.
    for n in nodes.iter_mut() {
        n.kill9();
    }
    restart_all(&mut nodes);
    assert_eq!(one_cluster_id(&nodes), id);
}

#[test]
fn formatted_voters_report_the_formatted_cluster_id() {
    let _serial = serial();
    let out = run_weir(&["random-uuid"]);
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let nodes = start_cluster(weir(), 3, BrokerOptions::default().formatted(&id));
    assert_eq!(one_cluster_id(&nodes), id);
    for n in &nodes {
        assert_eq!(meta_properties(n).get("cluster.id"), Some(&id));
    }
}

#[test]
fn a_node_of_another_cluster_exits_before_touching_its_data_dir() {
    let _serial = serial();
    let mut nodes = start_cluster(weir(), 3, BrokerOptions::default());
    let id = one_cluster_id(&nodes);
    nodes[2].stop();
    // Node 3's dir now claims to belong to another cluster (formatted elsewhere, copied over).
    let elsewhere = tempfile::tempdir().unwrap();
    let foreign = String::from_utf8(run_weir(&["random-uuid"]).stdout).unwrap();
    let foreign = foreign.trim();
    let dir = elsewhere.path().to_str().unwrap();
    let out = run_weir(&[
        "format",
        "--cluster-id",
        foreign,
        "--node-id",
        "3",
        "--log-dirs",
        dir,
    ]);
    assert!(out.status.success(), "{out:?}");
    let file = nodes[2].log_dir().join("meta.properties");
    std::fs::copy(elsewhere.path().join("meta.properties"), &file).unwrap();
    let before = tree(&nodes[2].log_dir());
    let status = nodes[2].restart_expecting_exit(Duration::from_secs(30));
    let output = nodes[2].output();
    assert!(
        status.is_some_and(|s| !s.success()),
        "exits non-zero ({status:?}):\n{output}"
    );
    assert!(
        output.contains(foreign) && output.contains(&id) && output.contains("meta.properties"),
        "the message names both ids and the file:\n{output}"
    );
    assert!(
        before == tree(&nodes[2].log_dir()),
        "the data dir is untouched"
    );
    // The other two still serve the cluster's id.
    assert_eq!(one_cluster_id(&nodes[..2]), id);
}

#[test]
fn random_uuid_and_format_refusals() {
    let a = String::from_utf8(run_weir(&["random-uuid"]).stdout).unwrap();
    let b = String::from_utf8(run_weir(&["random-uuid"]).stdout).unwrap();
    for id in [&a, &b] {
        let id = id.strip_suffix('\n').expect("one line");
        assert_eq!(id.len(), 22, "{id:?}");
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
    assert_ne!(a, b);
    let (a, b) = (a.trim(), b.trim());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let d = dir.to_str().unwrap();
    let ok = run_weir(&["format", "-t", a, "--node-id", "2", "--log-dirs", d]);
    assert!(ok.status.success(), "{ok:?}");
    let bytes = std::fs::read(dir.join("meta.properties")).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with('#') && text.contains(&format!("cluster.id={a}\n")));
    assert!(text.contains("node.id=2\n") && text.contains("version=1\n"));
    // Another id: refused, naming both.
    let other = run_weir(&[
        "format",
        "--cluster-id",
        b,
        "--node-id",
        "2",
        "--log-dirs",
        d,
    ]);
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        !other.status.success() && err.contains(a) && err.contains(b),
        "{err}"
    );
    let other = run_weir(&[
        "format",
        "--node-id",
        "2",
        "--log-dirs",
        d,
        "--cluster-id",
        b,
        "-g",
    ]);
    assert!(!other.status.success(), "{other:?}");
    // The same id: refused unless --ignore-formatted.
    let same = run_weir(&[
        "format",
        "--cluster-id",
        a,
        "--node-id",
        "2",
        "--log-dirs",
        d,
    ]);
    assert!(!same.status.success(), "{same:?}");
    let same = run_weir(&[
        "format",
        "--cluster-id",
        a,
        "--ignore-formatted",
        "--node-id",
        "2",
        "--log-dirs",
        d,
    ]);
    assert!(same.status.success(), "{same:?}");
    // Not a uuid.
    let bad = run_weir(&["format", "--cluster-id", "my-cluster", "--log-dirs", d]);
    assert!(!bad.status.success());
    assert_eq!(std::fs::read(dir.join("meta.properties")).unwrap(), bytes);
}

#[test]
fn a_single_node_needs_no_format_and_keeps_its_id() {
    let mut b = BrokerProcess::start(weir(), BrokerOptions::default());
    let id = cluster_id(&b).expect("answers");
    assert_eq!(id.len(), 22);
    assert_eq!(meta_properties(&b).get("cluster.id"), Some(&id));
    b.kill9();
    b.restart();
    assert_eq!(cluster_id(&b), Some(id));
}
