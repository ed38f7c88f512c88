//! `weir-conformance`: differential conformance tests (issue #25). Sends the same requests to
//! Apache Kafka and to Weir — every request shape of every (API, version) Weir advertises, plus
//! a version above each API's maximum and the ApiVersions v0 fallback — compares the responses
//! field by field after masking what legitimately differs, and prints one line per shape and a
//! summary. Differences are reported, not failures: the exit status is non-zero only when the
//! harness itself fails (a broker unreachable, a setup step refused, a request not encodable).
//!
//!     weir-conformance --kafka 127.0.0.1:9092 --weir 127.0.0.1:9093 [--report FILE]
//!
//! `scripts/conformance.sh` starts both brokers and runs it. `CONFORMANCE_DUMP=<start of a
//! report line>` (e.g. `"ListGroups v5 default"`) prints both normalised responses to stderr;
//! `CONFORMANCE_ONLY=<API names, comma-separated>` (e.g. `AddRaftVoter,RemoveRaftVoter`) runs
//! only those APIs (and skips the ApiVersions fallback).

mod compare;
mod names;
mod normalize;
mod records;
mod setup;
mod shapes;
mod wire;

use std::io::Write;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestKind};

use compare::{Pair, Verdict};
use normalize::Diff;
use shapes::{default_request, shapes_for};
use wire::Conn;

struct Report {
    lines: Vec<String>,
    compared: usize,
    differ: usize,
    harness_errors: usize,
}

impl Report {
    fn record(&mut self, what: &str, result: Result<Verdict, String>) {
        let line = match result {
            Ok(Verdict::Same) => {
                self.compared += 1;
                format!("{what}: same")
            }
            Ok(Verdict::Differ(d)) => {
                self.compared += 1;
                self.differ += 1;
                let line = format!("{what}: differ ({} lines) first: {}", d.lines, d.first);
                println!("{line}");
                self.lines.push(line);
                // The differing lines go to the report file only.
                self.lines
                    .extend(d.detail.iter().map(|l| format!("    {l}")));
                return;
            }
            Err(e) => {
                self.harness_errors += 1;
                format!("{what}: HARNESS ERROR {e}")
            }
        };
        println!("{line}");
        self.lines.push(line);
    }

    fn note(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kafka), Some(weir)) = (arg(&args, "--kafka"), arg(&args, "--weir")) else {
        eprintln!("usage: weir-conformance --kafka HOST:PORT --weir HOST:PORT [--report FILE]");
        std::process::exit(2);
    };
    match run(&kafka, &weir, arg(&args, "--report")) {
        Ok(0) => {}
        Ok(n) => {
            eprintln!("weir-conformance: {n} harness errors");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("weir-conformance: {e}");
            std::process::exit(1);
        }
    }
}

