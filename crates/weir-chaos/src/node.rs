//! One combined broker+controller `weir serve` process of a campaign: start, SIGKILL, SIGSTOP /
//! SIGCONT, SIGTERM, restart on the same data; optionally inside a network namespace (entered
//! with `setns(2)` between fork and exec, so signals reach `weir` itself) and with its data on a
//! small tmpfs of its own (for the full-disk fault).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_test_support::wait_until;

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// `node.id`.
    pub id: i32,
    /// The address it listens on and advertises (127.0.0.1, or its namespace's address).
    pub host: String,
    /// PLAINTEXT (client) port.
    pub client_port: u16,
    /// CONTROLLER (Raft) port.
    pub controller_port: u16,
    /// `controller.quorum.voters`.
    pub voters: String,
    /// The network namespace (`/var/run/netns/<name>`) to run in, if any.
    pub netns: Option<String>,
    /// Size in MiB of a tmpfs mounted over the data directory (None: the ordinary file system).
    pub tmpfs_mib: Option<u64>,
    /// Extra broker configs (Kafka names).
    pub configs: Vec<(String, String)>,
    /// Journal unsynced writes with weir-log's `lazyfs` layer (a `weir` built with
    /// `--features lazyfs`), for the lazypower and slowdisk faults.
    pub lazyfs: bool,
}

/// A node process (running, paused or stopped) and its data directory, removed on drop.
pub struct Node {
    /// How it is started.
    pub spec: NodeSpec,
    bin: PathBuf,
    dir: tempfile::TempDir,
    mounted: bool,
    child: Option<Child>,
    paused: bool,
    starts: u32,
}

