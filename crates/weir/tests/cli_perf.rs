//! `weir perf produce|consume|e2e` against a real broker process: JSON results with the right
//! counts, positive throughput and latency percentiles; an unreachable broker fails fast with a
//! clear message.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use weir_test_support::perf_cli::{self, json_ok};
use weir_test_support::{BrokerOptions, BrokerProcess};

fn perf(bootstrap: &str, args: &[&str]) -> Output {
    perf_cli::perf(Path::new(env!("CARGO_BIN_EXE_weir")), bootstrap, args)
}

fn assert_percentiles(lat: &serde_json::Value) {
    let get = |k: &str| {
        lat[k]
            .as_f64()
            .unwrap_or_else(|| panic!("latency {k}: {lat}"))
    };
    let (p50, p95, p99, p999, max) = (get("p50"), get("p95"), get("p99"), get("p99_9"), get("max"));
    assert!(p50 > 0.0, "{lat}");
    assert!(
        p50 <= p95 && p95 <= p99 && p99 <= p999 && p999 <= max,
        "{lat}"
    );
    assert!(get("avg") > 0.0 && get("avg") <= max, "{lat}");
}

#[test]
fn produce_consume_and_e2e_report_counts_throughput_and_percentiles() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    let bs = b.bootstrap();
    let p = json_ok(perf(
        &bs,
        &[
            "produce",
            "--topic",
            "perf",
            "--num-records",
            "2000",
            "--record-size",
            "100",
            "--partitions",
            "3",
            "--compression",
            "lz4",
            "--producer-props",
            "linger.ms=2",
            "--json",
        ],
    ));
    assert_eq!(p["mode"], "produce");
    assert_eq!(p["records"], 2000, "{p}");
    assert_eq!(p["failed"], 0, "{p}");
    assert_eq!(p["bytes"], 200_000, "{p}");
    assert_eq!(p["partitions"], 3, "{p}");
    assert!(p["records_per_sec"].as_f64().unwrap() > 0.0, "{p}");
    assert!(p["mb_per_sec"].as_f64().unwrap() > 0.0, "{p}");
    assert_percentiles(&p["latency_ms"]);

    let c = json_ok(perf(
        &bs,
        &["consume", "--topic", "perf", "--messages", "2000", "--json"],
    ));
    assert_eq!(c["records"], 2000, "{c}");
    assert_eq!(c["bytes"], 200_000, "{c}");
    assert!(c["records_per_sec"].as_f64().unwrap() > 0.0, "{c}");

    // Asking for more than the topic holds fails once the idle timeout passes.
    let short = perf(
        &bs,
        &[
            "consume",
            "--topic",
            "perf",
            "--messages",
            "2001",
            "--idle-timeout-secs",
            "2",
        ],
    );
    assert!(!short.status.success());
    let err = String::from_utf8_lossy(&short.stderr);
    assert!(err.contains("only 2000 of 2001 records"), "{err}");

    let e = json_ok(perf(
        &bs,
        &[
            "e2e",
            "--topic",
            "perf-e2e",
            "--num-records",
            "500",
            "--record-size",
            "64",
            "--throughput",
            "1000",
            "--partitions",
            "2",
            "--json",
        ],
    ));
    assert_eq!(e["mode"], "e2e");
    assert_eq!(e["acked"], 500, "{e}");
    assert_eq!(e["records"], 500, "{e}");
    assert_percentiles(&e["latency_ms"]);
    assert_percentiles(&e["ack_latency_ms"]);
    // A consumed record cannot arrive before the producer sent it.
    assert!(e["latency_ms"]["p50"].as_f64().unwrap() > 0.0);

    // Text output: Kafka-style summary line.
    let text = perf(
        &bs,
        &[
            "produce",
            "--topic",
            "perf",
            "--num-records",
            "100",
            "--acks",
            "1",
        ],
    );
    assert!(text.status.success());
    let line = String::from_utf8_lossy(&text.stdout);
    assert!(
        line.starts_with("100 records sent, ") && line.contains("ms 99.9th"),
        "{line}"
    );
}

#[test]
fn duration_bounds_a_run_without_a_record_count() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    let started = Instant::now();
    let p = json_ok(perf(
        &b.bootstrap(),
        &[
            "produce",
            "--topic",
            "timed",
            "--duration-secs",
            "1",
            "--throughput",
            "500",
            "--json",
        ],
    ));
    let n = p["records"].as_u64().unwrap();
    assert!(n > 0 && n <= 501, "{p}");
    assert_eq!(p["sent"], n, "{p}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn unreachable_broker_fails_fast_with_a_clear_message() {
    let port = weir_test_support::free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    for args in [
        &["produce", "--topic", "x", "--num-records", "10"][..],
        &["consume", "--topic", "x", "--messages", "10"][..],
        &["e2e", "--topic", "x", "--num-records", "10"][..],
    ] {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("perf")
            .args(args)
            .args(["-b", &bootstrap, "--connect-timeout-secs", "3", "--json"])
            .output()
            .expect("run weir perf");
        let took = started.elapsed();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("cannot reach a broker at {bootstrap}")),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty(), "no result on stdout");
        assert!(took < Duration::from_secs(20), "{args:?} took {took:?}");
    }
}

/// `--clients N`: N producer (consumer) instances share the work; the totals are exact.
#[test]
fn several_clients_share_a_run_and_report_totals() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    let bs = b.bootstrap();
    let p = json_ok(perf(
        &bs,
        &[
            "produce",
            "--topic",
            "multi",
            "--num-records",
            "3001",
            "--record-size",
            "50",
            "--partitions",
            "4",
            "--clients",
            "3",
            "--json",
        ],
    ));
    assert_eq!(p["clients"], 3, "{p}");
    assert_eq!(p["records"], 3001, "{p}");
    assert_eq!(p["sent"], 3001, "{p}");
    assert_eq!(p["failed"], 0, "{p}");
    assert_percentiles(&p["latency_ms"]);
    let c = json_ok(perf(
        &bs,
        &[
            "consume",
            "--topic",
            "multi",
            "--messages",
            "3001",
            "--clients",
            "2",
            "--json",
        ],
    ));
    assert_eq!(c["clients"], 2, "{c}");
    assert_eq!(c["records"], 3001, "{c}");
    assert_eq!(c["bytes"], 3001 * 50, "{c}");
    let bad = perf(
        &bs,
        &[
            "produce",
            "--topic",
            "multi",
            "--num-records",
            "1",
            "--clients",
            "0",
        ],
    );
    assert!(!bad.status.success());
}
