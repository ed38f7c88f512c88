//! Network partitions without netfilter or netem: every node runs in its own network namespace
//! (`ip netns`), joined to one bridge in the root namespace by a veth pair; the campaign's
//! clients run in the root namespace and reach every node through the bridge.
//!
//! - A one-way cut `from → to` is a policy-routing rule in `to`'s namespace,
//!   `ip rule add from <from's address> blackhole` (the `local` table's rule is moved behind
//!   the cuts, else it delivers first): `to` silently drops every packet `from` sends it (new
//!   and established connections alike; TCP early demux is switched off in the namespace so
//!   established sockets do not bypass the rule), while `to → from` packets still arrive.
//!   Two one-way cuts make a symmetric partition, so a majority/minority split is a set of them;
//!   the clients (root namespace) still reach both sides.
//! - Isolating a node takes its bridge port down: nothing reaches it or leaves it, clients
//!   included.
//!
//! Needs root (`CAP_NET_ADMIN`, `CAP_SYS_ADMIN`) and `iproute2`; [`Network::create`] fails
//! otherwise and the campaign then runs every node on 127.0.0.1 without network faults.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::node::run;

static NETWORKS: AtomicU32 = AtomicU32::new(0);

/// The namespaces, veths and bridge of one campaign, and the cuts in force; removed on drop.
pub struct Network {
    name: String,
    subnet: String,
    n: usize,
    created_ns: Vec<String>,
    bridge_created: bool,
    cuts: BTreeSet<(usize, usize)>,
    isolated: BTreeSet<usize>,
}

impl Network {
    /// Create the bridge and `n` namespaces (node `i` is index `i`, address `.10+i`).
    pub fn create(n: usize) -> Result<Network, String> {
        let pid = std::process::id();
        let k = NETWORKS.fetch_add(1, Ordering::SeqCst) % 10;
        let mut net = Network {
            name: format!("wc{pid}{k}"),
            subnet: format!("10.{}.{}", 100 + (pid / 256 + k * 37) % 150, pid % 256),
            n,
            created_ns: Vec::new(),
            bridge_created: false,
            cuts: BTreeSet::new(),
            isolated: BTreeSet::new(),
        };
        let br = net.bridge();
        run(Command::new("ip").args(["link", "add", &br, "type", "bridge"]))?;
        net.bridge_created = true;
        run(Command::new("ip").args(["addr", "add", &format!("{}.1/24", net.subnet), "dev", &br]))?;
        run(Command::new("ip").args(["link", "set", &br, "up"]))?;
        for i in 0..n {
            let ns = net.ns(i);
            run(Command::new("ip").args(["netns", "add", &ns]))?;
            net.created_ns.push(ns.clone());
            let host_end = net.veth(i);
            run(Command::new("ip").args([
                "link", "add", &host_end, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]))?;
            run(Command::new("ip").args(["link", "set", &host_end, "master", &br, "up"]))?;
            run(Command::new("ip").args([
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", net.host(i)),
                "dev",
                "eth0",
            ]))?;
            run(Command::new("ip").args(["-n", &ns, "link", "set", "eth0", "up"]))?;
            run(Command::new("ip").args(["-n", &ns, "link", "set", "lo", "up"]))?;
            run(Command::new("ip").args([
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv4.tcp_early_demux=0",
            ]))?;
            // The `local` table's rule (priority 0) would deliver every packet for this node
            // before a cut (priority 100+) is looked at: move it behind the cuts.
            run(Command::new("ip")
                .args(["-n", &ns, "rule", "add", "pref", "1000", "lookup", "local"]))?;
            run(Command::new("ip").args(["-n", &ns, "rule", "del", "pref", "0"]))?;
        }
        Ok(net)
    }

    fn bridge(&self) -> String {
        format!("{}b", self.name)
    }

    fn veth(&self, i: usize) -> String {
        format!("{}h{i}", self.name)
    }

    /// The namespace of node index `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.name)
    }

    /// The address of node index `i`.
    pub fn host(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }

    /// Cut `from → to`: `to` drops every packet from `from`.
    pub fn cut(&mut self, from: usize, to: usize) -> Result<(), String> {
        if self.cuts.insert((from, to)) {
            run(Command::new("ip").args([
                "-n",
                &self.ns(to),
                "rule",
                "add",
                "from",
                &self.host(from),
                "blackhole",
                "pref",
                &(100 + from).to_string(),
            ]))?;
        }
        Ok(())
    }

    /// Undo [`cut`](Self::cut).
    pub fn uncut(&mut self, from: usize, to: usize) -> Result<(), String> {
        if self.cuts.remove(&(from, to)) {
            run(Command::new("ip").args([
                "-n",
                &self.ns(to),
                "rule",
                "del",
                "from",
                &self.host(from),
                "blackhole",
                "pref",
                &(100 + from).to_string(),
            ]))?;
        }
        Ok(())
    }

    /// Symmetric partition between the node sets `a` and `b` (clients still reach both).
    pub fn split(&mut self, a: &[usize], b: &[usize]) -> Result<(), String> {
        for &x in a {
            for &y in b {
                self.cut(x, y)?;
                self.cut(y, x)?;
            }
        }
        Ok(())
    }

    /// Take node `i`'s bridge port down: cut off from every node and every client.
    pub fn isolate(&mut self, i: usize) -> Result<(), String> {
        self.isolated.insert(i);
        run(Command::new("ip").args(["link", "set", &self.veth(i), "down"]))
    }

    /// Remove every cut and reconnect every isolated node.
    pub fn heal(&mut self) -> Result<(), String> {
        for (from, to) in self.cuts.clone() {
            self.uncut(from, to)?;
        }
        for i in std::mem::take(&mut self.isolated) {
            run(Command::new("ip").args(["link", "set", &self.veth(i), "up"]))?;
        }
        Ok(())
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True for a network of no nodes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for (i, ns) in self.created_ns.iter().enumerate() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            let _ = Command::new("ip")
                .args(["link", "del", &self.veth(i)])
                .output();
        }
        if self.bridge_created {
            let _ = Command::new("ip")
                .args(["link", "del", &self.bridge()])
                .output();
        }
    }
}
