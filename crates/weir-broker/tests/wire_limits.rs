//! In-process wire tests: fetch by topic id, fetch byte limits, and random hostile frames.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::*;
use kafka_protocol::messages::*;
use tokio::io::AsyncWriteExt;

/// Number of record batches in a fetch response's records.
fn batches(records: &Bytes) -> usize {
    let mut n = 0;
    let mut rest = &records[..];
    while rest.len() >= 12 {
        let len = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        rest = &rest[(12 + len).min(rest.len())..];
        n += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_by_topic_id_from_v13() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    let md = metadata(&mut c, "ids").await;
    let id = md.topics[0].topic_id;
    assert!(!id.is_nil());
    produce(&mut c, "ids", -1, batch(&["x", "y"])).await;

    let mut req = fetch_req("", 0, 0, (0, -1));
    req.topics[0].topic_id = id;
    let resp: FetchResponse = c.call(ApiKey::Fetch, 13, &req).await;
    assert_eq!(resp.responses[0].topic_id, id);
    let recs = values(resp.responses[0].partitions[0].records.as_ref().unwrap());
    assert_eq!(recs.len(), 2);

    let unknown = uuid::Uuid::new_v4();
    req.topics[0].topic_id = unknown;
    let resp: FetchResponse = c.call(ApiKey::Fetch, 13, &req).await;
    assert_eq!(resp.responses[0].topic_id, unknown);
    assert_eq!(resp.responses[0].partitions[0].error_code, 100);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_respects_max_bytes_but_returns_at_least_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    metadata(&mut c, "big").await;
    let value = "v".repeat(1000);
    for _ in 0..3 {
        assert_eq!(produce(&mut c, "big", -1, batch(&[&value])).await.0, 0);
    }
    let all: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("big", 0, 0, (0, -1)))
        .await;
    let all_records = all.responses[0].partitions[0].records.clone().unwrap();
    assert_eq!(batches(&all_records), 3);
    let one_batch = all_records.len() / 3;

    // Response max_bytes far below one batch: still exactly one whole batch.
    let mut req = fetch_req("big", 0, 0, (0, -1));
    req.max_bytes = 10;
    let resp: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
    assert_eq!(
        batches(resp.responses[0].partitions[0].records.as_ref().unwrap()),
        1
    );

    // Partition limit of two and a half batches: two whole batches.
    let mut req = fetch_req("big", 0, 0, (0, -1));
    req.topics[0].partitions[0].partition_max_bytes = (one_batch * 5 / 2) as i32;
    let resp: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
    assert_eq!(
        batches(resp.responses[0].partitions[0].records.as_ref().unwrap()),
        2
    );
    server.stop().await;
}

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_truncated_frames_never_take_the_broker_down() {
    // Count panics anywhere in the process (a panicking connection task would otherwise be
    // swallowed by tokio and go unnoticed).
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut healthy = Client::connect(server.addr).await;
    metadata(&mut healthy, "ok").await;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // (api key, version) pairs the broker serves, so bodies reach the body decoders.
    let keys: [(i16, i16); 6] = [(0, 9), (1, 12), (2, 7), (3, 12), (10, 4), (18, 3)];
    let mut all_topics = MetadataRequest::default();
    all_topics.topics = None;
    for round in 0..40 {
        let mut conns = Vec::new();
        for _ in 0..8 {
            let mut frame = BytesMut::new();
            let body_len = rng.below(300) as usize;
            let mut body = BytesMut::new();
            if rng.below(2) == 0 {
                let (key, version) = keys[rng.below(keys.len() as u64) as usize];
                body.put_i16(key);
                body.put_i16(version);
                body.put_i32(round);
            }
            for _ in 0..body_len {
                body.put_u8(rng.next() as u8);
            }
            match rng.below(4) {
                // Correct length prefix.
                0 | 1 => frame.put_i32(body.len() as i32),
                // Claims more than is sent (truncated frame).
                2 => frame.put_i32(body.len() as i32 + 1 + rng.below(1 << 20) as i32),
                // Arbitrary prefix.
                _ => frame.put_u32(rng.next() as u32),
            }
            frame.extend_from_slice(&body);
            let mut c = Client::connect(server.addr).await;
            c.stream.write_all(&frame).await.unwrap();
            c.stream.shutdown().await.unwrap();
            conns.push(c);
        }
        drop(conns);
        let resp: MetadataResponse = tokio::time::timeout(
            Duration::from_secs(10),
            healthy.call(ApiKey::Metadata, 12, &all_topics),
        )
        .await
        .expect("healthy client still served");
        assert!(resp
            .topics
            .iter()
            .any(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == "ok")));
    }
    assert_eq!(
        produce(&mut healthy, "ok", -1, batch(&["still alive"]))
            .await
            .0,
        0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_oversized_requests_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), |cfg| {
        cfg.connections_max_idle_ms = 300;
        cfg.socket_request_max_bytes = 1000;
    })
    .await;
    let mut idle = Client::connect(server.addr).await;
    let t0 = std::time::Instant::now();
    assert!(idle.closed_by_server().await, "idle connection closed");
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );

    // Activity keeps a connection open past the idle limit.
    let mut busy = Client::connect(server.addr).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await; // spacing requests is the test
        let _: ApiVersionsResponse = busy
            .call(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())
            .await;
    }

    // A 1001-byte request exceeds socket.request.max.bytes=1000: closed before it is read.
    let mut big = Client::connect(server.addr).await;
    let mut frame = BytesMut::new();
    frame.put_i32(1001);
    big.stream.write_all(&frame).await.unwrap();
    assert!(big.closed_by_server().await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_long_polls_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    metadata(&mut c, "sd").await;
    // A fetch that would wait 30 s for data that never comes.
    let corr = c
        .send(ApiKey::Fetch, 12, &fetch_req("sd", 0, 30_000, (0, -1)))
        .await;
    server
        .wait_until("the fetch to be parked", |b| b.fetches_in_progress() == 1)
        .await;
    let t0 = std::time::Instant::now();
    server.stop().await;
    let (got, _) = tokio::time::timeout(Duration::from_secs(10), c.recv(ApiKey::Fetch, 12))
        .await
        .expect("long poll answered at shutdown");
    assert_eq!(got, corr);
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "shutdown took {:?} (grace is 5 s, max_wait 30 s)",
        t0.elapsed()
    );
}
