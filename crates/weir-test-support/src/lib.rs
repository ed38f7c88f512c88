//! Shared test helpers: start, stop, restart and SIGKILL real `weir` broker processes on
//! 127.0.0.1, plus Kafka's murmur2 partitioner for checking key placement.
//!
//! Every integration test uses these helpers; none starts a broker its own way.

use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Poll `cond` every 10 ms until it is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Options for [`BrokerProcess::start`].
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// Extra `--a-b-c VALUE` pairs, as (`a.b.c`, `VALUE`).
    pub configs: Vec<(String, String)>,
    /// Advertise this port instead of the listening one (to route clients through a proxy).
    pub advertised_port: Option<u16>,
    /// Also listen as `CONTROLLER://127.0.0.1:<port>` (Raft, for cluster nodes).
    pub controller_port: Option<u16>,
    /// Client port to use (default: a free port).
    pub port: Option<u16>,
    /// Run `weir format --cluster-id ID` on the log dir before the first start.
    pub format_cluster_id: Option<String>,
    /// Start the broker with this soft and hard `RLIMIT_NOFILE` (default: inherited).
    pub nofile_limit: Option<u64>,
}

impl BrokerOptions {
    /// Advertise `port` on 127.0.0.1 (e.g. a [`proxy::DropProxy`] in front of the broker).
    pub fn advertise_port(mut self, port: u16) -> Self {
        self.advertised_port = Some(port);
        self
    }

    /// Format the log dir for cluster `id` (`weir format`) before the first start.
    pub fn formatted(mut self, id: &str) -> Self {
        self.format_cluster_id = Some(id.to_string());
        self
    }

    /// Start the broker with `RLIMIT_NOFILE` = `n` (soft and hard: it cannot raise it).
    pub fn nofile_limit(mut self, n: u64) -> Self {
        self.nofile_limit = Some(n);
        self
    }

    /// Add one broker config (Kafka name).
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.configs.push((key.to_string(), value.to_string()));
        self
    }
}

/// A running (or stopped) `weir serve` child process with its own data directory and port. The
/// data directory survives restarts of the same broker and is removed on drop; the child is
/// killed on drop.
pub struct BrokerProcess {
    bin: PathBuf,
    data: tempfile::TempDir,
    port: u16,
    opts: BrokerOptions,
    child: Option<Child>,
    /// True between [`pause`](BrokerProcess::pause) and [`resume`](BrokerProcess::resume).
    paused: bool,
    starts: u32,
    /// How long the last start took until the port accepted connections.
    pub last_start: Duration,
    spawned_at: Instant,
}

impl BrokerProcess {
    /// Start a broker from the binary `bin` (use `env!("CARGO_BIN_EXE_weir")` in tests).
    pub fn start(bin: &Path, opts: BrokerOptions) -> BrokerProcess {
        let mut b = Self::launch(bin, opts);
        b.await_up();
        b
    }

    /// Start the process without waiting for its port (nodes of a new quorum answer clients
    /// only once the quorum has agreed on a cluster id, so they must start together; a node that
    /// cannot join never answers).
    pub fn launch(bin: &Path, opts: BrokerOptions) -> BrokerProcess {
        let mut b = BrokerProcess {
            bin: bin.to_path_buf(),
            data: tempfile::tempdir().expect("temp dir"),
            port: opts.port.unwrap_or_else(free_port),
            opts,
            child: None,
            paused: false,
            starts: 0,
            last_start: Duration::ZERO,
            spawned_at: Instant::now(),
        };
        b.spawn_child();
        b
    }

    /// `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's log directory.
    pub fn log_dir(&self) -> PathBuf {
        self.data.path().join("logs")
    }

    /// Path of the current run's combined stdout/stderr.
    pub fn output_path(&self) -> PathBuf {
        self.data.path().join(format!("broker-{}.out", self.starts))
    }

