//! A full log dir takes the dir offline, as Kafka does on an IOException: the failed append and
//! every later one are refused with KAFKA_STORAGE_ERROR (retriable), never with
//! OUT_OF_ORDER_SEQUENCE_NUMBER, and the broker stops. Found by the 1,000-fault campaign (issue
//! #18): after a write failed with ENOSPC, the idempotent producer's next batch got
//! OUT_OF_ORDER_SEQUENCE_NUMBER (its predecessor was never stored); librdkafka answers that by
//! bumping its epoch and re-sending every unacknowledged message under the new epoch, which the
//! broker cannot deduplicate: three records acknowledged once were stored twice.
//!
//! Needs root (a tmpfs mount), as CI runs.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::{init_idempotent_producer, producer_batch, try_produce, RawClient};
use weir_test_support::tmpfs::SmallDisk;
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// The error code of producing `records` to partition 0 of `topic` (acks=all); `None` when the
/// connection closed instead (the broker stopping).
fn produce(c: &mut RawClient, topic: &str, records: Bytes) -> Option<i16> {
    try_produce(c, topic, None, records)
        .ok()
        .map(|(code, _)| code)
}

#[test]
fn a_failed_write_refuses_later_batches_with_a_storage_error_and_stops_the_broker() {
    let disk = SmallDisk::mount("4m");
    let meta = tempfile::tempdir().expect("metadata dir");
    let mut b = BrokerProcess::start(
        weir(),
        BrokerOptions::default()
            .config("log.dirs", disk.path().join("logs").to_str().unwrap())
            .config("metadata.log.dir", meta.path().to_str().unwrap()),
    );
    create_topic(&b.bootstrap(), "full", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let init = init_idempotent_producer(&mut c);
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id.0;
    const N: i32 = 2_000;
    assert_eq!(
        produce(&mut c, "full", producer_batch(pid, 0, 0, N, false)),
        Some(0)
    );
    disk.fill();
    // Batches of 2,000 records need fresh pages: a write fails with ENOSPC soon.
    let mut seq = N;
    let first_error = loop {
        let code = produce(&mut c, "full", producer_batch(pid, 0, seq, N, false));
        if code != Some(0) {
            break code;
        }
        seq += N;
        assert!(seq < 200 * N, "no write failed on a full 4 MiB disk");
    };
    assert_eq!(
        first_error,
        Some(56),
        "KAFKA_STORAGE_ERROR for the failed write"
    );
    // The next batches in sequence were never preceded by a stored one: they must not be told
    // OUT_OF_ORDER_SEQUENCE_NUMBER (45), which makes clients bump their epoch and re-send. The
    // dir is offline (KAFKA_STORAGE_ERROR) until the broker, stopping, closes the connection
    // (as Kafka halts).
    for (what, first_seq) in [("the next batch", seq + N), ("the retry", seq)] {
        let code = produce(&mut c, "full", producer_batch(pid, 0, first_seq, N, false));
        assert!(
            matches!(code, None | Some(56)),
            "{what}: {code:?}, not KAFKA_STORAGE_ERROR or a closed connection"
        );
        if code.is_none() {
            break;
        }
    }
    let stopped = wait_until(Duration::from_secs(30), || !b.is_alive());
    let out = b.output();
    assert!(
        stopped,
        "the broker kept running on a failed log dir:\n{out}"
    );
    assert!(
        out.contains("the log dir failed: stopping this broker"),
        "the reason is logged:\n{out}"
    );
}
