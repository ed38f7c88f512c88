//! The campaign runner: start the cluster, run the workload, inject the seeded faults one at a
//! time (each followed by a wait until the cluster has settled), heal, check, summarise.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use weir_test_support::cluster::{create_replicated_topic, Workload};
use weir_test_support::free_ports;

use crate::check::{self, NodeView};
use crate::faults::{self, Cluster, FaultKind};
use crate::net::Network;
use crate::node::{Node, NodeSpec};
use crate::rng::Rng;
pub use crate::summary::{describe_views, panic_text, Summary};
use crate::txn_java::TxnClient;
use crate::txn_workload::TxnConfig;
use crate::workload::{Admin, Disturbances, GroupConsumer, TOPIC};

/// The consumer group of the workload.
pub const GROUP: &str = "chaos-group";
/// Partitions of the workload topic.
pub const PARTITIONS: i32 = 3;
/// How long the cluster may take to settle after a fault (or at the end).
pub const SETTLE: Duration = Duration::from_secs(90);

/// Which workload runs under the faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// An idempotent producer, a consumer group and admin operations (the default).
    Idempotent,
    /// Transactional producers and READ_COMMITTED consumers, checked as a history
    /// (`crate::txn_campaign`).
    Txn,
}

impl WorkloadKind {
    /// The `--workload` name.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Idempotent => "idempotent",
            WorkloadKind::Txn => "txn",
        }
    }

    /// Parse a `--workload` name.
    pub fn parse(s: &str) -> Option<WorkloadKind> {
        [WorkloadKind::Idempotent, WorkloadKind::Txn]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed of the fault schedule (and of the admin operations).
    pub seed: u64,
    /// Number of faults.
    pub faults: usize,
    /// Number of nodes (3 or 5).
    pub nodes: usize,
    /// The fault kinds to draw from (kinds this machine cannot do are dropped with a note).
    pub kinds: Vec<FaultKind>,
    /// The `weir` binary.
    pub bin: PathBuf,
    /// Copy every node's output here after a failing run.
    pub keep_logs: Option<PathBuf>,
    /// Print each fault as it happens.
    pub verbose: bool,
    /// The workload.
    pub workload: WorkloadKind,
    /// The shape of the transactional workload (for [`WorkloadKind::Txn`]).
    pub txn: TxnConfig,
    /// The client library of the transactional workload (`--client`).
    pub client: TxnClient,
    /// A fault is held for a seeded time in this range (ms).
    pub hold_ms: (u64, u64),
    /// The seeded gap before each fault (ms).
    pub gap_ms: (u64, u64),
}

/// The default [`Config::hold_ms`].
pub const HOLD_MS: (u64, u64) = (300, 4500);
/// The default [`Config::gap_ms`].
pub const GAP_MS: (u64, u64) = (200, 1000);

impl Config {
    /// `faults` faults of every kind on 3 nodes.
    pub fn new(seed: u64, faults: usize, bin: PathBuf) -> Config {
        Config {
            seed,
            faults,
            nodes: 3,
            kinds: FaultKind::ALL.to_vec(),
            bin,
            keep_logs: None,
            verbose: false,
            workload: WorkloadKind::Idempotent,
            txn: TxnConfig::default(),
            client: TxnClient::Rdkafka,
            hold_ms: HOLD_MS,
            gap_ms: GAP_MS,
        }
    }

    /// The command line that replays this run.
    pub fn replay_command(&self) -> String {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.name()).collect();
        let workload = match self.workload {
            WorkloadKind::Idempotent => String::new(),
            w => format!(" --workload {}{}", w.name(), self.client.flag()),
        };
        let mut timing = String::new();
        for (flag, v, default) in [
            ("hold", self.hold_ms, HOLD_MS),
            ("gap", self.gap_ms, GAP_MS),
        ] {
            if v != default {
                timing += &format!(" --{flag}-ms {}-{}", v.0, v.1);
            }
        }
        format!(
            "weir-chaos --seed {} --faults {} --nodes {} --kinds {}{workload}{timing}",
            self.seed,
            self.faults,
            self.nodes,
            kinds.join(",")
        )
    }
}

