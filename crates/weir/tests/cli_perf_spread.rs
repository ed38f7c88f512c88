//! `weir perf` options of issue #24 against a real broker process: records spread round-robin
//! over several topics and partitions, `--report-interval` lines in the JSON result, the
//! head-of-run latency and the `--histogram-png` picture.

use std::path::Path;
use std::process::Output;

use weir_test_support::perf_cli::{self, json_ok};
use weir_test_support::{BrokerOptions, BrokerProcess};

/// `weir perf ARGS --json` against `bootstrap`.
fn perf(bootstrap: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.push("--json");
    perf_cli::perf(Path::new(env!("CARGO_BIN_EXE_weir")), bootstrap, &all)
}

#[test]
fn e2e_spreads_round_robin_and_reports_intervals_head_and_png() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    let bs = b.bootstrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("e2e.png");
    let e = json_ok(perf(
        &bs,
        &[
            "e2e",
            "--topic",
            "spread",
            "--topics",
            "2",
            "--partitions",
            "3",
            "--partitioner",
            "round-robin",
            "--num-records",
            "600",
            "--rate",
            "2000",
            "--report-interval",
            "0.1",
            "--head-secs",
            "0.1",
            "--histogram-png",
            png.to_str().expect("utf-8 path"),
        ],
    ));
    assert_eq!(e["topics"], 2, "{e}");
    assert_eq!(e["partitions"], 6, "{e}");
    assert_eq!(e["batching"]["partitioner"], "round-robin", "{e}");
    assert_eq!(e["records"], 600, "{e}");
    let rows = e["intervals"].as_array().expect("intervals");
    assert!(!rows.is_empty(), "{e}");
    let counted: u64 = rows.iter().map(|r| r["records"].as_u64().unwrap()).sum();
    assert_eq!(
        counted, 600,
        "every received record is in one interval: {e}"
    );
    let head = e["head_records"].as_u64().expect("head_records");
    assert!(
        head > 0 && head < 600,
        "records of the first 0.1 s of a 0.3 s run: {e}"
    );
    let bytes = std::fs::read(&png).expect("the PNG was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    // Each topic holds exactly its half: 300 records, readable from the beginning.
    for t in ["spread-0", "spread-1"] {
        let c = json_ok(perf(&bs, &["consume", "--topic", t, "--messages", "300"]));
        assert_eq!(c["records"], 300, "{t}: {c}");
        let over = perf(
            &bs,
            &[
                "consume",
                "--topic",
                t,
                "--messages",
                "301",
                "--idle-timeout-secs",
                "2",
            ],
        );
        assert!(!over.status.success(), "{t} holds more than 300 records");
    }
}
