//! `weir consume --group` and `weir groups list|describe|reset-offsets` against a real broker:
//! committed offsets and lag, dry-run and executed resets, refusal while the group has an active
//! member, and a clear error when the broker is unreachable.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use weir_test_support::clients::{create_topic, flush, producer, send};
use weir_test_support::{free_port, wait_until, BrokerOptions, BrokerProcess};

const TOPIC: &str = "orders";

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("run weir")
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

fn groups(b: &BrokerProcess, args: &[&str]) -> Output {
    let bs = b.bootstrap();
    let mut all = vec!["groups", "-b", bs.as_str()];
    all.extend_from_slice(args);
    weir(&all)
}

/// `weir groups describe`: the State field and, per partition of TOPIC, (current, end, lag,
/// consumer id) as printed ("-" stays "-").
struct Described {
    state: String,
    rows: Vec<(i32, String, i64, String, String)>,
}

fn describe(b: &BrokerProcess, group: &str) -> Described {
    let text = ok(groups(b, &["describe", group]));
    let state = text
        .split_whitespace()
        .skip_while(|w| *w != "State:")
        .nth(1)
        .unwrap_or_else(|| panic!("no State in {text}"))
        .to_string();
    let mut rows: Vec<_> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.len() == 9 && c[0] == group && c[1] == TOPIC)
        .map(|c| {
            (
                c[2].parse::<i32>().unwrap(),
                c[3].to_string(),
                c[4].parse::<i64>().unwrap(),
                c[5].to_string(),
                c[6].to_string(),
            )
        })
        .collect();
    rows.sort();
    Described { state, rows }
}

fn produce(b: &BrokerProcess, per_partition: usize, tag: &str) {
    let (p, acks) = producer(&b.bootstrap(), &[]);
    for i in 0..per_partition * 3 {
        let v = format!("{tag}-{i}");
        send(&p, TOPIC, Some((i % 3) as i32), None, v.as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0, "unacknowledged");
    assert!(acks.errors.lock().unwrap().is_empty());
}

#[test]
fn consume_with_a_group_then_describe_lag_and_reset_offsets() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default().config("group.initial.rebalance.delay.ms", "0"),
    );
    let bs = b.bootstrap();
    create_topic(&bs, TOPIC, 3, &[]);
    produce(&b, 10, "first");

    // The group member prints all 30 messages and commits what it printed.
    let out = ok(weir(&[
        "consume",
        TOPIC,
        "-b",
        &bs,
        "--group",
        "g1",
        "--from-beginning",
        "--max-messages",
        "30",
    ]));
    let got: HashSet<&str> = out.lines().collect();
    let want: Vec<String> = (0..30).map(|i| format!("first-{i}")).collect();
    assert_eq!(out.lines().count(), 30, "{out}");
    assert!(want.iter().all(|w| got.contains(w.as_str())), "{out}");

    assert!(ok(groups(&b, &["list"]))
        .lines()
        .any(|l| l == "g1\tclassic"));

    // Committed = log end on every partition once the member has left.
    let mut state = String::new();
    let left = wait_until(Duration::from_secs(30), || {
        state = describe(&b, "g1").state;
        state == "Empty"
    });
    assert!(left, "group g1 is {state} after its only member exited");
    let d = describe(&b, "g1");
    let rows: Vec<_> = d
        .rows
        .iter()
        .map(|r| (r.0, r.1.as_str(), r.2, r.3.as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![(0, "10", 10, "0"), (1, "10", 10, "0"), (2, "10", 10, "0")]
    );

    produce(&b, 2, "second");
    let d = describe(&b, "g1");
    let lags: Vec<_> = d.rows.iter().map(|r| (r.0, r.2, r.3.as_str())).collect();
    assert_eq!(lags, vec![(0, 12, "2"), (1, 12, "2"), (2, 12, "2")]);

    // Dry run by default: prints the plan, commits nothing.
    let plan = ok(groups(
        &b,
        &["reset-offsets", "g1", "--topic", TOPIC, "--to-earliest"],
    ));
    assert_eq!(
        plan.lines()
            .filter(|l| l.starts_with("g1 ") && l.trim_end().ends_with(" 0"))
            .count(),
        3,
        "{plan}"
    );
    assert!(describe(&b, "g1").rows.iter().all(|r| r.1 == "10"));

    ok(groups(
        &b,
        &[
            "reset-offsets",
            "g1",
            "--topic",
            TOPIC,
            "--to-earliest",
            "--execute",
        ],
    ));
    let d = describe(&b, "g1");
    let reset: Vec<_> = d
        .rows
        .iter()
        .map(|r| (r.0, r.1.as_str(), r.3.as_str()))
        .collect();
    assert_eq!(reset, vec![(0, "0", "12"), (1, "0", "12"), (2, "0", "12")]);

    // --to-offset is clamped into [log start, log end]; one partition only.
    ok(groups(
        &b,
        &[
            "reset-offsets",
            "g1",
            "--topic",
            "orders:1",
            "--to-offset",
            "99",
            "--execute",
        ],
    ));
    let currents: Vec<_> = describe(&b, "g1").rows.into_iter().map(|r| r.1).collect();
    assert_eq!(currents, vec!["0", "12", "0"]);

    // A future time has no offset: the log end.
    ok(groups(
        &b,
        &[
            "reset-offsets",
            "g1",
            "--topic",
            "orders:2",
            "--to-datetime",
            "2999-01-01T00:00:00Z",
            "--execute",
        ],
    ));
    let currents: Vec<_> = describe(&b, "g1").rows.into_iter().map(|r| r.1).collect();
    assert_eq!(currents, vec!["0", "12", "12"]);

    // With an active member the reset is refused.
    let stop = Arc::new(AtomicBool::new(false));
    let member = {
        let (stop, bs) = (stop.clone(), bs.clone());
        std::thread::spawn(move || {
            let c: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bs)
                .set("group.id", "g1")
                .set("enable.auto.commit", "false")
                .create()
                .expect("consumer");
            c.subscribe(&[TOPIC]).expect("subscribe");
            while !stop.load(Ordering::Relaxed) {
                if let Some(Err(e)) = c.poll(Duration::from_millis(50)) {
                    eprintln!("member: {e}");
                }
            }
        })
    };
    let mut last = String::new();
    let joined = wait_until(Duration::from_secs(30), || {
        let d = describe(&b, "g1");
        last = format!("{} {:?}", d.state, d.rows);
        d.state == "Stable" && d.rows.len() == 3 && d.rows.iter().all(|r| r.4 != "-")
    });
    assert!(
        joined,
        "member never became Stable with 3 partitions: {last}"
    );
    let refused = groups(
        &b,
        &[
            "reset-offsets",
            "g1",
            "--topic",
            TOPIC,
            "--to-latest",
            "--execute",
        ],
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "reset with an active member succeeded"
    );
    assert!(err.contains("inactive") && err.contains("Stable"), "{err}");
    let currents: Vec<_> = describe(&b, "g1").rows.into_iter().map(|r| r.1).collect();
    assert_eq!(
        currents,
        vec!["0", "12", "12"],
        "refused reset changed offsets"
    );
    stop.store(true, Ordering::Relaxed);
    member.join().unwrap();
}

