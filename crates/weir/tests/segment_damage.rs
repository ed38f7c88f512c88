//! Disk damage with real processes (issue #18): a segment damaged while its broker was stopped
//! (a flipped byte, a cut tail) is found by CRC — before the next start with
//! `log.startup.verify=all`, by the background check after it by default — the log is truncated
//! at the damaged batch (a copy kept for forensics), nothing at or after it is ever served, and a
//! replicated copy leaves the ISR, refetches from the leader and only then rejoins it — it never
//! leads with the damaged copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::Offset;
use weir_log::batch::BatchHeader;
use weir_test_support::clients::{
    assigned_consumer, consume_n, create_topic, flush, producer, send, Msg,
};
use weir_test_support::cluster::{
    brokers_bootstrap, check_acked_vs_consumed, cluster_options, create_replicated_topic, full_isr,
    list_partition_dir, log_bytes, start_controller_and_three_brokers, view,
};
use weir_test_support::{start_cluster, wait_until, BrokerOptions, BrokerProcess};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Produce values `from..from + n` (decimal sequence numbers) to partition 0, idempotent,
/// acks=all, flushing every 10 so the log holds many batches; returns the acknowledged messages.
fn produce(bootstrap: &str, topic: &str, from: u64, n: u64) -> Vec<Msg> {
    let (p, log) = producer(
        bootstrap,
        &[("enable.idempotence", "true"), ("linger.ms", "1")],
    );
    for i in from..from + n {
        send(&p, topic, Some(0), None, i.to_string().as_bytes());
        if i % 10 == 9 {
            assert_eq!(flush(&p, Duration::from_secs(30)), 0, "flushed");
        }
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0, "flushed");
    let errors = log.errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "delivery errors: {errors:?}");
    let acked = log.acked.lock().unwrap().clone();
    assert_eq!(acked.len() as u64, n);
    acked
}

fn first_segment(log_dir: &Path, topic: &str) -> PathBuf {
    log_dir.join(format!("{topic}-0/00000000000000000000.log"))
}

/// (position, base offset) of every batch of a segment file.
fn batches(seg: &Path) -> Vec<(usize, i64)> {
    let bytes = std::fs::read(seg).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 61 <= bytes.len() {
        let h = BatchHeader::parse(&bytes[pos..]).unwrap();
        out.push((pos, h.base_offset));
        pos += h.total_len;
    }
    assert_eq!(pos, bytes.len(), "whole batches");
    out
}

/// How a stopped broker's segment gets damaged.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// One byte inside the records of the middle batch flipped (covered by its CRC).
    FlipByte,
    /// The file cut 30 bytes into the middle batch.
    CutTail,
}

/// Damage the middle batch of the first segment; returns that batch's base offset (everything
/// from it on must be gone).
fn damage(seg: &Path, how: Damage) -> i64 {
    let b = batches(seg);
    assert!(b.len() >= 6, "several batches: {}", b.len());
    let (pos, base) = b[b.len() / 2];
    match how {
        Damage::FlipByte => {
            let mut bytes = std::fs::read(seg).unwrap();
            bytes[pos + 61 + 2] ^= 0x20;
            std::fs::write(seg, &bytes).unwrap();
        }
        Damage::CutTail => {
            let f = std::fs::OpenOptions::new().write(true).open(seg).unwrap();
            f.set_len((pos + 30) as u64).unwrap();
        }
    }
    base
}

