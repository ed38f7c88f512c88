//! A truncation rebuilds a partition's idempotent-producer state under the partition's lock:
//! an append racing it must see the rebuilt state (a root-level test module, as it needs both the
//! [`crate::LogManager`] and the hook inside `partition_log`).

use std::sync::Arc;

use crate::batch::build_batch;
use crate::partition_log::race_hook;

/// An idempotent batch of one record: producer `pid`, epoch 0, sequence `seq`.
fn idempotent(pid: i64, seq: i32) -> Vec<u8> {
    let mut b = build_batch(0, 1_000, &[(None, &b"v"[..])]);
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&0i16.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// A truncation rebuilds the producer state (snapshot + replay) without letting anything
/// else take the log in between: an append that got the lock after the truncation but
/// before the replay saw only the snapshot's state (here: none, a single segment has no
/// snapshot) and took a retry of a batch still in the log for new data, storing it twice
/// (bug N's shape). The append below is started in that window and must be answered as a
/// duplicate.
#[test]
fn an_append_racing_a_truncation_sees_the_rebuilt_producer_state() {
    let dir = tempfile::tempdir().unwrap();
    let m = crate::LogManager::open(dir.path(), Arc::new(crate::ManualClock::new(1_000))).unwrap();
    let log = m
        .get_or_create(
            &crate::TopicPartition::new("t", 0),
            crate::LogConfig::default(),
        )
        .unwrap();
    for seq in 0..3 {
        assert_eq!(
            log.append(&idempotent(7, seq)).unwrap().base_offset,
            i64::from(seq)
        );
    }
    // A divergent tail of another producer, truncated away below.
    log.append(&idempotent(8, 0)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let in_window = Arc::new(std::sync::Mutex::new(None));
    let (racer, waiter, seen) = (log.clone(), rx.clone(), in_window.clone());
    race_hook::set(Some(Box::new(move || {
        let (racer, tx) = (racer.clone(), tx.clone());
        std::thread::spawn(move || {
            let _ = tx.send(racer.append(&idempotent(7, 2)).map(|r| r.base_offset));
        });
        // An append that completes while the truncation is still under way got in
        // unlocked; with the lock held it is still waiting when this gives up.
        let got = waiter
            .lock()
            .unwrap()
            .recv_timeout(std::time::Duration::from_millis(300));
        *seen.lock().unwrap() = got.ok();
    })));
    log.truncate_to(3).unwrap();
    race_hook::set(None);
    let early = in_window.lock().unwrap().take();
    let retried_at = match early {
        Some(r) => r.unwrap(),
        None => rx.lock().unwrap().recv().unwrap().unwrap(),
    };
    assert_eq!(
        (retried_at, log.log_end_offset()),
        (2, 3),
        "the retry of the batch at offset 2 is a duplicate, nothing appended"
    );
}
