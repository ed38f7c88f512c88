//! A broker whose metadata log cannot be written (its disk is full) stops instead of serving
//! clients from a stale metadata image forever (found by the chaos campaign, `weir-chaos --seed 3
//! --kinds disk`: openraft's core exited on ENOSPC while the process kept answering, never
//! recovered, and a stale node kept claiming leadership). Kafka halts the process in this case.
//!
//! Needs root (the metadata log dir is a 1 MiB tmpfs), as CI has.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use weir_test_support::tmpfs::SmallDisk;
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

#[test]
fn a_broker_whose_metadata_log_fails_stops_instead_of_serving_a_stale_image() {
    let disk = SmallDisk::mount("1m");
    let meta_dir = disk.path().join("meta");
    let mut b = BrokerProcess::start(
        weir(),
        BrokerOptions::default().config("metadata.log.dir", meta_dir.to_str().unwrap()),
    );
    disk.fill();
    // A metadata change must be appended to the (full) metadata log.
    let mut create = Command::new(weir())
        .args(["topics", "create", "after-full", "-b", &b.bootstrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("weir topics create");
    let stopped = wait_until(Duration::from_secs(30), || !b.is_alive());
    let _ = create.kill();
    let _ = create.wait();
    let out = b.output();
    assert!(
        stopped,
        "the broker kept running after its metadata log failed:\n{out}"
    );
    assert!(
        out.contains("the metadata log failed"),
        "the reason is logged:\n{out}"
    );
}