impl Node {
    /// Prepare the node's directories (mounting its tmpfs) and start the process without
    /// waiting for it: the nodes of a new quorum answer clients only once the quorum agreed on a
    /// cluster id, so they start together and then [`await_up`](Self::await_up).
    pub fn launch(bin: &Path, spec: NodeSpec) -> Result<Node, String> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("weir-chaos-node{}-", spec.id))
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let mut node = Node {
            spec,
            bin: bin.to_path_buf(),
            dir,
            mounted: false,
            child: None,
            paused: false,
            starts: 0,
        };
        let disk = node.disk();
        std::fs::create_dir_all(&disk).map_err(|e| format!("{}: {e}", disk.display()))?;
        if let Some(mib) = node.spec.tmpfs_mib {
            run(Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
                .arg(&disk))?;
            node.mounted = true;
        }
        node.spawn_child()?;
        Ok(node)
    }

    /// `host:client_port`, for clients in the root namespace.
    pub fn bootstrap(&self) -> String {
        format!("{}:{}", self.spec.host, self.spec.client_port)
    }

    /// The directory holding the log dir (the tmpfs mount point when there is one).
    pub fn disk(&self) -> PathBuf {
        self.dir.path().join("disk")
    }

    /// The broker's `log.dirs`.
    pub fn log_dir(&self) -> PathBuf {
        self.disk().join("logs")
    }

    /// The `lazyfs` layer's journal of unsynced writes (outside the data disk, so a full disk
    /// does not stop it; it survives the node's runs).
    pub fn journal(&self) -> PathBuf {
        self.dir.path().join("lazyfs.journal")
    }

    /// Make every fsync of the node `ms` milliseconds slower (None: normal again), through the
    /// `lazyfs` layer's control file.
    pub fn set_slow_disk(&self, ms: Option<u64>) -> Result<(), String> {
        let p = weir_log::lazyfs::slow_file(&self.journal());
        let r = match ms {
            Some(ms) => std::fs::write(&p, ms.to_string()),
            None => std::fs::remove_file(&p),
        };
        r.map_err(|e| format!("{}: {e}", p.display()))
    }

    fn output_path(&self, run: u32) -> PathBuf {
        self.dir
            .path()
            .join(format!("node-{}-run-{run}.out", self.spec.id))
    }

    /// Everything the node printed in its current (or last) run.
    pub fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(self.output_path(self.starts)) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// The panic and ERROR lines (but openraft's) of every run so far (at most `max`).
    pub fn problems(&self, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        for run in 1..=self.starts {
            let text = std::fs::read_to_string(self.output_path(run)).unwrap_or_default();
            out.extend(
                text.lines()
                    // openraft logs every unreachable peer as an ERROR: expected under faults.
                    .filter(|l| {
                        l.contains("panicked") || (l.contains(" ERROR ") && !l.contains("openraft"))
                    })
                    .map(|l| format!("[node {} run {run}] {l}", self.spec.id)),
            );
        }
        out.truncate(max);
        out
    }

    /// Copy every run's output to `dir/node-<id>-run-<n>.out`.
    pub fn keep_logs(&self, dir: &Path) {
        let _ = std::fs::create_dir_all(dir);
        for run in 1..=self.starts {
            let p = self.output_path(run);
            if let Some(name) = p.file_name() {
                let _ = std::fs::copy(&p, dir.join(name));
            }
        }
    }

    fn spawn_child(&mut self) -> Result<(), String> {
        self.starts += 1;
        let out = File::create(self.output_path(self.starts)).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let s = &self.spec;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .arg("--listeners")
            .arg(format!(
                "PLAINTEXT://{h}:{},CONTROLLER://{h}:{}",
                s.client_port,
                s.controller_port,
                h = s.host
            ))
            .arg("--advertised-listeners")
            .arg(format!("PLAINTEXT://{}:{}", s.host, s.client_port))
            .arg("--log-dirs")
            .arg(self.log_dir())
            .args(["--node-id", &s.id.to_string()])
            .args(["--process-roles", "broker,controller"])
            .args(["--controller-quorum-voters", &s.voters]);
        for (k, v) in &s.configs {
            cmd.arg(format!("--{}", k.replace('.', "-"))).arg(v);
        }
        // `WEIR_A_B_C` variables are broker configs; the campaign's own (WEIR_BIN, ...) are not.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("WEIR_") {
                cmd.env_remove(k);
            }
        }
        let filter = std::env::var("WEIR_TEST_RUST_LOG").unwrap_or_else(|_| "info".into());
        if s.lazyfs {
            cmd.env(weir_log::lazyfs::ENV_JOURNAL, self.journal());
        }
        cmd.env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        // SAFETY: prctl(2) is async-signal-safe. The node dies with the thread that started it
        // (the campaign's), so an interrupted campaign leaves no node behind.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let ns = match &s.netns {
            Some(name) => Some(
                File::open(format!("/var/run/netns/{name}"))
                    .map_err(|e| format!("netns {name}: {e}"))?,
            ),
            None => None,
        };
        if let Some(f) = &ns {
            let fd = f.as_raw_fd();
            // SAFETY: setns(2) is async-signal-safe; the fd stays open in the parent until
            // after the spawn.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start {}: {e} (build it with `cargo build -p weir`)",
                self.bin.display()
            )
        })?;
        drop(ns);
        self.child = Some(child);
        Ok(())
    }

    /// Wait until the started process accepts connections; `Err` with its output when it exits
    /// or does not within 30 s.
    pub fn await_up(&mut self) -> Result<(), String> {
        let s = &self.spec;
        let addr: SocketAddr = self.bootstrap().parse().map_err(|e| format!("{e}"))?;
        let mut exited = None;
        // A restart re-checks every segment (CRC32C) before it listens: with a large log on a
        // starved 2-core machine that took 56 s once (seed 2026), so allow two minutes.
        let up = wait_until(START_TIMEOUT, || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                exited = Some(status);
                return true;
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
        if let Some(status) = exited {
            self.child = None;
            return Err(format!(
                "node {} exited during start-up ({status}):\n{}",
                s.id,
                tail(&self.output())
            ));
        }
        if !up {
            return Err(format!(
                "node {} did not accept connections within {START_TIMEOUT:?}:\n{}",
                s.id,
                tail(&self.output())
            ));
        }
        Ok(())
    }

    /// True while the process runs (or is paused).
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// True between [`pause`](Self::pause) and [`resume`](Self::resume).
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// SIGKILL and reap (nothing when it is not running).
    pub fn kill9(&mut self) {
        self.paused = false;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP: the process keeps its sockets but answers nobody.
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        self.paused = self.child.is_some();
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        self.paused = false;
    }

    /// SIGTERM (a clean, controlled shutdown) and wait up to `timeout`; `Err` when it did not
    /// exit by then (it is SIGKILLed) or exited with a failure status.
    pub fn stop(&mut self, timeout: Duration) -> Result<(), String> {
        self.signal(libc::SIGTERM);
        if std::mem::take(&mut self.paused) {
            self.signal(libc::SIGCONT);
        }
        let Some(mut c) = self.child.take() else {
            return Ok(());
        };
        let mut status = None;
        wait_until(timeout, || {
            status = c.try_wait().ok().flatten();
            status.is_some()
        });
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(format!(
                "node {} exited with {s} after SIGTERM",
                self.spec.id
            )),
            None => {
                let _ = c.kill();
                let _ = c.wait();
                Err(format!(
                    "node {} did not stop within {timeout:?} after SIGTERM",
                    self.spec.id
                ))
            }
        }
    }

    /// Start again on the same ports and data (after a stop or kill; a no-op while running)
    /// and wait until it accepts connections.
    pub fn restart(&mut self) -> Result<(), String> {
        self.relaunch()?;
        self.await_up()
    }

    /// Start the process again without waiting (a no-op while it runs).
    pub fn relaunch(&mut self) -> Result<(), String> {
        if self.is_alive() {
            return Ok(());
        }
        self.child = None;
        self.spawn_child()
    }

    /// Fill the node's tmpfs with a file until the file system is full (ENOSPC); returns the
    /// bytes written. [`free_disk`](Self::free_disk) removes it.
    pub fn fill_disk(&self) -> Result<u64, String> {
        if !self.mounted {
            return Err(format!(
                "node {} has no tmpfs of its own to fill",
                self.spec.id
            ));
        }
        let path = self.disk().join("chaos-fill");
        let mut f = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let chunk = vec![0u8; 1 << 20];
        let mut written = 0u64;
        let started = Instant::now();
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => return Err(format!("fill {}: {e}", path.display())),
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err("filling the disk took over 30 s".into());
            }
        }
        Ok(written)
    }

    /// Remove the file [`fill_disk`](Self::fill_disk) wrote.
    pub fn free_disk(&self) {
        let _ = std::fs::remove_file(self.disk().join("chaos-fill"));
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(self.disk()).status();
        }
    }
}

/// The last 60 lines of `s`.
/// How long a (re)started node may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(120);

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Run a command to completion; `Err` with its stderr when it fails.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