/// The `weir` binary: `WEIR_BIN`, else `weir` in the directory of the running executable or its
/// parent (`target/<profile>/weir` for a binary in `target/<profile>/` or a test in
/// `target/<profile>/deps/`).
pub fn weir_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("WEIR_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut dir = exe.parent();
    for _ in 0..2 {
        if let Some(d) = dir {
            let cand = d.join("weir");
            if cand.is_file() {
                return Ok(cand);
            }
            dir = d.parent();
        }
    }
    Err(format!("no `weir` binary next to {} (run `cargo build -p weir` with the same profile, or set WEIR_BIN)", exe.display()))
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Start the nodes (in namespaces when `net` is given, on tmpfs when `tmpfs`) and wait until
/// every node lists all of them.
fn start_cluster(
    cfg: &Config,
    net: Option<Network>,
    tmpfs: bool,
    lazyfs: bool,
) -> Result<Cluster, String> {
    let n = cfg.nodes;
    let ports = free_ports(2 * n);
    let addr = |i: usize| match &net {
        Some(net) => (net.host(i), 9092, 9093),
        None => ("127.0.0.1".to_string(), ports[2 * i], ports[2 * i + 1]),
    };
    let voters: Vec<String> = (0..n)
        .map(|i| format!("{}@{}:{}", i + 1, addr(i).0, addr(i).2))
        .collect();
    let rf = n.min(3).to_string();
    let mut configs: Vec<(&str, &str)> = vec![
        ("broker.session.timeout.ms", "3000"),
        ("broker.heartbeat.interval.ms", "500"),
        ("replica.lag.time.max.ms", "4000"),
        ("replica.fetch.backoff.ms", "100"),
        ("auto.leader.rebalance.enable", "true"),
        ("leader.imbalance.check.interval.seconds", "5"),
        ("default.replication.factor", rf.as_str()),
        ("offsets.topic.replication.factor", rf.as_str()),
        ("offsets.topic.num.partitions", "6"),
    ];
    if cfg.workload == WorkloadKind::Txn {
        configs.extend([
            ("transaction.state.log.replication.factor", rf.as_str()),
            ("transaction.state.log.num.partitions", "6"),
            (
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                "1000",
            ),
        ]);
    }
    let configs: Vec<(String, String)> = configs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut nodes = Vec::new();
    for i in 0..n {
        let (host, client_port, controller_port) = addr(i);
        let spec = NodeSpec {
            id: i as i32 + 1,
            host,
            client_port,
            controller_port,
            voters: voters.join(","),
            netns: net.as_ref().map(|net| net.ns(i)),
            // 128 MiB filled up for good after 958 faults: long campaigns get 1 GiB.
            tmpfs_mib: tmpfs.then_some(if cfg.faults > 200 { 1024 } else { 128 }),
            configs: configs.clone(),
            lazyfs,
        };
        nodes.push(Node::launch(&cfg.bin, spec)?);
    }
    for node in &mut nodes {
        node.await_up()?;
    }
    let topics = match cfg.workload {
        WorkloadKind::Idempotent => vec![TOPIC.to_string()],
        WorkloadKind::Txn => cfg.txn.topics.clone(),
    };
    let c = Cluster {
        nodes,
        net,
        disturbed: Disturbances::new(n),
        topics,
    };
    let all = check::eventually(SETTLE, || {
        check::views(&c)
            .iter()
            .all(|v| v.as_ref().is_ok_and(|v| v.brokers.len() == n))
    });
    if !all {
        return Err(format!(
            "the {n} nodes did not all register within {SETTLE:?}: {:?}",
            check::views(&c)
        ));
    }
    Ok(c)
}

/// The part of a campaign that runs on a started cluster (workload, faults, checks), filling
/// in the summary.
pub type Body = fn(&Config, &[FaultKind], &mut Cluster, &mut Summary);

/// Run one campaign of the default workload and check it. Never panics on a finding:
/// everything ends in the summary.
pub fn run(cfg: &Config) -> Summary {
    run_with(cfg, campaign)
}

/// Run one campaign whose workload, faults and checks are `body`: start the cluster (the
/// kinds this machine cannot do dropped with a note), run `body` (a panic is a finding), keep
/// the logs of a failed run.
pub fn run_with(cfg: &Config, body: Body) -> Summary {
    let started = Instant::now();
    let mut sum = Summary {
        replay: cfg.replay_command(),
        seed: cfg.seed,
        nodes: cfg.nodes,
        ..Summary::default()
    };
    let mut kinds = cfg.kinds.clone();
    let root = is_root();
    let mut net = None;
    if kinds.iter().any(|k| k.needs_network()) {
        match root.then(|| Network::create(cfg.nodes)) {
            Some(Ok(n)) => net = Some(n),
            other => {
                let why = match other {
                    Some(Err(e)) => e,
                    _ => "not root".into(),
                };
                sum.notes.push(format!("network faults skipped: {why}"));
                kinds.retain(|k| !k.needs_network());
            }
        }
    }
    if kinds.contains(&FaultKind::Disk) && !root {
        sum.notes
            .push("disk faults skipped: mounting a tmpfs needs root".into());
        kinds.retain(|k| *k != FaultKind::Disk);
    }
    if kinds.is_empty() {
        sum.problems.push("no fault kind left to inject".into());
        return sum;
    }
    let lazyfs = kinds.iter().any(|k| k.needs_lazyfs());
    let mut cluster = match start_cluster(cfg, net, kinds.contains(&FaultKind::Disk), lazyfs) {
        Ok(c) => c,
        Err(e) => {
            sum.problems.push(format!("start-up: {e}"));
            return sum;
        }
    };
    // The layer starts its journal at the node's first write (the metadata log's, at once).
    if lazyfs
        && !check::eventually(Duration::from_secs(30), || {
            cluster.nodes.iter().all(|n| n.journal().exists())
        })
    {
        sum.problems.push(format!(
            "lazypower and slowdisk need a `weir` built with `--features lazyfs` (`cargo build -p weir --features lazyfs`); {} wrote no journal",
            cfg.bin.display()
        ));
        return sum;
    }
    // A panic in a helper (a client that gave up, a consume error) is a finding too.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        body(cfg, &kinds, &mut cluster, &mut sum)
    }));
    if let Err(p) = outcome {
        sum.problems
            .push(format!("the campaign panicked: {}", panic_text(&*p)));
    }
    sum.duration = started.elapsed();
    if !sum.ok() {
        for n in &cluster.nodes {
            sum.notes.extend(n.problems(20));
            if let Some(dir) = &cfg.keep_logs {
                n.keep_logs(dir);
            }
        }
    }
    sum
}

