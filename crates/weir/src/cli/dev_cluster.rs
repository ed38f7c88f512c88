//! `weir dev-cluster`: a local cluster of N combined broker+controller nodes on 127.0.0.1 for
//! development, each a child `weir serve` process of this one, all stopped together on Ctrl-C or
//! SIGTERM (and all stopped when one of them exits on its own).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::serve::parse_config_flags;

/// How long the nodes get to accept client connections after they are started.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the nodes get to shut down cleanly after SIGTERM before they are SIGKILLed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often child processes and signals are checked.
const POLL: Duration = Duration::from_millis(100);

/// Configs that `dev-cluster` sets per node; passing them after `--` would break the cluster.
const MANAGED: &[&str] = &[
    "node.id",
    "process.roles",
    "controller.quorum.voters",
    "listeners",
    "advertised.listeners",
    "log.dirs",
    "log.dir",
    "metadata.log.dir",
];

/// Arguments of `weir dev-cluster`.
#[derive(Debug, clap::Args)]
pub struct DevClusterArgs {
    /// Number of combined broker+controller nodes (1-9).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=9))]
    nodes: u16,
    /// Directory for the nodes' data: node N keeps its log dir in DIR/node-N and appends its
    /// output to DIR/node-N/weir.log. Reusing it restarts the same cluster with its data.
    #[arg(long, value_name = "DIR", default_value = "weir-dev-cluster")]
    dir: PathBuf,
    /// Client port of node 1. Node N listens for clients on BASE+100*(N-1), for the metadata
    /// quorum (CONTROLLER listener) on the port after that, and for HTTP (`/metrics`, `/health`,
    /// `/ready`) on the one after that (`-- --http-listener none` turns HTTP off).
    #[arg(long = "base-port", value_name = "PORT", default_value_t = 9092,
          value_parser = clap::value_parser!(u16).range(1..))]
    base_port: u16,
    /// `weir serve` flags for every node, after `--` (e.g. `-- --min-insync-replicas 2`).
    /// default.replication.factor defaults to min(nodes, 3) unless given here.
    #[arg(last = true, value_name = "SERVE FLAGS")]
    serve_flags: Vec<String>,
}

/// One node of the cluster: its ports, paths and (while running) its process.
struct Node {
    id: u16,
    port: u16,
    controller_port: u16,
    /// The HTTP admin listener's port (`http.listener`), None with `--http-listener none`.
    http_port: Option<u16>,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The `weir serve` arguments of this node.
    fn serve_args(&self, voters: &str, config_file: Option<&str>, extra: &[String]) -> Vec<String> {
        let mut a = vec!["serve".to_string()];
        if let Some(f) = config_file {
            // `serve` takes --config-file before its config flags.
            a.extend(["--config-file".to_string(), f.to_string()]);
        }
        let listeners = format!(
            "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
            self.port, self.controller_port
        );
        a.extend([
            "--node-id".to_string(),
            self.id.to_string(),
            "--process-roles".to_string(),
            "broker,controller".to_string(),
            "--controller-quorum-voters".to_string(),
            voters.to_string(),
            "--listeners".to_string(),
            listeners,
            "--advertised-listeners".to_string(),
            format!("PLAINTEXT://127.0.0.1:{}", self.port),
            "--log-dirs".to_string(),
            self.dir.display().to_string(),
        ]);
        if let Some(http) = self.http_port {
            a.extend(["--http-listener".to_string(), format!("127.0.0.1:{http}")]);
        }
        a.extend(extra.iter().cloned());
        a
    }

    /// `Some(status)` once the process has exited (it is reaped then).
    fn exited(&mut self) -> Option<ExitStatus> {
        let status = match self.child.as_mut()?.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => return None,
        };
        self.child = None;
        Some(status)
    }

    fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            if let Ok(pid) = libc::pid_t::try_from(c.id()) {
                // SAFETY: kill(2) on the pid of our own child, which is not reaped yet.
                unsafe {
                    libc::kill(pid, sig);
                }
            }
        }
    }
}

