//! The fault kinds and how one fault is injected, held and healed, on a [`Cluster`] of nodes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::net::Network;
use crate::node::Node;
use crate::rng::Rng;
use crate::workload::Disturbances;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// SIGKILL one node, restart it.
    Kill,
    /// SIGSTOP one node, SIGCONT it.
    Pause,
    /// SIGTERM one node (controlled shutdown), restart it.
    Term,
    /// Take one node's network link down (cut from nodes and clients), bring it back.
    Isolate,
    /// Symmetric partition of a minority from the majority (clients reach both sides).
    Split,
    /// One direction of one node pair cut (`a`'s packets to `b` dropped).
    OneWay,
    /// Fill one node's (tmpfs) disk, free it.
    Disk,
    /// Stop one node cleanly, flip a bit in or cut the tail of one of its segments of a
    /// workload topic, restart it.
    Corrupt,
    /// SIGKILL every node at once (a coordinated power failure), restart them all.
    Power,
    /// SIGKILL every node at once, drop every write not yet fsynced (weir-log's `lazyfs`
    /// layer: needs a `weir` built with `--features lazyfs`), restart them all.
    LazyPower,
    /// Make one node's fsyncs slow (a seeded 50–1,500 ms each) for a while (the `lazyfs`
    /// layer's slow-disk control file: needs `--features lazyfs`).
    SlowDisk,
    /// Asymmetric loss: one direction of one node pair flaps (cut 20–200 ms, open 20–300 ms,
    /// seeded) for the hold, so `a`'s packets to `b` are lost in bursts while `b → a` is intact.
    Lossy,
}

impl FaultKind {
    /// Every kind, in the order of `--kinds` names.
    pub const ALL: [FaultKind; 12] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Term,
        FaultKind::Isolate,
        FaultKind::Split,
        FaultKind::OneWay,
        FaultKind::Disk,
        FaultKind::Corrupt,
        FaultKind::Power,
        FaultKind::LazyPower,
        FaultKind::SlowDisk,
        FaultKind::Lossy,
    ];

    /// The `--kinds` name.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Term => "term",
            FaultKind::Isolate => "isolate",
            FaultKind::Split => "split",
            FaultKind::OneWay => "oneway",
            FaultKind::Disk => "disk",
            FaultKind::Corrupt => "corrupt",
            FaultKind::Power => "power",
            FaultKind::LazyPower => "lazypower",
            FaultKind::SlowDisk => "slowdisk",
            FaultKind::Lossy => "lossy",
        }
    }

    /// Parse a `--kinds` name.
    pub fn parse(s: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// True for the kinds that need network namespaces.
    pub fn needs_network(self) -> bool {
        matches!(
            self,
            FaultKind::Isolate | FaultKind::Split | FaultKind::OneWay | FaultKind::Lossy
        )
    }

    /// True for the kinds that need a `weir` built with the `lazyfs` feature.
    pub fn needs_lazyfs(self) -> bool {
        matches!(self, FaultKind::LazyPower | FaultKind::SlowDisk)
    }
}

/// The nodes (index = node id − 1) and, when network faults are on, their network. Nodes are
/// dropped (killed) before the network is removed.
pub struct Cluster {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// Namespaces and bridge, when the nodes run in namespaces.
    pub net: Option<Network>,
    /// Which nodes are faulted right now (for excusing admin requests).
    pub disturbed: Arc<Disturbances>,
    /// The workload's topics: the cluster has settled when each has a full ISR everywhere, and
    /// the corrupt fault damages a segment of one of them.
    pub topics: Vec<String>,
}

