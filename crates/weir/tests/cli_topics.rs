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

#[test]
fn produce_lines_then_consume_them_with_a_format() {
    use std::io::Write;
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    ok(weir(&b, &["create", "orders", "--partitions", "3"]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "produce",
            "orders",
            "-b",
            &b.bootstrap(),
            "--key-separator",
            ":",
            "--compression",
            "zstd",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn weir produce");
    let lines: Vec<String> = (0..50)
        .map(|i| format!("key-{}:value-{i}", i % 7))
        .collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "consume",
            "orders",
            "-b",
            &b.bootstrap(),
            "--from-beginning",
            "-f",
            "%p %o %k %s\\n",
        ])
        .output()
        .expect("run weir consume");
    let text = ok(out);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(rows.len(), 50, "{text}");
    for r in &rows {
        let partition: i32 = r[0].parse().unwrap();
        assert_eq!(
            partition,
            weir_test_support::java_partition(r[2].as_bytes(), 3),
            "keyed like Kafka's partitioner"
        );
        assert!(r[3].starts_with("value-"));
    }
    let limited = ok(Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "consume",
            "orders",
            "-b",
            &b.bootstrap(),
            "--from-beginning",
            "--max-messages",
            "5",
        ])
        .output()
        .unwrap());
    assert_eq!(limited.lines().count(), 5);
}

#[test]
fn configs_and_records_delete() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    ok(weir(
        &b,
        &[
            "create",
            "cfg",
            "--partitions",
            "2",
            "--config",
            "cleanup.policy=delete",
        ],
    ));
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .args(["-b", &b.bootstrap()])
            .output()
            .expect("run weir")
    };
    ok(run(&[
        "configs",
        "alter",
        "--topic",
        "cfg",
        "--set",
        "retention.ms=5000",
        "--delete",
        "cleanup.policy",
    ]));
    let d = ok(run(&["configs", "describe", "--topic", "cfg"]));
    assert!(
        d.contains("retention.ms=5000  (DYNAMIC_TOPIC_CONFIG)"),
        "{d}"
    );
    assert!(
        d.contains("cleanup.policy=delete  (DEFAULT_CONFIG)"),
        "override removed: {d}"
    );
    let broker = ok(run(&["configs", "describe", "--broker", "1"]));
    assert!(broker.contains("log.dirs="), "{broker}");

    let mut producer = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["produce", "cfg", "-b", &b.bootstrap(), "--partition", "0"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    producer
        .stdin
        .take()
        .unwrap()
        .write_all(b"a\nb\nc\nd\ne\n")
        .unwrap();
    assert!(producer.wait().unwrap().success());
    let out = ok(run(&[
        "records",
        "delete",
        "cfg",
        "--before",
        "3",
        "--partition",
        "0",
    ]));
    assert!(out.contains("cfg-0: log start offset 3"), "{out}");
    let rest = ok(run(&[
        "consume",
        "cfg",
        "--from-beginning",
        "--partition",
        "0",
    ]));
    assert_eq!(rest.lines().collect::<Vec<_>>(), vec!["d", "e"]);
    let bad = run(&[
        "records",
        "delete",
        "cfg",
        "--before",
        "99",
        "--partition",
        "0",
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("OFFSET_OUT_OF_RANGE"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn invalid_config_values_are_refused_with_the_kafka_error() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    let refused = |out: Output| {
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "accepted: {err}");
        assert!(
            err.contains("INVALID_CONFIG") && err.lines().count() == 1,
            "{err}"
        );
    };
    refused(weir(
        &b,
        &["create", "bad", "--config", "retention.ms=soon"],
    ));
    assert!(
        !ok(weir(&b, &["list"])).lines().any(|l| l == "bad"),
        "a refused create leaves no topic"
    );
    ok(weir(&b, &["create", "good"]));
    refused(weir(
        &b,
        &["alter", "good", "--config", "cleanup.policy=sometimes"],
    ));
    let configs = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "configs",
            "alter",
            "--topic",
            "good",
            "--set",
            "segment.bytes=-1",
        ])
        .args(["-b", &b.bootstrap()])
        .output()
        .unwrap();
    refused(configs);
    let d = ok(weir(&b, &["describe", "good"]));
    assert!(d.contains("cleanup.policy=delete"), "unchanged: {d}");
}

/// Every data and admin command fails within its connect timeout, with one line naming the
/// address, when nothing listens there (the commands run at the same time).
#[test]
fn unreachable_broker_is_a_clear_error_for_every_command() {
    let addr = format!("127.0.0.1:{}", weir_test_support::free_port());
    let commands: Vec<Vec<&str>> = vec![
        vec!["topics", "list"],
        vec!["topics", "describe", "t"],
        vec!["topics", "create", "t"],
        vec!["configs", "describe", "--topic", "t"],
        vec![
            "records",
            "delete",
            "t",
            "--before",
            "1",
            "--partition",
            "0",
        ],
        vec!["produce", "t"],
        vec!["consume", "t", "--max-messages", "1"],
    ];
    let t0 = std::time::Instant::now();
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            Command::new(env!("CARGO_BIN_EXE_weir"))
                .args(args)
                .args(["-b", &addr])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run weir")
        })
        .collect();
    for (args, child) in commands.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("cannot reach a broker") && err.contains(&addr),
            "{args:?}: {err}"
        );
    }
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        t0.elapsed()
    );
}