/// The running nodes. Dropping it SIGKILLs whatever still runs (an early return must not leave
/// brokers behind); [`Cluster::stop`] is the clean way.
struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    /// The first node found to have exited, with its status.
    fn first_exited(&mut self) -> Option<(u16, PathBuf, ExitStatus)> {
        self.nodes
            .iter_mut()
            .find_map(|n| n.exited().map(|s| (n.id, n.log.clone(), s)))
    }

    /// SIGTERM the running nodes one after the other, all within [`STOP_TIMEOUT`], and SIGKILL
    /// whatever still runs then.
    ///
    /// One at a time because a broker's controlled shutdown moves its partition leaderships to the
    /// others through the metadata quorum: stopped all at once, the last nodes lose the quorum
    /// half-way and wait out their fencing timeouts. Each node gets the time left divided by the
    /// nodes left; one that takes longer keeps shutting down while the next is signalled.
    fn stop(&mut self) {
        let running = self.nodes.iter().filter(|n| n.child.is_some()).count();
        if running == 0 {
            return;
        }
        eprintln!("stopping {running} node(s)");
        let deadline = Instant::now() + STOP_TIMEOUT;
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_none() {
                continue;
            }
            self.nodes[i].signal(libc::SIGTERM);
            let left = self.nodes[i..].iter().filter(|n| n.child.is_some()).count();
            let slice = deadline.saturating_duration_since(Instant::now()) / left.max(1) as u32;
            let until = Instant::now() + slice;
            while self.nodes[i].child.is_some() && Instant::now() < until {
                self.reap();
                std::thread::sleep(POLL / 4);
            }
        }
        loop {
            self.reap();
            if self.nodes.iter().all(|n| n.child.is_none()) {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(POLL / 4);
        }
        for n in &self.nodes {
            if n.child.is_some() {
                eprintln!(
                    "node {} did not stop within {} s: SIGKILL",
                    n.id,
                    STOP_TIMEOUT.as_secs()
                );
            }
        }
        self.kill_all();
    }

    /// Reap the nodes that have exited, reporting the unsuccessful exits.
    fn reap(&mut self) {
        for n in &mut self.nodes {
            if let Some(status) = n.exited() {
                if !status.success() {
                    eprintln!("node {} stopped: {status}", n.id);
                }
            }
        }
    }

    fn kill_all(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Split `--config-file FILE` / `--config-file=FILE` off the serve flags.
fn take_config_file(flags: &[String]) -> Result<(Option<String>, Vec<String>), String> {
    let mut file = None;
    let mut rest = Vec::new();
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        if f == "--config-file" {
            file = Some(it.next().ok_or("--config-file needs a value")?.clone());
        } else if let Some(v) = f.strip_prefix("--config-file=") {
            file = Some(v.to_string());
        } else {
            rest.push(f.clone());
        }
    }
    Ok((file, rest))
}

/// The last few lines of a node's log, to show why it exited.
fn log_tail(path: &Path) -> String {
    const MAX: u64 = 4096;
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(MAX)));
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        s = String::from_utf8_lossy(&buf).into_owned();
    }
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(8)..]
        .iter()
        .map(|l| format!("  | {l}\n"))
        .collect()
}

