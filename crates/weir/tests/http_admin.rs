//! The HTTP admin listener of a real `weir serve` (issue 22): `/health` and `/ready` answer,
//! `/metrics` is Prometheus text with the broker's counters, unknown paths are 404, a wrong
//! method 405, `http.listener=none` turns it off, and `127.0.0.1:0` picks a free port.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use weir_test_support::http::{get, prometheus_sample as sample};
use weir_test_support::{free_port, wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn start_with_http() -> (BrokerProcess, SocketAddr) {
    weir_test_support::http::start_with_http(weir(), BrokerOptions::default())
}

#[test]
fn health_ready_metrics_and_bad_paths() {
    let (b, http) = start_with_http();
    assert_eq!(get(http, "/health"), Some((200, "ok\n".into())));
    assert!(
        wait_until(Duration::from_secs(30), || get(http, "/ready")
            .is_some_and(|(s, _)| s == 200)),
        "not ready: {:?}\n{}",
        get(http, "/ready"),
        b.output()
    );
    let (status, body) = get(http, "/nope").expect("answer");
    assert_eq!(status, 404);
    assert!(body.contains("/nope"), "{body}");

    // A wrong method: POST /health.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(http).unwrap();
        write!(s, "POST /health HTTP/1.0\r\nContent-Length: 0\r\n\r\n").unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        assert!(
            raw.starts_with("HTTP/1.0 405") || raw.starts_with("HTTP/1.1 405"),
            "{raw}"
        );
    }

    // A produce through the CLI shows up in the per-topic counters.
    let out = std::process::Command::new(weir())
        .args([
            "topics",
            "-b",
            &b.bootstrap(),
            "create",
            "m1",
            "--partitions",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut produce = std::process::Command::new(weir())
        .args(["produce", "-b", &b.bootstrap(), "m1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = produce.stdin.take().unwrap();
        for i in 0..25 {
            writeln!(stdin, "value-{i}").unwrap();
        }
    }
    assert!(produce.wait().unwrap().success());
    let (status, body) = get(http, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &body,
            r#"kafka_server_brokertopicmetrics_messagesin_total{topic="m1"}"#
        ),
        Some(25.0),
        "{body}"
    );
    assert!(sample(
        &body,
        r#"kafka_network_requestmetrics_requests_total{request="Produce"}"#
    )
    .is_some_and(|n| n >= 1.0));
    assert_eq!(
        sample(&body, "kafka_server_replicamanager_partitioncount"),
        Some(2.0)
    );
    assert_eq!(
        sample(&body, "kafka_server_replicamanager_leadercount"),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &body,
            "kafka_controller_kafkacontroller_activecontrollercount"
        ),
        Some(1.0)
    );
    assert!(sample(&body, r#"kafka_log_log_size{topic="m1",partition="0"}"#).is_some());
    assert!(sample(&body, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
    assert!(
        body.contains("kafka_network_requestmetrics_totaltime_seconds_bucket{request=\"Produce\"")
    );
}

#[test]
fn per_partition_series_can_be_turned_off() {
    let (b, http) = weir_test_support::http::start_with_http(
        weir(),
        BrokerOptions::default().config("metrics.per.partition", "false"),
    );
    let out = std::process::Command::new(weir())
        .args([
            "topics",
            "-b",
            &b.bootstrap(),
            "create",
            "pp",
            "--partitions",
            "3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_, body) = get(http, "/metrics").expect("metrics");
    assert_eq!(
        sample(&body, "kafka_server_replicamanager_partitioncount"),
        Some(3.0)
    );
    assert!(!body.contains("kafka_log_log_size{"), "{body}");
}

#[test]
fn none_turns_it_off_and_port_zero_picks_one() {
    let _off = BrokerProcess::start(
        weir(),
        BrokerOptions::default().config("http.listener", "none"),
    );
    let any = BrokerProcess::start(
        weir(),
        BrokerOptions::default().config("http.listener", "127.0.0.1:0"),
    );
    assert!(wait_until(Duration::from_secs(10), || _off
        .output()
        .contains("weir ready")));
    assert!(!_off.output().contains("HTTP admin listener"));
    let mut bound = None;
    assert!(wait_until(Duration::from_secs(10), || {
        bound = any
            .output()
            .lines()
            .find_map(|l| l.split("HTTP admin listener on http://").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse::<SocketAddr>().ok());
        bound.is_some()
    }));
    let bound = bound.unwrap();
    assert_ne!(bound.port(), 0);
    assert_eq!(get(bound, "/health").map(|(s, _)| s), Some(200));
}

#[test]
fn an_explicit_listener_on_a_taken_port_fails_the_start() {
    let port = free_port();
    let mut b = BrokerProcess::start(
        weir(),
        BrokerOptions::default().config("http.listener", &format!("127.0.0.1:{port}")),
    );
    b.stop();
    let _held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let status = b.restart_expecting_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| !s.success()),
        "{status:?}\n{}",
        b.output()
    );
    assert!(
        b.output().contains("cannot bind http.listener"),
        "{}",
        b.output()
    );
}
