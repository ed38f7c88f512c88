//! `weir topics` against a real broker: the seed's example (describe a topic, alter retention.ms
//! and segment.ms at run time), JSON output, and one-line errors naming the Kafka error.

use std::path::Path;
use std::process::{Command, Output};

use weir_test_support::{BrokerOptions, BrokerProcess};

fn weir(b: &BrokerProcess, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("topics")
        .args(["-b", &b.bootstrap()])
        .args(args)
        .output()
        .expect("run weir topics")
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn topics_create_describe_alter_delete() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    ok(weir(
        &b,
        &[
            "create",
            "elk_log_dev",
            "--partitions",
            "3",
            "--config",
            "retention.ms=3600000",
        ],
    ));
    let d = ok(weir(&b, &["describe", "elk_log_dev"]));
    assert!(d.contains("PartitionCount: 3"), "{d}");
    assert!(
        d.contains("retention.ms=3600000  (DYNAMIC_TOPIC_CONFIG)"),
        "{d}"
    );

    ok(weir(
        &b,
        &[
            "alter",
            "elk_log_dev",
            "--config",
            "retention.ms=86400000",
            "--config",
            "segment.ms=86400000",
        ],
    ));
    let j: serde_json::Value =
        serde_json::from_str(&ok(weir(&b, &["describe", "elk_log_dev", "--json"]))).unwrap();
    let cfg = |name: &str| {
        j["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(cfg("retention.ms")["value"], "86400000");
    assert_eq!(cfg("segment.ms")["value"], "86400000");
    assert_eq!(cfg("segment.ms")["source"], "DYNAMIC_TOPIC_CONFIG");
    assert_eq!(j["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(j["partitions"][0]["leader"], 1);

    assert!(ok(weir(&b, &["list"])).lines().any(|l| l == "elk_log_dev"));
    let dup = weir(&b, &["create", "elk_log_dev"]);
    assert!(!dup.status.success());
    let err = String::from_utf8_lossy(&dup.stderr);
    assert!(
        err.contains("TOPIC_ALREADY_EXISTS") && err.lines().count() == 1,
        "{err}"
    );

    ok(weir(&b, &["delete", "elk_log_dev"]));
    assert!(!ok(weir(&b, &["list"])).lines().any(|l| l == "elk_log_dev"));
    let missing = weir(&b, &["describe", "elk_log_dev"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("UNKNOWN_TOPIC_OR_PARTITION"));
}