/// One broker, RF=1: the damaged batch and everything after it are never served, everything
/// before it is, and the broker says what was lost.
fn single_node(how: Damage, startup_verify: &str) {
    let _serial = serial();
    let options = BrokerOptions::default().config("log.startup.verify", startup_verify);
    let mut nodes = start_cluster(weir(), 1, options);
    let node = &mut nodes[0];
    let bs = node.bootstrap();
    create_topic(&bs, "damaged", 1, &[]);
    let acked = produce(&bs, "damaged", 0, 200);
    node.stop();
    let seg = first_segment(&node.log_dir(), "damaged");
    let cut = damage(&seg, how);
    node.restart();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let out = node.output();
            out.contains("DISK DAMAGE") && out.contains("lost to disk damage")
        }),
        "the broker reports the damage and the loss:\n{}",
        tail(&node.output(), 30)
    );
    let c = assigned_consumer(
        &bs,
        "damaged",
        1,
        Offset::Beginning,
        &[("check.crcs", "true")],
    );
    // Everything before the damaged batch arrives; then nothing more within 5 s.
    let got = consume_n(&c, acked.len(), Duration::from_secs(5));
    let offsets: Vec<i64> = got.iter().map(|m| m.offset).collect();
    assert_eq!(
        offsets,
        (0..cut).collect::<Vec<_>>(),
        "{how:?}: consumed up to the cut"
    );
    for (m, a) in got.iter().zip(&acked) {
        assert_eq!((m.offset, &m.value), (a.offset, &a.value));
    }
    // A new record goes where the damaged batch was.
    let more = produce(&bs, "damaged", 1000, 1);
    assert_eq!(more[0].offset, cut);
    // ... and reads back after the kept records (no damaged bytes in between).
    let c = assigned_consumer(
        &bs,
        "damaged",
        1,
        Offset::Beginning,
        &[("check.crcs", "true")],
    );
    let again = consume_n(&c, cut as usize + 1, Duration::from_secs(20));
    assert_eq!(
        again.len(),
        cut as usize + 1,
        "{how:?}: read back after the cut"
    );
    assert_eq!(
        (again[cut as usize].offset, &again[cut as usize].value),
        (cut, &more[0].value)
    );
    let out = node.output();
    assert!(!out.contains("panicked"), "{}", tail(&out, 30));
    assert!(
        list_partition_dir(&node.log_dir(), "damaged", 0).contains(".log.corrupt-"),
        "a forensic copy is kept: {}",
        list_partition_dir(&node.log_dir(), "damaged", 0)
    );
}

/// The default (`log.startup.verify=recovery-point`): nothing is read at start-up after a clean
/// shutdown; the background check finds the damage and, this being the only copy, cuts there as
/// the check at open would.
#[test]
fn a_flipped_byte_after_a_clean_shutdown_is_detected_and_never_served() {
    single_node(Damage::FlipByte, "recovery-point");
}

#[test]
fn a_cut_segment_after_a_clean_shutdown_is_detected_and_never_served() {
    single_node(Damage::CutTail, "recovery-point");
}

/// `log.startup.verify=all`: found before the broker starts.
#[test]
fn with_startup_verify_all_a_flipped_byte_is_found_at_open() {
    single_node(Damage::FlipByte, "all");
}

/// Three brokers, RF=3, min.insync.replicas=2: a follower's segment is damaged while it is
/// stopped. After its restart it leaves the ISR, never leads, refetches, and rejoins the ISR only
/// with the leader's bytes; then the leader is killed, and nothing acknowledged is lost.
#[test]
fn a_damaged_follower_refetches_before_it_rejoins_and_never_leads_with_its_copy() {
    damaged_follower(None, "all");
}

/// As above, but the damaged segment is an old one, below the recovery point: the default
/// `log.startup.verify=recovery-point` does not read it at start-up; the background verification
/// finds the damage while the broker serves, and the same repair follows (issue #24, start-up).
#[test]
fn damage_in_an_old_segment_is_found_in_the_background_and_repaired_the_same_way() {
    damaged_follower(Some("1500"), "recovery-point");
}

/// The default again, with the damage in the active segment: after a clean shutdown nothing is
/// read at start-up, so the background check finds it too.
#[test]
fn damage_in_the_active_segment_after_a_clean_shutdown_is_found_in_the_background() {
    damaged_follower(None, "recovery-point");
}