/// Create every topic of `c.topics` with `partitions` partitions (replication factor 3 — or
/// the node count — and min.insync.replicas 2) and wait until each has a full ISR everywhere;
/// false (with a problem) when that does not happen.
pub fn create_topics(c: &Cluster, rf: usize, partitions: i32, sum: &mut Summary) -> bool {
    let first = c.nodes[0].bootstrap();
    for topic in &c.topics {
        let created = check::eventually(Duration::from_secs(30), || {
            let code = create_replicated_topic(
                &first,
                topic,
                partitions,
                rf as i16,
                &[("min.insync.replicas", "2"), ("segment.bytes", "65536")],
            );
            code == 0 || code == 36 // TOPIC_ALREADY_EXISTS: an earlier attempt created it
        });
        if !created || !check::eventually(SETTLE, || check::settled(&check::views(c), topic, rf)) {
            sum.problems.push(format!(
                "start-up: topic {topic} not created with a full ISR: {:?}",
                check::views(c)
            ));
            return false;
        }
    }
    true
}

fn campaign(cfg: &Config, kinds: &[FaultKind], c: &mut Cluster, sum: &mut Summary) {
    let rf = cfg.nodes.min(3);
    let bs = c.bootstrap();
    if !create_topics(c, rf, PARTITIONS, sum) {
        return;
    }
    let mut rng = Rng::new(cfg.seed);
    let producer = Workload::start(&bs, TOPIC, PARTITIONS, Duration::from_millis(3));
    let consumer = GroupConsumer::start(&bs, GROUP, TOPIC);
    let admin = Admin::start(
        c.nodes.iter().map(Node::bootstrap).collect(),
        rng.fork(),
        c.disturbed.clone(),
    );
    let progress = || format!("acked {}", producer.acked_count());
    inject_faults(cfg, kinds, c, sum, &mut rng, &progress);
    // Liveness: once the cluster has settled, the producer must get acknowledgements again.
    let before = producer.acked_count();
    if settle(c, rf, &mut sum.problems, FaultKind::Kill, SETTLE)
        && !check::eventually(Duration::from_secs(60), || producer.acked_count() > before)
    {
        sum.problems.push(format!(
            "the producer got no acknowledgement within 60 s after the cluster settled (stuck at {before} acknowledged of {} sent)",
            producer.sent()
        ));
        let lines = producer.client_log();
        let last = &lines[lines.len().saturating_sub(40)..];
        sum.notes.push(format!(
            "the stalled producer's last client warnings and errors:\n  {}",
            last.join("\n  ")
        ));
    }
    let ops = admin.finish();
    let (acked, errors) = producer.finish();
    let (commits, consumer_errors) = consumer.finish();
    sum.acked = acked.len();
    sum.delivery_errors = errors.len();
    sum.commits = commits.len();
    sum.admin_ops = ops.len();
    if !errors.is_empty() {
        sum.notes.push(format!(
            "{} delivery errors, e.g. {:?}",
            errors.len(),
            &errors[..errors.len().min(3)]
        ));
    }
    if !consumer_errors.is_empty() {
        sum.notes.push(format!(
            "{} group consumer errors: {}",
            consumer_errors.len(),
            crate::summary::by_kind(&consumer_errors, 6)
        ));
    }
    if acked.is_empty() {
        sum.problems.push("no record was acknowledged".into());
    }
    // Checks, on a healed and settled cluster with no writes.
    let views = cluster_checks(cfg, c, sum);
    let bs = c.bootstrap();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check::check_records(&bs, TOPIC, PARTITIONS, &acked)
    })) {
        Ok(r) => sum.records = r,
        Err(p) => sum
            .problems
            .push(format!("reading {TOPIC} back failed: {}", panic_text(&*p))),
    }
    let r = &sum.records;
    if r.lost + r.duplicated + r.reordered + r.misplaced > 0 {
        sum.problems.push(format!(
            "records: {} lost, {} duplicated, {} reordered, {} misplaced; e.g. {:#?}",
            r.lost, r.duplicated, r.reordered, r.misplaced, r.examples
        ));
        let details = check::duplicate_details(c, TOPIC, &r.examples);
        sum.problems
            .extend(details.into_iter().map(|d| format!("batches: {d}")));
    }
    for p in check::check_commits(&c.bootstrap(), GROUP, TOPIC, PARTITIONS, &commits) {
        sum.problems.push(format!("group offsets: {p}"));
    }
    let late = check::late_admin(&ops);
    sum.admin_late = late.len();
    for o in late {
        sum.problems.push(format!(
            "admin request late or unanswered: {} to node {}: {} after {:?}",
            o.op,
            o.node + 1,
            o.result,
            o.latency
        ));
    }
    if let Some(Ok(view)) = views.first() {
        for m in check::replica_mismatches(c, view, TOPIC) {
            sum.problems.push(format!("replicas differ: {m}"));
        }
    }
}

