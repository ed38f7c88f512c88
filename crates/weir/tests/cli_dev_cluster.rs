//! `weir dev-cluster` as a user runs it: three nodes come up on BASE, BASE+100, BASE+200, form one
//! cluster (three brokers in the metadata), take a topic with replication factor 3 from
//! `weir topics create`, and all stop on SIGTERM, leaving no `weir serve` process behind.
//!
//! One test function: the three brokers should not compete with other cluster tests of this
//! binary for the CPU. It also restarts the cluster on the same data and SIGKILLs a node: dev-cluster
//! then names the node, stops the others and exits non-zero.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::Rng;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use weir_test_support::wait_until;

fn weir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weir"))
}

/// A base port P in 20000..40000 with P, P+1, P+100, P+101, P+200, P+201 free on 127.0.0.1 (all
/// bound at once, then released).
fn free_base_port() -> u16 {
    let mut rng = rand::rng();
    for _ in 0..200 {
        let base: u16 = rng.random_range(20000..40000);
        let held: Vec<_> = (0..3u16)
            .flat_map(|i| [base + 100 * i, base + 100 * i + 1, base + 100 * i + 2])
            .map(|p| TcpListener::bind(("127.0.0.1", p)))
            .collect();
        if held.iter().all(Result::is_ok) {
            return base;
        }
    }
    panic!("no free base port in 20000..40000");
}

/// Every node's weir.log, for failure messages.
fn logs(dir: &Path) -> String {
    (1..=3)
        .map(|i| {
            let p = dir.join(format!("node-{i}/weir.log"));
            let s = std::fs::read_to_string(&p).unwrap_or_default();
            let tail: Vec<&str> = s.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- {} ---\n{}\n", p.display(), tail.join("\n"))
        })
        .collect()
}

/// Pids of processes (other than this one) whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) {
            out.push((pid, cmdline));
        }
    }
    out
}

fn topics(bootstrap: &str, args: &[&str]) -> Output {
    weir()
        .arg("topics")
        .args(["-b", bootstrap])
        .args(args)
        .output()
        .expect("run weir topics")
}

fn ok(what: &str, out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The replica lists of a topic's partitions, from `weir topics describe --json`.
fn replicas(bootstrap: &str, topic: &str) -> Vec<Vec<i64>> {
    let out = ok(
        "describe",
        topics(bootstrap, &["describe", topic, "--json"]),
    );
    let j: serde_json::Value = serde_json::from_str(&out).expect("describe JSON");
    j["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            let mut r: Vec<i64> = p["replicas"]
                .as_array()
                .expect("replicas")
                .iter()
                .filter_map(serde_json::Value::as_i64)
                .collect();
            r.sort();
            r
        })
        .collect()
}

/// A running `weir dev-cluster --nodes 3`; dropping it SIGKILLs it (its nodes then get SIGTERM
/// from the kernel: dev-cluster sets their parent-death signal).
struct DevCluster {
    child: Option<Child>,
    stderr_path: PathBuf,
    dir: PathBuf,
}

impl DevCluster {
    /// Start it and wait (60 s at most) for "cluster ready"; returns it with what it printed.
    fn start(dir: &Path, base: u16, stderr_path: &Path) -> (DevCluster, String) {
        let mut child = weir()
            .args(["dev-cluster", "--nodes", "3", "--dir"])
            .arg(dir)
            .args(["--base-port", &base.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_path).expect("stderr file"))
            .spawn()
            .expect("start weir dev-cluster");
        let stdout = child.stdout.take().expect("stdout");
        let dc = DevCluster {
            child: Some(child),
            stderr_path: stderr_path.to_path_buf(),
            dir: dir.to_path_buf(),
        };
        // Its stdout, line by line, read on a thread so that waiting is bounded.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut printed = Vec::new();
        while !printed.iter().any(|l: &String| l == "cluster ready") {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => printed.push(line),
                Err(e) => panic!(
                    "no \"cluster ready\" within 60 s ({e}); printed:\n{}\n{}\n{}",
                    printed.join("\n"),
                    dc.stderr(),
                    logs(dir)
                ),
            }
        }
        (dc, printed.join("\n"))
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Wait (20 s at most) for it to exit; returns its status and stderr.
    fn wait(&mut self) -> (ExitStatus, String) {
        let child = self.child.as_mut().expect("running");
        let mut status = None;
        wait_until(Duration::from_secs(20), || {
            status = child.try_wait().expect("try_wait");
            status.is_some()
        });
        let Some(status) = status else {
            panic!(
                "dev-cluster still running after 20 s:\n{}\n{}",
                self.stderr(),
                logs(&self.dir)
            );
        };
        self.child = None;
        (status, self.stderr())
    }
}

