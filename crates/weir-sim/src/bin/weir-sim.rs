//! `weir-sim`: run many seeds of Weir's deterministic simulations.
//!
//! ```text
//! weir-sim [--seeds N] [--first S] [--seed N] [--model meta|replication|groups|all]
//!          [--faults SPEC] [--fixes FIXES] [--unclean] [--mutation NAME] [--trace] [--quiet]
//! ```
//! Prints one line per run (seed and counters), each violation with the command that replays it,
//! and the totals per model. Exits 1 when any invariant failed.

use std::process::ExitCode;
use std::time::Instant;

use weir_sim::groups::{self, GroupMutation, GroupParams};
use weir_sim::meta::{self, MetaMutation, MetaParams};
use weir_sim::replication::{self, ReplFixes, ReplMutation, ReplParams};
use weir_sim::{Faults, Stats, Summary, Violation};

struct Args {
    models: Vec<String>,
    first: u64,
    seeds: u64,
    faults: Faults,
    faults_spec: Option<String>,
    fixes: ReplFixes,
    fixes_spec: Option<String>,
    unclean: bool,
    mutation: Option<String>,
    trace: bool,
    quiet: bool,
    no_hw_check: bool,
    no_meta_check: bool,
}

const USAGE: &str = "usage: weir-sim [--seeds N] [--first S] [--seed N] \
[--model meta|replication|groups|all] [--faults SPEC] [--fixes FIXES] [--unclean] \
[--mutation elect-outside-isr|hw-ignores-followers|report-before-durable|no-epoch-fencing|same-epoch-failover] \
[--trace] [--quiet] [--no-hw-check] [--no-meta-check]
  SPEC: none | default | comma list such as loss=0.1,dup=0.05,delay=1..50,partitions=off,crashes=on
  FIXES (modelled in the simulation's glue; default all = what Weir does now, none = the behaviour
    before the fixes): all | none | comma list of
    fence-on-reregister, reject-fenced-isr, fetch-order, lead-after-registration (-name drops one)";