/// Inject `cfg.faults` faults drawn by `rng` from `kinds`, one at a time, each followed by a
/// wait until the cluster has settled (restarting nodes that exited, a problem); stops early
/// when the cluster does not settle. `progress` describes the workload's progress (printed
/// before and after each fault when verbose).
pub fn inject_faults(
    cfg: &Config,
    kinds: &[FaultKind],
    c: &mut Cluster,
    sum: &mut Summary,
    rng: &mut Rng,
    progress: &dyn Fn() -> String,
) {
    let rf = cfg.nodes.min(3);
    for i in 0..cfg.faults {
        // The gap and the hold are the seeded schedule, not waits for conditions.
        std::thread::sleep(Duration::from_millis(rng.range(cfg.gap_ms.0, cfg.gap_ms.1)));
        let kind = kinds[rng.below(kinds.len() as u64) as usize];
        let hold = Duration::from_millis(rng.range(cfg.hold_ms.0, cfg.hold_ms.1));
        let before = progress();
        let result = faults::apply(c, kind, rng, hold, &mut sum.notes);
        *sum.faults.entry(kind.name()).or_default() += 1;
        let t = Instant::now();
        let mut settled = settle(c, rf, &mut sum.problems, kind, Duration::from_secs(20));
        if let (false, Ok(a), FaultKind::Disk) = (settled, &result, kind) {
            // A node must come back by itself once its disk has room again (or exit, as Kafka
            // halts on a failed metadata log; it is then restarted above with a note). Record
            // it, then restart it so the campaign can go on.
            sum.problems.push(format!(
                "fault {i}: node {} did not recover within 20 s after its disk was freed (restarted to go on): {}",
                a.victim + 1,
                describe_views(&check::views(c), &c.topics)
            ));
            let node = &mut c.nodes[a.victim];
            if let Err(e) = node
                .stop(Duration::from_secs(30))
                .and_then(|()| node.restart())
            {
                sum.problems.push(format!(
                    "fault {i}: restarting node {} after the full disk: {e}",
                    a.victim + 1
                ));
            }
        }
        if !settled {
            settled = settle(c, rf, &mut sum.problems, kind, SETTLE);
        }
        if cfg.verbose {
            println!(
                "fault {i}: {}; {before} -> {}; settled in {:.1}s: {settled}",
                result
                    .as_ref()
                    .map_or_else(|e| format!("{kind:?} FAILED: {e}"), |a| a.desc.clone()),
                progress(),
                t.elapsed().as_secs_f64()
            );
        }
        if let Err(e) = result {
            sum.problems
                .push(format!("fault {i} ({}): {e}", kind.name()));
        }
        if !settled {
            sum.problems.push(format!(
                "after fault {i} ({}) the cluster did not settle within {SETTLE:?}: {}",
                kind.name(),
                describe_views(&check::views(c), &c.topics)
            ));
            break;
        }
    }
}