impl Cluster {
    /// Every node's bootstrap address, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(Node::bootstrap)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A fault that was injected and healed.
#[derive(Debug, Clone)]
pub struct Applied {
    /// What was done.
    pub desc: String,
    /// Index of the node the fault was aimed at (the first of a pair or the minority).
    pub victim: usize,
}

/// What a node logs when its metadata log failed and it stops (`weir_broker::server`).
pub const HALT_LINE: &str = "the metadata log failed: stopping this broker";

/// Inject one fault of `kind` (victims chosen by `rng`), hold it for `hold`, heal it. Returns a
/// description, and in `notes` what happened on the way that is not necessarily a bug (a node
/// that exited on a full disk, one that needed a restart afterwards). `Err` when a step failed
/// (a node that did not restart, a SIGTERM that did not end the process).
pub fn apply(
    c: &mut Cluster,
    kind: FaultKind,
    rng: &mut Rng,
    hold: Duration,
    notes: &mut Vec<String>,
) -> Result<Applied, String> {
    let v = rng.below(c.nodes.len() as u64) as usize;
    // The fault's duration is the experiment, not a wait for a condition.
    let hold_it = || std::thread::sleep(hold);
    let desc = apply_kind(c, kind, rng, hold, notes, v, &hold_it)?;
    Ok(Applied { desc, victim: v })
}

fn apply_kind(
    c: &mut Cluster,
    kind: FaultKind,
    rng: &mut Rng,
    hold: Duration,
    notes: &mut Vec<String>,
    v: usize,
    hold_it: &dyn Fn(),
) -> Result<String, String> {
    let n = c.nodes.len();
    let id = v + 1;
    let d = c.disturbed.clone();
    match kind {
        FaultKind::Kill => {
            d.set(v, true);
            c.nodes[v].kill9();
            hold_it();
            let r = c.nodes[v].restart();
            d.set(v, false);
            r.map(|()| format!("kill -9 node {id}, restart after {hold:?}"))
        }
        FaultKind::Pause => {
            d.set(v, true);
            c.nodes[v].pause();
            hold_it();
            c.nodes[v].resume();
            d.set(v, false);
            Ok(format!("SIGSTOP node {id} for {hold:?}"))
        }
        FaultKind::Term => {
            d.set(v, true);
            let stopped = c.nodes[v].stop(Duration::from_secs(30));
            hold_it();
            let r = c.nodes[v].restart();
            d.set(v, false);
            stopped?;
            r.map(|()| format!("SIGTERM node {id}, restart after {hold:?}"))
        }
        FaultKind::Isolate => {
            let net = c.net.as_mut().ok_or("no network")?;
            d.set(v, true);
            net.isolate(v)?;
            hold_it();
            let r = net.heal();
            d.set(v, false);
            r.map(|()| format!("isolate node {id} for {hold:?}"))
        }
        FaultKind::Split => {
            let net = c.net.as_mut().ok_or("no network")?;
            let order = rng.pick(n, n);
            let (minority, majority) = order.split_at((n - 1) / 2);
            net.split(minority, majority)?;
            hold_it();
            net.heal()?;
            Ok(format!(
                "split {:?} | {:?} for {hold:?}",
                ids(minority),
                ids(majority)
            ))
        }
        FaultKind::OneWay => {
            let net = c.net.as_mut().ok_or("no network")?;
            let pair = rng.pick(n, 2);
            net.cut(pair[0], pair[1])?;
            hold_it();
            net.heal()?;
            Ok(format!(
                "drop node {} -> node {} for {hold:?}",
                pair[0] + 1,
                pair[1] + 1
            ))
        }
        FaultKind::Disk => {
            d.set(v, true);
            let filled = c.nodes[v].fill_disk();
            hold_it();
            c.nodes[v].free_disk();
            // A node whose metadata log could not be written halts (Kafka halts when its
            // metadata log dir fails); an operator frees space and starts it again, and so does
            // the campaign. A node that only saw failed partition writes must recover by itself.
            let node = &mut c.nodes[v];
            let halted = !node.is_alive() || node.output().contains(HALT_LINE);
            let restarted = if halted {
                notes.push(format!(
                    "node {id} halted on its full disk (restarted):\n{}",
                    last_lines(&node.output(), 4)
                ));
                // Still finishing its shutdown, or already gone: either way it is restarted.
                let _ = node.stop(Duration::from_secs(30));
                node.restart()
            } else {
                Ok(())
            };
            d.set(v, false);
            restarted?;
            Ok(format!(
                "fill node {id}'s disk ({} bytes) for {hold:?}{}",
                filled?,
                if halted {
                    "; it halted and was restarted"
                } else {
                    ""
                }
            ))
        }
        FaultKind::Corrupt => {
            d.set(v, true);
            let stopped = c.nodes[v].stop(Duration::from_secs(30));
            // One draw only when there is a choice (so seeds of one-topic runs replay as before).
            let topic = match c.topics.len() {
                0 => crate::workload::TOPIC.to_string(),
                1 => c.topics[0].clone(),
                k => c.topics[rng.below(k as u64) as usize].clone(),
            };
            let what = damage_segment(&c.nodes[v].log_dir(), &topic, rng);
            let r = c.nodes[v].restart();
            d.set(v, false);
            stopped?;
            r?;
            Ok(format!("node {id}: {}", what?))
        }
        FaultKind::Power => {
            for i in 0..n {
                d.set(i, true);
            }
            for node in &mut c.nodes {
                node.kill9();
            }
            hold_it();
            // They start together: a node answers clients only once the quorum is back.
            let mut r = Ok(());
            for node in &mut c.nodes {
                r = r.and(node.relaunch());
            }
            for node in &mut c.nodes {
                r = r.and(node.await_up());
            }
            for i in 0..n {
                d.set(i, false);
            }
            r.map(|()| format!("power failure of all nodes, restart after {hold:?}"))
        }
        FaultKind::LazyPower => {
            for i in 0..n {
                d.set(i, true);
            }
            for node in &mut c.nodes {
                node.kill9();
            }
            // Every node is down: the disks lose what was not fsynced.
            let mut lost = Vec::new();
            let mut r = Ok(());
            for node in &c.nodes {
                match weir_log::lazyfs::drop_unsynced(&node.journal()) {
                    Ok(x) => {
                        lost.push(format!(
                            "node {}: {} writes, {} bytes",
                            node.spec.id, x.writes, x.bytes
                        ));
                        if !x.skipped.is_empty() {
                            notes.push(format!(
                                "lazypower: node {}: not undone: {:?}",
                                node.spec.id, x.skipped
                            ));
                        }
                    }
                    Err(e) => {
                        r = Err(format!(
                            "dropping node {}'s unsynced writes: {e}",
                            node.spec.id
                        ))
                    }
                }
            }
            hold_it();
            for node in &mut c.nodes {
                r = r.and(node.relaunch());
            }
            for node in &mut c.nodes {
                r = r.and(node.await_up());
            }
            for i in 0..n {
                d.set(i, false);
            }
            r.map(|()| {
                format!(
                    "power failure of all nodes losing unsynced writes ({}), restart after {hold:?}",
                    lost.join("; ")
                )
            })
        }
        FaultKind::SlowDisk => {
            let ms = rng.range(50, 1500);
            c.nodes[v].set_slow_disk(Some(ms))?;
            hold_it();
            c.nodes[v].set_slow_disk(None)?;
            Ok(format!(
                "node {id}: every fsync {ms} ms slower for {hold:?}"
            ))
        }
        FaultKind::Lossy => {
            let net = c.net.as_mut().ok_or("no network")?;
            let pair = rng.pick(n, 2);
            let (a, b) = (pair[0], pair[1]);
            // The flapping is the seeded schedule, not a wait for a condition.
            let end = std::time::Instant::now() + hold;
            let (mut cut, mut open) = (Duration::ZERO, Duration::ZERO);
            while std::time::Instant::now() < end {
                let on = Duration::from_millis(rng.range(20, 200));
                net.cut(a, b)?;
                std::thread::sleep(on);
                net.uncut(a, b)?;
                let off = Duration::from_millis(rng.range(20, 300));
                std::thread::sleep(off);
                cut += on;
                open += off;
            }
            let pct = 100 * cut.as_millis() / (cut + open).as_millis().max(1);
            Ok(format!(
                "lossy node {} -> node {} for {hold:?} (cut {pct} % of the time, in bursts)",
                a + 1,
                b + 1
            ))
        }
    }
}

fn ids(idx: &[usize]) -> Vec<usize> {
    idx.iter().map(|i| i + 1).collect()
}

/// The last `k` lines of `s`.
pub fn last_lines(s: &str, k: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(k)..].join("\n")
}