/// `segment_bytes`: the topic's (small: the damaged segment is an old one); `startup_verify`: the
/// brokers' `log.startup.verify` (`all`: found at open; else in the background).
fn damaged_follower(segment_bytes: Option<&str>, startup_verify: &str) {
    let _serial = serial();
    let mut nodes = start_controller_and_three_brokers(
        weir(),
        cluster_options()
            .config("replica.fetch.backoff.ms", "200")
            .config("auto.leader.rebalance.enable", "false")
            .config("log.startup.verify", startup_verify),
    );
    let bs = brokers_bootstrap(&nodes);
    let mut topic_configs = vec![("min.insync.replicas", "2")];
    if let Some(b) = segment_bytes {
        topic_configs.push(("segment.bytes", b));
    }
    assert_eq!(
        create_replicated_topic(&nodes[1].bootstrap(), "orders", 1, 3, &topic_configs),
        0
    );
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "orders", 3
    )));
    let mut acked = produce(&bs, "orders", 0, 300);
    assert!(wait_until(Duration::from_secs(20), || full_isr(
        &nodes, "orders", 3
    )));
    let leader = view(&nodes, "orders", &[])[0].leader;
    let l = (leader - 1) as usize;
    let f = if l == 1 { 2 } else { 1 };
    let follower = f as i32 + 1;
    // Every replica has every record before the follower stops.
    assert!(wait_until(Duration::from_secs(20), || {
        log_bytes(&nodes[f].log_dir(), "orders", 0) == log_bytes(&nodes[l].log_dir(), "orders", 0)
    }));
    nodes[f].stop();
    let seg = first_segment(&nodes[f].log_dir(), "orders");
    if segment_bytes.is_some() {
        let segments = std::fs::read_dir(nodes[f].log_dir().join("orders-0"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".log"))
            })
            .count();
        assert!(
            segments >= 3,
            "the damaged segment is an old one: {segments} segments"
        );
    }
    damage(&seg, Damage::FlipByte);
    nodes[f].restart();
    let mut led_by_damaged = Vec::new();
    let mut watch = |nodes: &[BrokerProcess]| {
        let v = view(nodes, "orders", &[]);
        if v.first().is_some_and(|p| p.leader == follower) {
            led_by_damaged.push(v[0].clone());
        }
        v
    };
    assert!(
        wait_until(Duration::from_secs(30), || {
            watch(&nodes);
            let out = nodes[f].output();
            // At open: out of the ISR with the registration. In the background: out of the ISR
            // first if it had rejoined, then truncated ("repaired").
            let repaired = if startup_verify != "all" {
                "disk damage repaired"
            } else {
                "left the ISR"
            };
            out.contains("DISK DAMAGE") && out.contains(repaired)
        }),
        "the follower found the damage and left the ISR:\n{}",
        tail(&nodes[f].output(), 30)
    );
    if startup_verify != "all" {
        assert!(
            nodes[f].output().contains("background verification"),
            "found by the background verification, not at open:\n{}",
            tail(&nodes[f].output(), 30)
        );
    }
    // It rejoins the ISR by the normal catch-up rule, and then holds exactly the leader's bytes.
    assert!(
        wait_until(Duration::from_secs(40), || {
            watch(&nodes)
                .first()
                .is_some_and(|p| p.isr.contains(&follower))
        }),
        "the damaged follower rejoined the ISR: {:?}\n{}",
        view(&nodes, "orders", &[]),
        tail(&nodes[f].output(), 30)
    );
    assert!(
        log_bytes(&nodes[f].log_dir(), "orders", 0) == log_bytes(&nodes[l].log_dir(), "orders", 0),
        "back in the ISR only with the leader's bytes: {} / {}\n{}\nleader:\n{}",
        list_partition_dir(&nodes[f].log_dir(), "orders", 0),
        list_partition_dir(&nodes[l].log_dir(), "orders", 0),
        tail(&nodes[f].output(), 40),
        tail(&nodes[l].output(), 60)
    );
    assert!(list_partition_dir(&nodes[f].log_dir(), "orders", 0).contains(".log.corrupt-"));
    // The leader dies: a complete copy takes over; nothing acknowledged is lost.
    nodes[l].kill9();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let v = view(&nodes, "orders", &[l]);
            !v.is_empty() && v[0].leader > 0 && v[0].leader != leader
        }),
        "a new leader: {:?}",
        view(&nodes, "orders", &[l])
    );
    acked.extend(produce(&bs, "orders", 300, 100));
    nodes[l].restart();
    assert!(wait_until(Duration::from_secs(40), || full_isr(
        &nodes, "orders", 3
    )));
    assert!(
        led_by_damaged.is_empty(),
        "the damaged copy led before it rejoined the ISR: {led_by_damaged:?}"
    );
    let (problems, consumed) = check_acked_vs_consumed(
        &bs,
        "orders",
        1,
        &acked,
        acked.len(),
        Duration::from_secs(60),
    );
    assert!(
        problems.is_empty(),
        "{consumed} consumed: {:#?}",
        &problems[..problems.len().min(20)]
    );
    assert_eq!(consumed, acked.len());
    for n in nodes.iter_mut().rev() {
        n.stop();
    }
    let copies: Vec<Vec<u8>> = nodes[1..]
        .iter()
        .map(|n| log_bytes(&n.log_dir(), "orders", 0))
        .collect();
    assert!(!copies[0].is_empty());
    assert!(
        copies.iter().all(|c| c == &copies[0]),
        "replicas differ: {:?}",
        copies.iter().map(Vec::len).collect::<Vec<_>>()
    );
}