    /// Everything the broker printed in its current (or last) run.
    pub fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(self.output_path()) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    fn spawn(&mut self) {
        self.spawn_child();
        self.await_up();
    }

    fn spawn_child(&mut self) {
        if let (0, Some(id)) = (self.starts, self.opts.format_cluster_id.clone()) {
            let mut cmd = Command::new(&self.bin);
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("WEIR_") {
                    cmd.env_remove(k);
                }
            }
            let out = cmd
                .args(["format", "--cluster-id", &id, "--log-dirs"])
                .arg(self.log_dir())
                .arg("--node-id")
                .arg(self.node_id().unwrap_or(1).to_string())
                .output()
                .expect("run weir format");
            assert!(out.status.success(), "weir format failed: {out:?}");
        }
        self.starts += 1;
        let out = File::create(self.output_path()).expect("broker output file");
        let err = out.try_clone().expect("clone output file");
        let listener = format!("PLAINTEXT://127.0.0.1:{}", self.port);
        let advertised = format!(
            "PLAINTEXT://127.0.0.1:{}",
            self.opts.advertised_port.unwrap_or(self.port)
        );
        let listeners = match self.opts.controller_port {
            Some(cp) => format!("{listener},CONTROLLER://127.0.0.1:{cp}"),
            None => listener.clone(),
        };
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .arg("--listeners")
            .arg(&listeners)
            .arg("--advertised-listeners")
            .arg(&advertised)
            .arg("--log-dirs")
            .arg(self.log_dir());
        for (k, v) in &self.opts.configs {
            cmd.arg(format!("--{}", k.replace('.', "-"))).arg(v);
        }
        // The broker reads `WEIR_A_B_C` variables as configs; the test run's own (WEIR_FAULTS,
        // WEIR_TEST_*, ...) are not meant for it: every config a test wants is a flag above.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("WEIR_") {
                cmd.env_remove(k);
            }
        }
        // WEIR_TEST_RUST_LOG overrides the brokers' log filter (e.g. `info,weir_broker=debug`).
        let filter = std::env::var("WEIR_TEST_RUST_LOG").unwrap_or_else(|_| "info".into());
        cmd.env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        if let Some(n) = self.opts.nofile_limit {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
            unsafe {
                cmd.pre_exec(move || {
                    let rl = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        self.spawned_at = Instant::now();
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (build it with `cargo build -p weir`)",
                self.bin.display()
            )
        });
        self.child = Some(child);
    }

    /// Wait until the started process accepts connections (panics with its output if it exits
    /// or takes over 30 s).
    fn await_up(&mut self) {
        let addr: SocketAddr = self.bootstrap().parse().expect("socket addr");
        let up = wait_until(Duration::from_secs(30), || {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "broker exited during start-up ({status}):\n{}",
                        self.output()
                    );
                }
            }
            // A connection to itself (same local and peer address) is not the broker, nor is
            // whatever answers before our process has written a line (every start logs before
            // it binds the client listener): a stray listener on the port once let a test
            // connect to something else, then get "connection refused" from its broker.
            TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok())
                && !self.output().trim().is_empty()
        });
        self.last_start = self.spawned_at.elapsed();
        assert!(
            up,
            "broker did not accept connections within 30 s:\n{}",
            self.output()
        );
    }

    /// Start again (like [`restart`](Self::restart)) expecting the process to exit during
    /// start-up: waits up to `timeout` and returns its exit status (`None` if it still runs, or
    /// accepted connections; then it is killed). Its output is [`output`](Self::output).
    pub fn restart_expecting_exit(
        &mut self,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        assert!(
            self.child.is_none(),
            "stop or kill the broker before restarting it"
        );
        self.spawn_child();
        let addr: SocketAddr = self.bootstrap().parse().expect("socket addr");
        let mut status = None;
        wait_until(timeout, || {
            if let Some(Ok(Some(s))) = self.child.as_mut().map(|c| c.try_wait()) {
                status = Some(s);
                return true;
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
        });
        match status {
            Some(s) => {
                self.child = None;
                Some(s)
            }
            None => {
                self.kill9();
                None
            }
        }
    }

    /// True while the child process is running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGTERM and wait for a clean exit (panics if it takes more than 30 s).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            if std::mem::take(&mut self.paused) {
                // A stopped process keeps SIGTERM pending until it continues.
                // SAFETY: as above.
                unsafe {
                    libc::kill(c.id() as i32, libc::SIGCONT);
                }
            }
            let pid = c.id();
            let done = wait_until(Duration::from_secs(30), || {
                matches!(c.try_wait(), Ok(Some(_)))
            });
            assert!(
                done,
                "broker {pid} did not stop within 30 s after SIGTERM:\n{}",
                self.output()
            );
        }
    }

    /// SIGKILL the broker (no clean shutdown) and reap it.
    pub fn kill9(&mut self) {
        // SIGKILL ends a stopped (paused) process too, and `wait` then reaps it.
        self.paused = false;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The broker's process id while it runs (or is paused).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The `node.id` this broker was started with, when its configs set one (the broker's own
    /// default is 1).
    pub fn node_id(&self) -> Option<i32> {
        self.opts
            .configs
            .iter()
            .rev()
            .find(|(k, _)| k == "node.id")
            .and_then(|(_, v)| v.parse().ok())
    }

    /// Freeze the broker with SIGSTOP: it keeps its sockets but answers nobody (its kernel still
    /// accepts TCP connections), as if the network cut this node off from clients and every other
    /// node at once. Returns once the process is stopped. [`resume`](Self::resume) undoes it;
    /// [`stop`](Self::stop), [`kill9`](Self::kill9) and drop work on a paused broker too.
    pub fn pause(&mut self) {
        let Some(pid) = self.pid() else {
            panic!("pause: the broker is not running");
        };
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid as i32, libc::SIGSTOP);
        }
        self.paused = true;
        let stopped = wait_until(Duration::from_secs(5), || {
            process_state(pid).is_none_or(|s| s == 'T' || s == 't')
        });
        assert!(stopped, "broker {pid} did not stop after SIGSTOP");
    }

    /// Continue a broker frozen by [`pause`](Self::pause) (SIGCONT).
    pub fn resume(&mut self) {
        if let Some(pid) = self.pid() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid as i32, libc::SIGCONT);
            }
        }
        self.paused = false;
    }

    /// True between [`pause`](Self::pause) and [`resume`](Self::resume).
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Set (`Some`) or remove (`None`) the broker config `key` (Kafka name) for the next
    /// start; the running process keeps the configs it started with.
    pub fn set_config(&mut self, key: &str, value: Option<&str>) {
        self.opts.configs.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.opts.configs.push((key.to_string(), v.to_string()));
        }
    }

    /// Start again on the same port and data directory (after [`stop`](Self::stop) or
    /// [`kill9`](Self::kill9)).
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "stop or kill the broker before restarting it"
        );
        self.spawn();
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.kill9();
        // A failing test loses the data dir with this drop: show what the broker reported as a
        // panic or error first (the cause is often in another node than the one asserted on).
        if std::thread::panicking() {
            // WEIR_TEST_KEEP_LOGS=DIR keeps every run's whole output for a post-mortem.
            let keep = std::env::var_os("WEIR_TEST_KEEP_LOGS").map(std::path::PathBuf::from);
            for run in 1..=self.starts {
                let path = self.data.path().join(format!("broker-{run}.out"));
                if let Some(dir) = &keep {
                    let _ = std::fs::create_dir_all(dir);
                    let name = format!("node-{}-run-{run}.out", self.node_id().unwrap_or(1));
                    let _ = std::fs::copy(&path, dir.join(name));
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for line in text
                    .lines()
                    .filter(|l| l.contains("panicked") || l.contains(" ERROR "))
                    .take(20)
                {
                    eprintln!("[node {} run {run}] {line}", self.node_id().unwrap_or(1));
                }
            }
        }
    }
}