/// Flip one bit in, or cut up to 4 KiB off the end of, one seeded `.log` segment of one
/// partition of `topic` under `log_dir` (node stopped). Returns what was done.
pub fn damage_segment(log_dir: &Path, topic: &str, rng: &mut Rng) -> Result<String, String> {
    let mut dirs: Vec<_> = std::fs::read_dir(log_dir)
        .map_err(|e| format!("{}: {e}", log_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.strip_prefix(topic)?.strip_prefix('-'))
                .is_some_and(|rest| rest.parse::<u32>().is_ok())
        })
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Ok("no segment to damage".into());
    }
    let dir = &dirs[rng.below(dirs.len() as u64) as usize];
    let mut segs: Vec<(std::path::PathBuf, u64)> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .filter_map(|p| Some((p.clone(), std::fs::metadata(&p).ok()?.len())))
        .filter(|(_, len)| *len > 0)
        .collect();
    segs.sort();
    if segs.is_empty() {
        return Ok(format!("no non-empty segment in {}", dir.display()));
    }
    let pick = rng.below(segs.len() as u64) as usize;
    let (path, len) = &segs[pick];
    let which = format!(
        "{} ({} of {} segments, {len} bytes)",
        path.strip_prefix(log_dir).unwrap_or(path).display(),
        pick + 1,
        segs.len()
    );
    if rng.below(2) == 0 {
        let pos = rng.below(*len);
        let bit = rng.below(8) as u8;
        let mut bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        bytes[pos as usize] ^= 1 << bit;
        std::fs::write(path, bytes).map_err(|e| e.to_string())?;
        Ok(format!("flipped bit {bit} at byte {pos} of {which}"))
    } else {
        let cut = rng.range(1, (*len).min(4096));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| e.to_string())?;
        f.set_len(len - cut).map_err(|e| e.to_string())?;
        Ok(format!("cut {cut} bytes off the end of {which}"))
    }
}