impl Drop for DevCluster {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid of a process this test started (directly or through dev-cluster).
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

#[test]
fn dev_cluster_starts_three_nodes_and_stops_them_on_sigterm() {
    let data = tempfile::tempdir().expect("temp dir");
    let dir = data.path().join("cluster");
    let dir_str = dir.to_str().expect("utf-8 temp dir").to_string();
    let base = free_base_port();
    let stderr_path = data.path().join("dev-cluster.err");
    let (mut dc, out) = DevCluster::start(&dir, base, &stderr_path);
    let bootstrap = format!(
        "127.0.0.1:{base},127.0.0.1:{},127.0.0.1:{}",
        base + 100,
        base + 200
    );
    assert!(out.contains(&bootstrap), "bootstrap string:\n{out}");
    for i in 1..=3u16 {
        let log = dir.join(format!("node-{i}/weir.log"));
        assert!(
            out.contains(&format!(
                "node {i}  bootstrap 127.0.0.1:{}",
                base + 100 * (i - 1)
            )) && out.contains(&log.display().to_string()),
            "node {i} line:\n{out}"
        );
        assert!(log.exists(), "{} exists", log.display());
        // Each node has its own HTTP admin listener on its client port + 2.
        let http = base + 100 * (i - 1) + 2;
        assert!(
            out.contains(&format!("http://127.0.0.1:{http}")),
            "node {i} HTTP:\n{out}"
        );
        let addr = ([127, 0, 0, 1], http).into();
        assert!(
            wait_until(Duration::from_secs(30), || {
                weir_test_support::http::get(addr, "/health").is_some_and(|(s, _)| s == 200)
            }),
            "node {i} /health on {http}\n{}",
            logs(&dir)
        );
    }

    // One cluster: every node reports three brokers once they have registered.
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("create client");
    let mut brokers = 0;
    let three = wait_until(Duration::from_secs(30), || {
        brokers = client
            .fetch_metadata(None, Duration::from_secs(5))
            .map(|md| md.brokers().len())
            .unwrap_or(0);
        brokers == 3
    });
    assert!(three, "{brokers} brokers in the metadata\n{}", logs(&dir));

    ok(
        "topics create --replication-factor 3",
        topics(
            &bootstrap,
            &[
                "create",
                "dev-rf3",
                "--partitions",
                "3",
                "--replication-factor",
                "3",
            ],
        ),
    );
    assert_eq!(replicas(&bootstrap, "dev-rf3"), vec![vec![1, 2, 3]; 3]);
    // dev-cluster sets default.replication.factor to min(nodes, 3).
    ok(
        "topics create (default replication factor)",
        topics(&bootstrap, &["create", "dev-default-rf"]),
    );
    assert_eq!(replicas(&bootstrap, "dev-default-rf"), vec![vec![1, 2, 3]]);
    drop(client);

    // SIGTERM: every node stops, dev-cluster exits 0.
    signal(dc.pid(), libc::SIGTERM);
    let (status, stderr) = dc.wait();
    assert!(
        status.success(),
        "dev-cluster exited with {status}:\n{stderr}"
    );
    // One node at a time, each hands its leaderships over and stops cleanly.
    assert!(
        !stderr.contains("SIGKILL"),
        "a node had to be killed:\n{stderr}\n{}",
        logs(&dir)
    );
    let left = processes_mentioning(&dir_str);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    drop(dc);

    // Again on the same data: the cluster comes back with its topics. When a node dies,
    // dev-cluster says which, stops the others and exits non-zero.
    let (mut dc, _) = DevCluster::start(&dir, base, &stderr_path);
    let listed = ok("topics list", topics(&bootstrap, &["list"]));
    assert!(listed.lines().any(|l| l == "dev-rf3"), "{listed}");
    let node2 = format!("{}/node-2", dir_str);
    let victims: Vec<u32> = processes_mentioning(&node2)
        .into_iter()
        .filter(|(_, cmd)| cmd.contains(" serve "))
        .map(|(pid, _)| pid)
        .collect();
    assert_eq!(victims.len(), 1, "one serve process for node 2");
    signal(victims[0], libc::SIGKILL);
    let (status, stderr) = dc.wait();
    assert!(!status.success(), "exit status after a node died: {status}");
    assert!(
        stderr.contains("node 2 exited on its own (signal: 9 (SIGKILL))"),
        "{stderr}"
    );
    let left = processes_mentioning(&dir_str);
    assert!(left.is_empty(), "processes left behind: {left:?}");
}
