//! `weir-chaos`: run one seeded fault campaign against real `weir serve` processes and print its
//! summary; exits 1 when the checker found a problem. Replay a run with the same `--seed`,
//! `--faults`, `--nodes` and `--kinds` (printed as `replay:`).

use std::path::PathBuf;

use clap::Parser;
use weir_chaos::campaign::{self, Config, WorkloadKind};
use weir_chaos::faults::FaultKind;
use weir_chaos::txn_java::TxnClient;

/// Seeded randomized fault campaigns against a Weir cluster.
#[derive(Parser, Debug)]
#[command(name = "weir-chaos")]
struct Args {
    /// Seed of the fault schedule (default: from the clock; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of faults.
    #[arg(long, default_value_t = 50)]
    faults: usize,
    /// Number of nodes (3 or 5).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Comma-separated fault kinds: kill,pause,term,isolate,split,oneway,lossy,disk,corrupt,
    /// power,lazypower,slowdisk (default: all; network and disk faults need root; lazypower and
    /// slowdisk need a `weir` built with `--features lazyfs`).
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// The `weir` binary (default: $WEIR_BIN, else `weir` next to this executable).
    #[arg(long)]
    weir: Option<PathBuf>,
    /// Copy every node's output to this directory when the run fails.
    #[arg(long)]
    keep_logs: Option<PathBuf>,
    /// Print only the summary, not each fault.
    #[arg(long)]
    quiet: bool,
    /// The workload: `idempotent` (an idempotent producer, a consumer group, admin
    /// operations) or `txn` (transactional producers and READ_COMMITTED consumers, checked as
    /// a history: lost committed writes, aborted reads, torn transactions, ...).
    #[arg(long, default_value = "idempotent")]
    workload: String,
    /// Transactional producers (`--workload txn`).
    #[arg(long, default_value_t = 3)]
    txn_producers: usize,
    /// READ_COMMITTED consumers (`--workload txn`).
    #[arg(long, default_value_t = 2)]
    txn_consumers: usize,
    /// The client library of `--workload txn`: `rdkafka` (librdkafka) or `java` (the Java
    /// client, KIP-890 transactions: `weir.TxnHistory` of tests/java as a subprocess; build it
    /// with `mvn -q -B -f tests/java/pom.xml package -DskipTests`, or set
    /// WEIR_JAVA_CLASSPATH).
    #[arg(long, default_value = "rdkafka")]
    client: String,
    /// How long a fault is held: a seeded time in MIN-MAX milliseconds.
    #[arg(long, default_value = "300-4500", value_parser = parse_range)]
    hold_ms: (u64, u64),
    /// The pause before each fault: a seeded time in MIN-MAX milliseconds.
    #[arg(long, default_value = "200-1000", value_parser = parse_range)]
    gap_ms: (u64, u64),
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once('-').ok_or("expected MIN-MAX")?;
    let (a, b) = (
        a.parse::<u64>().map_err(|e| e.to_string())?,
        b.parse::<u64>().map_err(|e| e.to_string())?,
    );
    if a > b {
        return Err("MIN > MAX".into());
    }
    Ok((a, b))
}

fn main() {
    let args = Args::parse();
    if args.nodes != 3 && args.nodes != 5 {
        eprintln!("weir-chaos: --nodes must be 3 or 5");
        std::process::exit(2);
    }
    let bin = match args.weir.map(Ok).unwrap_or_else(campaign::weir_binary) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("weir-chaos: {e}");
            std::process::exit(2);
        }
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let mut cfg = Config::new(seed, args.faults, bin);
    cfg.nodes = args.nodes;
    cfg.keep_logs = args.keep_logs;
    cfg.hold_ms = args.hold_ms;
    cfg.gap_ms = args.gap_ms;
    cfg.verbose = !args.quiet;
    cfg.workload = match WorkloadKind::parse(&args.workload) {
        Some(w) => w,
        None => {
            eprintln!("weir-chaos: unknown workload {:?}", args.workload);
            std::process::exit(2);
        }
    };
    cfg.client = match TxnClient::parse(&args.client) {
        Some(c) => c,
        None => {
            eprintln!("weir-chaos: unknown client {:?}", args.client);
            std::process::exit(2);
        }
    };
    if cfg.client == TxnClient::Java {
        if let Err(e) =
            weir_chaos::txn_java::java_classpath().and_then(|_| weir_chaos::txn_java::java_binary())
        {
            eprintln!("weir-chaos: --client java: {e}");
            std::process::exit(2);
        }
    }
    cfg.txn.producers = args.txn_producers;
    cfg.txn.consumers = args.txn_consumers;
    cfg.txn.verbose = cfg.verbose;
    if !args.kinds.is_empty() {
        cfg.kinds = Vec::new();
        for k in &args.kinds {
            match FaultKind::parse(k) {
                Some(kind) => cfg.kinds.push(kind),
                None => {
                    eprintln!("weir-chaos: unknown fault kind {k:?}");
                    std::process::exit(2);
                }
            }
        }
    }
    println!(
        "weir-chaos: seed {seed}; replay with `{}`",
        cfg.replay_command()
    );
    let summary = match cfg.workload {
        WorkloadKind::Idempotent => campaign::run(&cfg),
        WorkloadKind::Txn => weir_chaos::txn_campaign::run(&cfg),
    };
    println!("{}", summary.report());
    if !summary.ok() {
        std::process::exit(1);
    }
}