/// The checks of the cluster itself at the end (after a settle): every node on the same
/// metadata, every node registered. Returns the nodes' views (for
/// [`check::replica_mismatches`]).
pub fn cluster_checks(
    cfg: &Config,
    c: &mut Cluster,
    sum: &mut Summary,
) -> Vec<Result<NodeView, String>> {
    let rf = cfg.nodes.min(3);
    let settled = settle(c, rf, &mut sum.problems, FaultKind::Kill, SETTLE);
    let mut views = check::views(c);
    if settled {
        check::eventually(SETTLE, || {
            views = check::views(c);
            check::divergent(&views).is_empty()
        });
    }
    for (i, why) in check::divergent(&views) {
        sum.divergent.push(i + 1);
        sum.problems.push(format!("node {} diverges: {why}", i + 1));
    }
    for (i, v) in views.iter().enumerate() {
        if let Ok(v) = v {
            for id in 1..=cfg.nodes {
                if !v.brokers.iter().any(|b| b.0 == id as i32) && !sum.unregistered.contains(&id) {
                    sum.unregistered.push(id);
                    sum.problems.push(format!(
                        "node {} does not list node {id} as a registered broker",
                        i + 1
                    ));
                }
            }
        }
    }
    views
}

/// Restart nodes that exited on their own (a problem), then wait until the cluster has settled
/// (every topic of `c.topics` with a full ISR, seen alike by every node).
pub fn settle(
    c: &mut Cluster,
    rf: usize,
    problems: &mut Vec<String>,
    after: FaultKind,
    timeout: Duration,
) -> bool {
    for n in &mut c.nodes {
        if n.is_paused() {
            n.resume();
        }
        if !n.is_alive() {
            problems.push(format!(
                "node {} exited on its own (after a {} fault):\n{}",
                n.spec.id,
                after.name(),
                faults::last_lines(&n.output(), 12)
            ));
            if let Err(e) = n.restart() {
                problems.push(e);
            }
        }
    }
    if let Some(net) = c.net.as_mut() {
        if let Err(e) = net.heal() {
            problems.push(format!("healing the network: {e}"));
        }
    }
    check::eventually(timeout, || {
        let views = check::views(c);
        c.topics.iter().all(|t| check::settled(&views, t, rf))
    })
}