/// The state letter of `/proc/<pid>/stat` (`R`, `S`, `T` = stopped, …); `None` without `/proc`.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ...`: comm may contain spaces and parentheses, so split at the last `)`.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Start `n` combined broker+controller nodes (ids 1..=n) forming one Raft quorum on 127.0.0.1,
/// each with its own data dir, client port and CONTROLLER port; `opts` adds configs to all.
pub fn start_cluster(bin: &Path, n: u32, opts: BrokerOptions) -> Vec<BrokerProcess> {
    let roles: Vec<&str> = (0..n).map(|_| "broker,controller").collect();
    start_nodes(bin, &roles, opts)
}

/// Start one node per entry of `roles` (`"broker,controller"`, `"controller"` or `"broker"`), ids
/// 1..; the nodes whose roles include `controller` form the Raft quorum. All processes start
/// before any is waited for (a new quorum's nodes answer clients only once it has agreed on a
/// cluster id). Every node gets a
/// CONTROLLER port (voters speak Raft on it; broker-only nodes receive the metadata log there).
pub fn start_nodes(bin: &Path, roles: &[&str], opts: BrokerOptions) -> Vec<BrokerProcess> {
    start_nodes_with(bin, roles, opts, |_, o| o)
}

/// [`start_nodes`] with per-node options: `per_node(id, options)` may add configs (e.g.
/// `broker.rack`) to node `id`'s options before it starts.
pub fn start_nodes_with(
    bin: &Path,
    roles: &[&str],
    opts: BrokerOptions,
    per_node: impl Fn(i32, BrokerOptions) -> BrokerOptions,
) -> Vec<BrokerProcess> {
    // Client and controller ports of every node, all distinct (allocated together).
    let ports = free_ports(roles.len() * 2);
    let (client_ports, controller_ports) = ports.split_at(roles.len());
    let voters = roles
        .iter()
        .zip(controller_ports)
        .enumerate()
        .filter(|(_, (r, _))| r.contains("controller"))
        .map(|(i, (_, p))| format!("{}@127.0.0.1:{p}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    roles
        .iter()
        .zip(controller_ports)
        .enumerate()
        .map(|(i, (role, cp))| {
            let mut o = opts
                .clone()
                .config("node.id", &(i + 1).to_string())
                .config("process.roles", role)
                .config("controller.quorum.voters", &voters);
            o.controller_port = Some(*cp);
            o.port = Some(client_ports[i]);
            BrokerProcess::launch(bin, per_node(i as i32 + 1, o))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|mut b| {
            b.await_up();
            b
        })
        .collect()
}

/// Restart every stopped or killed node of `nodes` at once, then wait until each accepts
/// connections (see [`start_nodes`]).
pub fn restart_all(nodes: &mut [BrokerProcess]) {
    for n in nodes.iter_mut() {
        assert!(
            n.child.is_none(),
            "stop or kill every node before restart_all"
        );
        n.spawn_child();
    }
    for n in nodes.iter_mut() {
        n.await_up();
    }
}

/// Kafka's murmur2 (as in `org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    let seed: u32 = 0x9747_b28c;
    let m: u32 = 0x5bd1_e995;
    let r = 24;
    let len = data.len();
    let mut h: u32 = seed ^ (len as u32);
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    match tail.len() {
        3 => {
            h ^= (tail[2] as u32) << 16;
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        2 => {
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        1 => {
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's Java default partitioner picks for a non-null key.
pub fn java_partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_reference_values() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }
}

pub mod clients;
pub mod cluster;
pub mod group_member;
pub mod http;
pub mod perf_cli;
pub mod ports;
pub mod proxy;
pub use ports::{free_port, free_ports};
pub mod raw;
pub mod share;
pub mod tmpfs;
pub mod txn;