fn parse() -> Result<Args, String> {
    let mut a = Args {
        models: vec!["meta".into(), "replication".into(), "groups".into()],
        first: 0,
        seeds: 1_000,
        faults: Faults::default(),
        faults_spec: None,
        fixes: ReplFixes::default(),
        fixes_spec: None,
        unclean: false,
        mutation: None,
        trace: false,
        quiet: false,
        no_hw_check: false,
        no_meta_check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--seeds" => a.seeds = value()?.parse().map_err(|e| format!("--seeds: {e}"))?,
            "--first" => a.first = value()?.parse().map_err(|e| format!("--first: {e}"))?,
            "--seed" => {
                a.first = value()?.parse().map_err(|e| format!("--seed: {e}"))?;
                a.seeds = 1;
            }
            "--model" => {
                let m = value()?;
                a.models = match m.as_str() {
                    "all" => a.models.clone(),
                    "meta" | "replication" | "groups" => vec![m],
                    _ => return Err(format!("unknown model {m}")),
                }
            }
            "--faults" => {
                let spec = value()?;
                a.faults = Faults::parse(&spec)?;
                a.faults_spec = Some(spec);
            }
            "--fixes" => {
                let spec = value()?;
                a.fixes = parse_fixes(&spec)?;
                a.fixes_spec = Some(spec);
            }
            "--unclean" => a.unclean = true,
            "--mutation" => a.mutation = Some(value()?),
            "--trace" => a.trace = true,
            "--quiet" => a.quiet = true,
            "--no-hw-check" => a.no_hw_check = true,
            "--no-meta-check" => a.no_meta_check = true,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

/// `all`, `none`, or a comma list of fix names (`-name` removes one from `all`).
fn parse_fixes(spec: &str) -> Result<ReplFixes, String> {
    let mut f = ReplFixes::default();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (on, name) = match item.strip_prefix('-') {
            Some(n) => (false, n),
            None => (true, item),
        };
        match name {
            "all" => f = ReplFixes::all(),
            "none" => f = ReplFixes::none(),
            "fence-on-reregister" => f.meta.fence_on_reregister = on,
            "reject-fenced-isr" => f.meta.reject_fenced_isr = on,
            "fetch-order" => f.fetch_order = on,
            "lead-after-registration" => f.lead_after_registration = on,
            _ => return Err(format!("unknown fix {name}")),
        }
    }
    Ok(f)
}

fn run_one(a: &Args, model: &str, seed: u64) -> Result<Result<Summary, Violation>, String> {
    let m = a.mutation.as_deref();
    let bad = |m: &str| Err(format!("mutation {m} does not apply to model {model}"));
    Ok(match model {
        "meta" => {
            let mutation = match m {
                None => None,
                Some("elect-outside-isr") => Some(MetaMutation::ElectOutsideIsr),
                Some(m) => return bad(m),
            };
            let p = MetaParams {
                unclean: a.unclean,
                faults: a.faults.clone(),
                trace: a.trace,
                fixes: a.fixes.meta,
                mutation,
                ..MetaParams::default()
            };
            meta::run(seed, &p)
        }
        "replication" => {
            let mutation = match m {
                None => None,
                Some("hw-ignores-followers") => Some(ReplMutation::HwIgnoresFollowers),
                Some("report-before-durable") => Some(ReplMutation::ReportBeforeDurable),
                Some(m) => return bad(m),
            };
            let p = ReplParams {
                unclean: a.unclean,
                faults: a.faults.clone(),
                trace: a.trace,
                fixes: a.fixes,
                mutation,
                check_hw: !a.no_hw_check,
                check_meta: !a.no_meta_check,
                ..ReplParams::default()
            };
            replication::run(seed, &p)
        }
        _ => {
            let mutation = match m {
                None => None,
                Some("no-epoch-fencing") => Some(GroupMutation::NoEpochFencing),
                Some("same-epoch-failover") => Some(GroupMutation::SameEpochFailover),
                Some(m) => return bad(m),
            };
            let p = GroupParams {
                faults: a.faults.clone(),
                trace: a.trace,
                mutation,
                ..GroupParams::default()
            };
            groups::run(seed, &p)
        }
    })
}

fn replay_command(a: &Args, model: &str, seed: u64) -> String {
    let mut cmd =
        format!("cargo run -p weir-sim --release -- --model {model} --seed {seed} --trace");
    if let Some(f) = &a.faults_spec {
        cmd.push_str(&format!(" --faults '{f}'"));
    }
    if let Some(f) = &a.fixes_spec {
        cmd.push_str(&format!(" --fixes {f}"));
    }
    if a.unclean {
        cmd.push_str(" --unclean");
    }
    if a.no_hw_check {
        cmd.push_str(" --no-hw-check");
    }
    if a.no_meta_check {
        cmd.push_str(" --no-meta-check");
    }
    if let Some(m) = &a.mutation {
        cmd.push_str(&format!(" --mutation {m}"));
    }
    cmd
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for model in &a.models {
        let start = Instant::now();
        let mut total = Stats::default();
        let mut violations: Vec<u64> = Vec::new();
        for seed in a.first..a.first + a.seeds {
            match run_one(&a, model, seed) {
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
                Ok(Ok(s)) => {
                    total.add(&s.stats);
                    if !a.quiet {
                        println!("{s}");
                    }
                }
                Ok(Err(v)) => {
                    total.add(&v.stats);
                    violations.push(seed);
                    for line in &v.trace {
                        println!("  | {line}");
                    }
                    println!("{v}");
                    println!("  replay: {}", replay_command(&a, model, seed));
                }
            }
        }
        failed |= !violations.is_empty();
        println!(
            "TOTAL {model}: runs={} violations={} {total} time={:.2}s",
            a.seeds,
            violations.len(),
            start.elapsed().as_secs_f64()
        );
        if !violations.is_empty() {
            let shown: Vec<String> = violations.iter().take(20).map(u64::to_string).collect();
            println!("  failing seeds: {}", shown.join(" "));
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
