//! The raw load generators against a real broker process: `weir perf produce-raw` bounded by
//! records or by time, `weir perf fetch` reading them back, and `weir perf e2e-raw` timing every
//! record from when it was due (so a batch's wait to fill shows in its records' latency).

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
fn raw_produce_fetch_and_end_to_end() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    let bs = b.bootstrap();
    // e2e-raw creates its topic; produce-raw and fetch use it afterwards.
    let e = json_ok(perf(
        &bs,
        &[
            "e2e-raw",
            "--topic",
            "raw",
            "--partitions",
            "1",
            "--rate",
            "1000",
            "--batch-records",
            "10",
            "--duration",
            "2",
        ],
    ));
    assert_eq!(e["mode"], "e2e-raw");
    assert_eq!(e["sent"], 2000, "{e}");
    assert_eq!(e["acked"], 2000, "{e}");
    assert_eq!(e["records"], 2000, "{e}");
    assert_eq!(e["batching"]["batch.records"], 10, "{e}");
    let l = &e["latency_ms"];
    let get = |k: &str| l[k].as_f64().unwrap_or_else(|| panic!("{k}: {l}"));
    // A batch of 10 records at 1,000 records/s is sent 9 ms after its first record was due:
    // the first records of every batch carry that wait, the median record about half of it.
    assert!(get("max") >= 9.0, "{l}");
    assert!(get("p50") >= 4.0, "{l}");
    assert!(get("p50") <= get("p99") && get("p99") <= get("max"), "{l}");

    let p = json_ok(perf(
        &bs,
        &[
            "produce-raw",
            "--topic",
            "raw",
            "--num-records",
            "5000",
            "--batch-records",
            "100",
        ],
    ));
    assert_eq!(p["records"], 5000, "{p}");
    let timed = json_ok(perf(
        &bs,
        &[
            "produce-raw",
            "--topic",
            "raw",
            "--duration",
            "1",
            "--batch-records",
            "100",
        ],
    ));
    let n = timed["records"].as_u64().unwrap();
    assert!(n > 0 && n.is_multiple_of(100), "{timed}");
    let elapsed = timed["elapsed_secs"].as_f64().unwrap();
    assert!((1.0..30.0).contains(&elapsed), "{timed}");

    let total = 2000 + 5000 + n;
    let f = json_ok(perf(
        &bs,
        &["fetch", "--topic", "raw", "--messages", &total.to_string()],
    ));
    assert_eq!(f["records"], total, "{f}");
}