/// Run `weir dev-cluster`: start the nodes, wait for them, and stop them on a signal.
pub fn run(args: DevClusterArgs) -> Result<(), String> {
    let (config_file, extra) = take_config_file(&args.serve_flags)?;
    let given = parse_config_flags(&extra)?;
    if let Some((k, _)) = given.iter().find(|(k, _)| MANAGED.contains(&k.as_str())) {
        return Err(format!(
            "--{} is set by dev-cluster for each node; use --base-port and --dir instead",
            k.replace('.', "-")
        ));
    }
    let http_on = match given.iter().rev().find(|(k, _)| k == "http.listener") {
        None => true,
        Some((_, v)) if v == "none" => false,
        Some(_) => {
            return Err(
                "--http-listener is set by dev-cluster for each node (client port + 2); \
                        only --http-listener none is accepted"
                    .into(),
            )
        }
    };
    let mut extra = extra;
    if !given.iter().any(|(k, _)| k == "default.replication.factor") {
        extra.push("--default-replication-factor".to_string());
        extra.push(args.nodes.min(3).to_string());
    }

    let last_port = u32::from(args.base_port) + 100 * (u32::from(args.nodes) - 1) + 2;
    if last_port > u32::from(u16::MAX) {
        return Err(format!(
            "--base-port {} is too high for {} nodes (the last would listen on {last_port})",
            args.base_port, args.nodes
        ));
    }
    let dir = std::path::absolute(&args.dir)
        .map_err(|e| format!("bad --dir {}: {e}", args.dir.display()))?;
    let nodes: Vec<Node> = (1..=args.nodes)
        .map(|id| {
            let port = args.base_port + 100 * (id - 1);
            let node_dir = dir.join(format!("node-{id}"));
            Node {
                id,
                port,
                controller_port: port + 1,
                http_port: http_on.then_some(port + 2),
                log: node_dir.join("weir.log"),
                dir: node_dir,
                child: None,
            }
        })
        .collect();
    let voters = nodes
        .iter()
        .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
        .collect::<Vec<_>>()
        .join(",");

    // A port held by another process would make a node fail (or, worse, the readiness check
    // succeed against someone else's server).
    for n in &nodes {
        let http = n.http_port.map(|p| (p, "HTTP"));
        for (port, what) in [(n.port, "client"), (n.controller_port, "controller")]
            .into_iter()
            .chain(http)
        {
            TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
                format!(
                    "127.0.0.1:{port} (node {} {what} port) is not free: {e}; \
                     choose another --base-port",
                    n.id
                )
            })?;
        }
    }

    let exe = std::env::current_exe().map_err(|e| format!("cannot find the weir binary: {e}"))?;
    let stop = super::stop_on_signal();
    let mut cluster = Cluster { nodes };
    for i in 0..cluster.nodes.len() {
        let n = &cluster.nodes[i];
        std::fs::create_dir_all(&n.dir)
            .map_err(|e| format!("cannot create {}: {e}", n.dir.display()))?;
        let mut out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log)
            .map_err(|e| format!("cannot open {}: {e}", n.log.display()))?;
        let _ = writeln!(out, "--- weir dev-cluster: starting node {} ---", n.id);
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", n.log.display()))?;
        let mut cmd = Command::new(&exe);
        cmd.args(n.serve_args(&voters, config_file.as_deref(), &extra))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        detach(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        cluster.nodes[i].child = Some(child);
    }

    for n in &cluster.nodes {
        let http = n
            .http_port
            .map(|p| format!("  http://127.0.0.1:{p}"))
            .unwrap_or_default();
        println!(
            "node {}  bootstrap {}  controller 127.0.0.1:{}{http}  log {}",
            n.id,
            n.bootstrap(),
            n.controller_port,
            n.log.display()
        );
    }
    let bootstrap = cluster
        .nodes
        .iter()
        .map(Node::bootstrap)
        .collect::<Vec<_>>()
        .join(",");
    println!("bootstrap servers: {bootstrap}");

    let started = Instant::now();
    let mut ready = vec![false; cluster.nodes.len()];
    let mut announced = false;
    loop {
        if stop.load(Ordering::SeqCst) {
            cluster.stop();
            return Ok(());
        }
        if let Some((id, log, status)) = cluster.first_exited() {
            eprintln!(
                "node {id} exited on its own ({status}); the end of {}:\n{}",
                log.display(),
                log_tail(&log).trim_end()
            );
            cluster.stop();
            return Err(format!("node {id} exited on its own ({status})"));
        }
        if !announced {
            for (n, r) in cluster.nodes.iter().zip(ready.iter_mut()) {
                if !*r {
                    let addr = SocketAddr::from(([127, 0, 0, 1], n.port));
                    *r = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
                }
            }
            if ready.iter().all(|r| *r) {
                println!("cluster ready");
                eprintln!("Ctrl-C stops every node");
                announced = true;
            } else if started.elapsed() > START_TIMEOUT {
                let slow: Vec<String> = cluster
                    .nodes
                    .iter()
                    .zip(&ready)
                    .filter(|(_, r)| !**r)
                    .map(|(n, _)| format!("node {} ({})", n.id, n.log.display()))
                    .collect();
                cluster.stop();
                return Err(format!(
                    "not accepting connections after {} s: {}",
                    START_TIMEOUT.as_secs(),
                    slow.join(", ")
                ));
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Run the node in its own process group, so that Ctrl-C in a terminal reaches only
/// `dev-cluster` (which then stops the nodes in order), and have the kernel SIGTERM it should
/// `dev-cluster` die without stopping it.
fn detach(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    {
        // The parent's pid before fork: if it changes in the child, the parent is already gone.
        // SAFETY: getpid(2) cannot fail.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
        // system calls (prctl, getppid, kill), allocating nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::kill(libc::getpid(), libc::SIGTERM);
                }
                Ok(())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config_file_is_taken_out_of_the_serve_flags() {
        let (f, rest) = take_config_file(&strings(&[
            "--min-insync-replicas",
            "2",
            "--config-file",
            "w.properties",
        ]))
        .unwrap();
        assert_eq!(f.as_deref(), Some("w.properties"));
        assert_eq!(rest, strings(&["--min-insync-replicas", "2"]));
        let (f, rest) = take_config_file(&strings(&["--config-file=x"])).unwrap();
        assert_eq!(f.as_deref(), Some("x"));
        assert!(rest.is_empty());
        assert!(take_config_file(&strings(&["--config-file"])).is_err());
    }

    #[test]
    fn serve_args_of_a_node() {
        let n = Node {
            id: 2,
            port: 9192,
            controller_port: 9193,
            http_port: Some(9194),
            dir: PathBuf::from("/d/node-2"),
            log: PathBuf::from("/d/node-2/weir.log"),
            child: None,
        };
        let a = n.serve_args(
            "1@127.0.0.1:9093,2@127.0.0.1:9193",
            Some("f"),
            &strings(&["--x", "1"]),
        );
        assert_eq!(
            a,
            strings(&[
                "serve",
                "--config-file",
                "f",
                "--node-id",
                "2",
                "--process-roles",
                "broker,controller",
                "--controller-quorum-voters",
                "1@127.0.0.1:9093,2@127.0.0.1:9193",
                "--listeners",
                "PLAINTEXT://127.0.0.1:9192,CONTROLLER://127.0.0.1:9193",
                "--advertised-listeners",
                "PLAINTEXT://127.0.0.1:9192",
                "--log-dirs",
                "/d/node-2",
                "--http-listener",
                "127.0.0.1:9194",
                "--x",
                "1",
            ])
        );
    }
}