#[test]
fn unreachable_broker_is_a_clear_error_in_bounded_time() {
    let addr = format!("127.0.0.1:{}", free_port());
    for args in [
        vec!["groups", "list"],
        vec!["groups", "describe", "g1"],
        vec![
            "groups",
            "reset-offsets",
            "g1",
            "--topic",
            "t",
            "--to-earliest",
        ],
    ] {
        let t0 = Instant::now();
        let mut all = args.clone();
        all.extend(["-b", addr.as_str(), "--timeout-ms", "2000"]);
        let out = weir(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{args:?} took {:?}",
            t0.elapsed()
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("weir: ") && err.contains(&addr), "{err}");
    }
}

/// A child process killed if the test fails before it exits.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn group_consumer_commits_only_what_it_printed_and_leaves_on_sigterm() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default().config("group.initial.rebalance.delay.ms", "0"),
    );
    let bs = b.bootstrap();
    create_topic(&bs, TOPIC, 3, &[]);
    produce(&b, 10, "m");

    // librdkafka prefetches more than 5, but only the 5 printed offsets are committed.
    let out = ok(weir(&[
        "consume",
        TOPIC,
        "-b",
        &bs,
        "-g",
        "g2",
        "--from-beginning",
        "--max-messages",
        "5",
    ]));
    assert_eq!(out.lines().count(), 5, "{out}");
    let committed: i64 = describe(&b, "g2")
        .rows
        .iter()
        .map(|r| r.1.parse::<i64>().unwrap_or(0))
        .sum();
    assert_eq!(committed, 5);

    // A --follow member resumes after the committed offsets (from the beginning where nothing is
    // committed), and SIGTERM makes it commit and leave the group at once (not after the 45 s
    // session timeout).
    let mut child = KillOnDrop(Some(
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args([
                "consume",
                TOPIC,
                "-b",
                &bs,
                "-g",
                "g2",
                "--follow",
                "--from-beginning",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn weir consume --follow"),
    ));
    let mut last = String::new();
    let caught_up = wait_until(Duration::from_secs(30), || {
        let d = describe(&b, "g2");
        last = format!("{} {:?}", d.state, d.rows);
        d.state == "Stable" && d.rows.len() == 3 && d.rows.iter().all(|r| r.3 == "0")
    });
    assert!(
        caught_up,
        "member did not consume and commit the rest: {last}"
    );
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.0.as_ref().unwrap().id() as i32, libc::SIGTERM);
    }
    let t0 = Instant::now();
    let out = child.0.take().unwrap().wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 25);
    let left = wait_until(Duration::from_secs(10), || {
        describe(&b, "g2").state == "Empty"
    });
    assert!(left, "still a member {:?} after SIGTERM", t0.elapsed());
}
