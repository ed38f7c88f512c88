//! Seeded fault injection: one controller and three brokers, a topic with replication factor 3
//! and min.insync.replicas=2, an idempotent acks=all producer running throughout, and a random
//! sequence of faults — SIGKILL + restart, SIGSTOP + SIGCONT (a node cut off from everyone),
//! SIGTERM (controlled shutdown) + restart — on random brokers, one at a time. Afterwards a
//! checker compares acknowledged with consumed records (each acknowledged record exactly once,
//! at its acknowledged offset, per-partition order kept) and the replicas' segment bytes.
//!
//! `WEIR_FAULT_SEED` picks the seed (default: from the clock; it is printed either way) and
//! `WEIR_FAULTS` the number of faults (default 20). The long run given in the README
//! is `WEIR_FAULTS=200 cargo test --release -p weir --test fault_injection
//! -- --nocapture`.

use std::path::Path;
use std::time::{Duration, Instant};

use weir_test_support::cluster::{
    check_acked_vs_consumed, create_replicated_topic, list_partition_dir, log_bytes, partitions,
    Workload,
};
use weir_test_support::{start_nodes, wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// splitmix64: a tiny seeded generator, so a run can be repeated from its printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Kill,
    Freeze,
    Terminate,
}

fn full_isr(nodes: &[BrokerProcess], topic: &str) -> bool {
    nodes[1..].iter().any(|n| {
        let v = partitions(&n.bootstrap(), topic);
        !v.is_empty() && v.iter().all(|p| p.isr.len() == 3 && p.leader > 0)
    })
}

#[test]
fn seeded_random_faults_lose_no_acknowledged_record() {
    let seed: u64 = std::env::var("WEIR_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let faults: usize = std::env::var("WEIR_FAULTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    println!("fault injection: WEIR_FAULT_SEED={seed} WEIR_FAULTS={faults}");
    let mut rng = Rng(seed);
    let mut nodes = start_nodes(
        weir(),
        &["controller", "broker", "broker", "broker"],
        BrokerOptions::default()
            .config("broker.session.timeout.ms", "2000")
            .config("broker.heartbeat.interval.ms", "400")
            .config("replica.lag.time.max.ms", "3000")
            .config("replica.fetch.backoff.ms", "100")
            .config("auto.leader.rebalance.enable", "true")
            .config("leader.imbalance.check.interval.seconds", "5"),
    );
    let bs = nodes[1..]
        .iter()
        .map(|n| n.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        wait_until(Duration::from_secs(30), || create_replicated_topic(
            &nodes[1].bootstrap(),
            "chaos",
            3,
            3,
            &[("min.insync.replicas", "2")]
        ) == 0),
        "topic created"
    );
    assert!(wait_until(Duration::from_secs(30), || full_isr(
        &nodes, "chaos"
    )));
    let work = Workload::start(&bs, "chaos", 3, Duration::from_millis(3));
    let started = Instant::now();
    for i in 0..faults {
        let victim = 1 + rng.below(3) as usize;
        let fault = match rng.below(3) {
            0 => Fault::Kill,
            1 => Fault::Freeze,
            _ => Fault::Terminate,
        };
        let hold = Duration::from_millis(300 + rng.below(2500));
        let acked = work.acked_count();
        match fault {
            Fault::Kill => nodes[victim].kill9(),
            Fault::Freeze => nodes[victim].pause(),
            Fault::Terminate => nodes[victim].stop(),
        }
        std::thread::sleep(hold); // the fault's duration is the experiment, not a wait
        match fault {
            Fault::Freeze => nodes[victim].resume(),
            Fault::Kill | Fault::Terminate => nodes[victim].restart(),
        }
        // One fault at a time: the next starts once every replica is back in sync.
        let healed = wait_until(Duration::from_secs(60), || full_isr(&nodes, "chaos"));
        println!(
            "fault {i}: {fault:?} broker {} for {hold:?}; acked {acked} -> {}; healed: {healed}",
            victim + 1,
            work.acked_count()
        );
        assert!(
            healed,
            "ISR did not heal after fault {i} (seed {seed}): {:?}\nvictim log:\n{}",
            partitions(&nodes[1].bootstrap(), "chaos"),
            nodes[victim]
                .output()
                .lines()
                .filter(|l| !l.contains("DEBUG"))
                .take(80)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let (acked, errors) = work.finish();
    assert!(errors.is_empty(), "seed {seed}: delivery errors {errors:?}");
    let (problems, consumed) = check_acked_vs_consumed(
        &bs,
        "chaos",
        3,
        &acked,
        acked.len(),
        Duration::from_secs(90),
    );
    println!(
        "seed {seed}: {faults} faults in {:?}; {} acknowledged, {consumed} consumed, {} problems",
        started.elapsed(),
        acked.len(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "seed {seed}: {:#?}",
        &problems[..problems.len().min(20)]
    );
    assert!(acked.len() > 1000, "the workload made progress");
    // Quiesce, stop cleanly, and compare every replica byte for byte.
    assert!(wait_until(Duration::from_secs(30), || full_isr(
        &nodes, "chaos"
    )));
    // Brokers first (the controller must outlive their controlled shutdowns).
    for n in nodes.iter_mut().rev() {
        n.stop();
    }
    for p in 0..3 {
        let copies: Vec<Vec<u8>> = nodes[1..]
            .iter()
            .map(|n| log_bytes(&n.log_dir(), "chaos", p))
            .collect();
        for (i, c) in copies.iter().enumerate().skip(1) {
            assert!(
                c == &copies[0],
                "seed {seed}: chaos-{p} differs between broker 2 ({} bytes) and broker {} ({} bytes)\n{}\n{}\n{}",
                copies[0].len(),
                i + 2,
                c.len(),
                list_partition_dir(&nodes[1].log_dir(), "chaos", p),
                list_partition_dir(&nodes[i + 1].log_dir(), "chaos", p),
                nodes[i + 1].output().lines().filter(|l| l.contains("chaos-") || l.contains("WARN")).take(60).collect::<Vec<_>>().join("\n")
            );
        }
    }
}
