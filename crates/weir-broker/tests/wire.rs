//! In-process wire tests: the server runs on 127.0.0.1:0 inside the test and is spoken to with
//! kafka-protocol-encoded requests over real TCP.

mod common;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::*;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::io::AsyncWriteExt;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_metadata_produce_fetch_list_offsets_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;

    let mut av = ApiVersionsRequest::default();
    av.client_software_name = StrBytes::from_static_str("wire-test");
    av.client_software_version = StrBytes::from_static_str("1.0");
    let resp: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &av).await;
    assert_eq!(resp.error_code, 0);
    assert!(resp
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Produce as i16));
    assert!(resp
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Fetch as i16));

    let md = metadata(&mut c, "orders").await;
    assert_eq!(md.topics.len(), 1);
    let t = &md.topics[0];
    assert_eq!(t.error_code, 0, "auto-created");
    assert!(!t.topic_id.is_nil());
    assert_eq!(t.partitions.len(), 1);
    assert_eq!(t.partitions[0].leader_id, 1);
    assert_eq!(md.brokers.len(), 1);
    assert_eq!(md.brokers[0].port, i32::from(server.addr.port()));
    assert_eq!(md.brokers[0].node_id, 1);
    assert!(md.cluster_id.as_ref().is_some_and(|id| id.len() == 22));

    assert_eq!(
        produce(&mut c, "orders", -1, batch(&["a", "b", "c"])).await,
        (0, 0)
    );
    assert_eq!(
        produce(&mut c, "orders", 1, batch(&["d", "e"])).await,
        (0, 3)
    );

    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("orders", 0, 0, (0, -1)))
        .await;
    assert_eq!(resp.error_code, 0);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert_eq!(p.high_watermark, 5);
    let got = values(p.records.as_ref().unwrap());
    let want: Vec<(i64, String)> = ["a", "b", "c", "d", "e"]
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64, v.to_string()))
        .collect();
    assert_eq!(got, want);

    // Fetch from the middle of a batch returns that whole batch (the client skips).
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("orders", 4, 0, (0, -1)))
        .await;
    let got = values(resp.responses[0].partitions[0].records.as_ref().unwrap());
    assert_eq!(got.last().unwrap().0, 4);

    // Out of range.
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("orders", 99, 0, (0, -1)))
        .await;
    // As Kafka: a consumer's OFFSET_OUT_OF_RANGE carries unknown (-1) offsets and no
    // aborted-transaction list (Weir's followers get the real offsets).
    let oor = &resp.responses[0].partitions[0];
    assert_eq!(oor.error_code, 1);
    assert_eq!((oor.high_watermark, oor.log_start_offset), (-1, -1));
    assert_eq!(oor.aborted_transactions, None);
    // A READ_UNCOMMITTED fetch has no aborted-transaction list either (null, as Kafka).
    let ok: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("orders", 0, 0, (0, -1)))
        .await;
    assert_eq!(ok.responses[0].partitions[0].aborted_transactions, None);

    let lo = |ts: i64| {
        let mut p = ListOffsetsPartition::default();
        p.partition_index = 0;
        p.timestamp = ts;
        p.current_leader_epoch = -1;
        let mut t = ListOffsetsTopic::default();
        t.name = topic_name("orders");
        t.partitions = vec![p];
        let mut req = ListOffsetsRequest::default();
        req.replica_id = (-1).into();
        req.topics = vec![t];
        req
    };
    for (ts, want) in [(-1, 5), (-2, 0), (1_700_000_000_001, 1)] {
        let resp: ListOffsetsResponse = c.call(ApiKey::ListOffsets, 7, &lo(ts)).await;
        let p = &resp.topics[0].partitions[0];
        assert_eq!((p.error_code, p.offset), (0, want), "timestamp {ts}");
    }
    let resp: ListOffsetsResponse = c.call(ApiKey::ListOffsets, 7, &lo(4_000_000_000_000)).await;
    assert_eq!(resp.topics[0].partitions[0].offset, -1);

    server.stop().await;

    // Everything is still there after a restart.
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("orders", 0, 0, (0, -1)))
        .await;
    assert_eq!(
        values(resp.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        5
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_errors_are_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    assert_eq!(produce(&mut c, "nope", -1, batch(&["x"])).await.0, 3);
    metadata(&mut c, "t").await;
    assert_eq!(produce(&mut c, "t", 2, batch(&["x"])).await.0, 21);
    // Two batches in one partition's records: INVALID_RECORD, as Kafka.
    let two = [batch(&["x"]), batch(&["y"])].concat();
    assert_eq!(produce(&mut c, "t", 1, Bytes::from(two)).await.0, 87);
    // Corrupt CRC.
    let mut bad = batch(&["x"]).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert_eq!(produce(&mut c, "t", 1, Bytes::from(bad)).await.0, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_waits_and_wakes_on_produce() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    metadata(&mut c, "lp").await;

    // Nothing arrives: the fetch waits for max_wait_ms.
    let t0 = Instant::now();
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("lp", 0, 300, (0, -1)))
        .await;
    assert!(
        t0.elapsed() >= Duration::from_millis(290),
        "waited {:?}",
        t0.elapsed()
    );
    assert!(resp.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .is_empty());

    // A waiting fetch is answered as soon as data is produced, long before max_wait_ms.
    let mut waiter = Client::connect(server.addr).await;
    let corr = waiter
        .send(ApiKey::Fetch, 12, &fetch_req("lp", 0, 10_000, (0, -1)))
        .await;
    server
        .wait_until("the fetch to be parked", |b| b.fetches_in_progress() == 1)
        .await;
    let t0 = Instant::now();
    assert_eq!(produce(&mut c, "lp", -1, batch(&["wake"])).await.0, 0);
    let (got, mut body) =
        tokio::time::timeout(Duration::from_secs(5), waiter.recv(ApiKey::Fetch, 12))
            .await
            .expect("fetch answered well before max_wait_ms");
    assert_eq!(got, corr);
    assert!(t0.elapsed() < Duration::from_secs(5));
    let resp = FetchResponse::decode(&mut body, 12).unwrap();
    let recs = values(resp.responses[0].partitions[0].records.as_ref().unwrap());
    assert_eq!(recs, vec![(0, "wake".to_string())]);
    server.stop().await;
}

/// fetch.min.bytes > 1: a parked fetch is woken by every high-watermark move, stays parked while
/// fewer than `min_bytes` are there, and is answered as soon as a produce brings enough — within
/// 2 s of that produce, not after its 10 s `max_wait_ms`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_with_min_bytes_answers_as_soon_as_enough_bytes_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    metadata(&mut c, "mb").await;
    let first = batch(&["first"]);
    let mut req = fetch_req("mb", 0, 10_000, (0, -1));
    // More than one batch, less than two.
    req.min_bytes = i32::try_from(first.len()).unwrap() + 1;
    let mut waiter = Client::connect(server.addr).await;
    let corr = waiter.send(ApiKey::Fetch, 12, &req).await;
    server
        .wait_until("the fetch to be parked", |b| b.fetches_in_progress() == 1)
        .await;

    // One batch is fewer bytes than asked for: the fetch is woken, reads, and parks again.
    assert_eq!(produce(&mut c, "mb", -1, first).await.0, 0);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), waiter.recv(ApiKey::Fetch, 12))
            .await
            .is_err(),
        "answered with fewer than min_bytes"
    );

    let t0 = Instant::now();
    assert_eq!(produce(&mut c, "mb", -1, batch(&["second"])).await.0, 0);
    let (got, mut body) =
        tokio::time::timeout(Duration::from_secs(2), waiter.recv(ApiKey::Fetch, 12))
            .await
            .expect("answered within 2 s of the produce that completed min_bytes");
    assert_eq!(got, corr);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    let resp = FetchResponse::decode(&mut body, 12).unwrap();
    let recs = values(resp.responses[0].partitions[0].records.as_ref().unwrap());
    assert_eq!(
        recs,
        vec![(0, "first".to_string()), (1, "second".to_string())]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_and_acks0_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    metadata(&mut c, "p").await;

    let mut expected = Vec::new();
    let mut out = BytesMut::new();
    for i in 0..12 {
        let (corr, bytes) = if i % 3 == 1 {
            // acks=0: no response expected.
            let (_, b) = c.frame(ApiKey::Produce, 9, &produce_req("p", 0, 0, batch(&["z"])));
            (None, b)
        } else if i % 3 == 0 {
            let (corr, b) = c.frame(ApiKey::Produce, 9, &produce_req("p", 0, -1, batch(&["y"])));
            (Some((corr, ApiKey::Produce)), b)
        } else {
            let (corr, b) = c.frame(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default());
            (Some((corr, ApiKey::ApiVersions)), b)
        };
        expected.extend(corr);
        out.extend_from_slice(&bytes);
    }
    c.stream.write_all(&out).await.unwrap();
    let mut last_offset = -1;
    for (corr, key) in expected {
        let version = if key == ApiKey::Produce { 9 } else { 0 };
        let (got, mut body) = c.recv(key, version).await;
        assert_eq!(got, corr, "responses in request order");
        if key == ApiKey::Produce {
            let r = ProduceResponse::decode(&mut body, 9).unwrap();
            let base = r.responses[0].partition_responses[0].base_offset;
            assert!(base > last_offset, "appends keep request order");
            last_offset = base;
        }
    }
    // 12 produces-or-not: 4 acks=-1 + 4 acks=0 messages are all in the log.
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("p", 0, 0, (0, -1)))
        .await;
    assert_eq!(
        values(resp.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        8
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sessions_full_incremental_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    metadata(&mut c, "s").await;
    produce(&mut c, "s", -1, batch(&["one"])).await;

    // Full fetch creating a session.
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("s", 0, 0, (0, 0)))
        .await;
    let id = resp.session_id;
    assert_ne!(id, 0);
    assert_eq!(resp.responses[0].partitions.len(), 1);

    // Incremental, fetch offset moved to 1 (past the data): nothing changed → empty response.
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("s", 1, 0, (id, 1)))
        .await;
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.session_id, id);
    assert!(resp.responses.is_empty(), "{:?}", resp.responses);

    // New data: the next incremental fetch (listing no partitions) returns it.
    produce(&mut c, "s", -1, batch(&["two"])).await;
    let mut req = fetch_req("s", 1, 0, (id, 2));
    req.topics.clear();
    let resp: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
    let recs = values(resp.responses[0].partitions[0].records.as_ref().unwrap());
    assert_eq!(recs, vec![(1, "two".to_string())]);

    // Wrong epoch and unknown id.
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("s", 2, 0, (id, 9)))
        .await;
    assert_eq!(resp.error_code, 71);
    let resp: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch_req("s", 2, 0, (id ^ 0x55, 1)))
        .await;
    assert_eq!(resp.error_code, 70);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut healthy = Client::connect(server.addr).await;

    // Unsupported ApiVersions version: v0 answer with UNSUPPORTED_VERSION, connection stays.
    let mut c = Client::connect(server.addr).await;
    // ApiVersions v99 (the client encoder refuses it, so the frame is written by hand): api key
    // 18, version 99, correlation id 7, null client id, empty tagged fields, a 2-byte body.
    let v99: &[u8] = &[0, 0, 0, 13, 0, 18, 0, 99, 0, 0, 0, 7, 0xff, 0xff, 0, 0, 0];
    c.stream.write_all(v99).await.unwrap();
    let (got, mut body) = c.recv(ApiKey::ApiVersions, 0).await;
    assert_eq!(got, 7);
    let resp = ApiVersionsResponse::decode(&mut body, 0).unwrap();
    assert_eq!(resp.error_code, 35);
    assert!(!resp.api_keys.is_empty());
    let resp: ApiVersionsResponse = c
        .call(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())
        .await;
    assert_eq!(resp.error_code, 0);

    let hostile: Vec<Vec<u8>> = vec![
        vec![0x7f, 0xff, 0xff, 0xff],                   // 2 GiB length prefix
        vec![0xff, 0xff, 0xff, 0xfe],                   // negative length
        vec![0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 1], // unknown api key 32512
        vec![0, 0, 0, 12, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff], // metadata v12, garbage
        vec![0, 0, 0, 2, 0, 0],                         // frame shorter than a header
    ];
    for bytes in hostile {
        let mut bad = Client::connect(server.addr).await;
        bad.stream.write_all(&bytes).await.unwrap();
        assert!(bad.closed_by_server().await, "closed after {bytes:?}");
        let resp: ApiVersionsResponse = healthy
            .call(ApiKey::ApiVersions, 3, &{
                let mut r = ApiVersionsRequest::default();
                r.client_software_name = StrBytes::from_static_str("healthy");
                r.client_software_version = StrBytes::from_static_str("1");
                r
            })
            .await;
        assert_eq!(resp.error_code, 0);
    }
    server.stop().await;
}