fn run(kafka: &str, weir: &str, report_path: Option<String>) -> Result<usize, String> {
    let timeout = Duration::from_secs(10);
    let mut k = Conn::new(kafka, timeout);
    let mut w = Conn::new(weir, timeout);
    let (kafka_ctx, kafka_ranges) = setup::run(&mut k).map_err(|e| format!("setup: {e}"))?;
    let (weir_ctx, weir_ranges) = setup::run(&mut w).map_err(|e| format!("setup: {e}"))?;
    let mut pair = Pair {
        kafka: k,
        kafka_ctx,
        weir: w,
        weir_ctx,
        dump: false,
    };
    // CONFORMANCE_DUMP=<prefix of a report line> prints both normalised responses (triage).
    let dump = std::env::var("CONFORMANCE_DUMP").ok();
    let mut rep = Report {
        lines: Vec::new(),
        compared: 0,
        differ: 0,
        harness_errors: 0,
    };
    let only: Option<Vec<String>> = std::env::var("CONFORMANCE_ONLY")
        .ok()
        .map(|s| s.split(',').map(|a| a.trim().to_string()).collect());
    let mut api_versions = 0;
    for (key, table_lo, table_hi) in setup::table() {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|a| *a == format!("{key:?}")))
        {
            continue;
        }
        let Some(&(lo, hi)) = weir_ranges.get(&(key as i16)) else {
            rep.note(format!(
                "{key:?}: in the table but not advertised by the running weir"
            ));
            continue;
        };
        if (lo, hi) != (table_lo, table_hi) {
            rep.note(format!(
                "{key:?}: weir advertises v{lo}-v{hi}, \
                 this harness's table says v{table_lo}-v{table_hi}"
            ));
        }
        let (klo, khi) = kafka_ranges.get(&(key as i16)).copied().unwrap_or((-1, -1));
        rep.note(format!(
            "{key:?} versions: weir v{lo}-v{hi}, kafka {}",
            if klo < 0 {
                "none".to_string()
            } else {
                format!("v{klo}-v{khi}")
            }
        ));
        for v in lo..=hi {
            api_versions += 1;
            let shapes = shapes_for(key, v);
            if shapes.is_empty() {
                rep.note(format!("{key:?} v{v}: no request shapes (not covered)"));
            }
            for s in shapes {
                let what = format!("{key:?} v{v} {}", s.name);
                pair.dump = dump.as_ref().is_some_and(|d| what.starts_with(d.as_str()));
                let r = pair.run(key, v, &s);
                rep.record(&what, r);
            }
        }
        wrong_version(&mut pair, &mut rep, key, hi, khi);
    }
    if only.is_none() {
        api_versions_fallback(&mut pair, &mut rep);
    }

    let only_kafka: Vec<String> = kafka_ranges
        .keys()
        .filter(|k| !weir_ranges.contains_key(k))
        .map(|&k| ApiKey::try_from(k).map_or(format!("key {k}"), |a| format!("{a:?}")))
        .collect();
    rep.note(format!(
        "APIs kafka advertises and weir does not ({}): {}",
        only_kafka.len(),
        only_kafka.join(", ")
    ));
    rep.note(format!(
        "compared {} request shapes over {api_versions} api versions: {} differ",
        rep.compared, rep.differ
    ));
    if let Some(p) = report_path {
        let mut f = std::fs::File::create(&p).map_err(|e| format!("{p}: {e}"))?;
        for l in &rep.lines {
            writeln!(f, "{l}").map_err(|e| format!("{p}: {e}"))?;
        }
    }
    Ok(rep.harness_errors)
}

/// `key` at one version above Weir's maximum: when Kafka does not serve it either, both must
/// refuse it the same way (UNSUPPORTED_VERSION, or closing the connection).
fn wrong_version(pair: &mut Pair, rep: &mut Report, key: ApiKey, hi: i16, kafka_hi: i16) {
    let what = format!("{key:?} v{} above-max", hi + 1);
    if kafka_hi > hi {
        rep.record(
            &what,
            Ok(Verdict::Differ(Diff {
                first: format!("version range: kafka serves up to v{kafka_hi}, weir up to v{hi}"),
                lines: 1,
                detail: Vec::new(),
            })),
        );
        return;
    }
    let Some(req) = default_request(key) else {
        return;
    };
    let codec_max = key.valid_versions().max;
    let decode_v = if key == ApiKey::ApiVersions {
        0
    } else {
        (hi + 1).min(codec_max)
    };
    let r = pair.run_raw(key, hi + 1, hi, decode_v, &req, &["api_keys"]);
    rep.record(&what, r);
}

/// ApiVersions at a version no broker serves: both answer a v0 body with UNSUPPORTED_VERSION
/// and their API list (the lists are compared through the version lines above).
fn api_versions_fallback(pair: &mut Pair, rep: &mut Report) {
    let req = RequestKind::ApiVersions(ApiVersionsRequest::default());
    let r = pair.run_raw(ApiKey::ApiVersions, 127, 3, 0, &req, &["api_keys"]);
    rep.record("ApiVersions v127 v0-fallback", r);
}
