//! A full log dir takes the dir offline, as Kafka does on an IOException: the failed append and
//! every later one are refused with KAFKA_STORAGE_ERROR (retriable), never with
//! OUT_OF_ORDER_SEQUENCE_NUMBER, and the broker stops. Found by the 1,000-fault campaign (issue
//! #18): after a write failed with ENOSPC, the idempotent producer's next batch got
//! OUT_OF_ORDER_SEQUENCE_NUMBER (its predecessor was never stored); librdkafka answers that by
//! bumping its epoch and re-sending every unacknowledged message under the new epoch, which the
//! broker cannot deduplicate: three records acknowledged once were stored twice.
//!
//! Needs root (a tmpfs mount), as CI runs.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::create_topic;
use weir_test_support::raw::{producer_batch, RawClient};
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// A small tmpfs, unmounted on drop.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            ok.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        SmallDisk(dir)
    }

    /// Write zeros until the disk refuses (ENOSPC).
    fn fill(&self) {
        let mut f = std::fs::File::create(self.0.path().join("filler")).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.sync_all();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// The error code of producing `records` to partition 0 of `topic` (acks=all); `None` when the
/// connection closed instead (the broker stopping).
fn produce(c: &mut RawClient, topic: &str, records: Bytes) -> Option<i16> {
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 30_000;
    req.topic_data = vec![t];
    let resp: ProduceResponse = c.try_call(ApiKey::Produce, 9, &req).ok()?;
    Some(resp.responses[0].partition_responses[0].error_code)
}

#[test]
fn a_failed_write_refuses_later_batches_with_a_storage_error_and_stops_the_broker() {
    let disk = SmallDisk::mount("4m");
    let meta = tempfile::tempdir().expect("metadata dir");
    let mut b = BrokerProcess::start(
        weir(),
        BrokerOptions::default()
            .config("log.dirs", disk.0.path().join("logs").to_str().unwrap())
            .config("metadata.log.dir", meta.path().to_str().unwrap()),
    );
    create_topic(&b.bootstrap(), "full", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let init: InitProducerIdResponse = c.call(
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000),
    );
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
