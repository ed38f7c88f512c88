//! Zero-copy fetch (issue #24): on a plaintext connection, record sets are sent from the segment
//! file with `sendfile`. What a consumer receives must be byte for byte what the segment file
//! holds, in every Fetch version, from the start and from the middle of the log.

mod common;

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::*;

/// A batch of `n` values of `size` bytes each (large enough to be sent from the file).
fn big_batch(n: usize, size: usize, seed: usize) -> Bytes {
    let values: Vec<String> = (0..n)
        .map(|i| {
            (0..size)
                .map(|j| char::from(b'a' + ((i * 31 + j * 7 + seed) % 26) as u8))
                .collect()
        })
        .collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    batch(&refs)
}

/// Fetch `topic` partition 0 from `offset` with `version`; the record bytes answered.
async fn fetch_records(c: &mut Client, topic: &str, offset: i64, version: i16) -> Bytes {
    let mut req = fetch_req(topic, offset, 0, (0, -1));
    req.topics[0].partitions[0].partition_max_bytes = 8 << 20;
    if version >= 13 {
        let md = metadata(c, topic).await;
        req.topics[0].topic_id = md.topics[0].topic_id;
    }
    let resp: FetchResponse = c.call(ApiKey::Fetch, version, &req).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0, "v{version}");
    p.records.clone().unwrap_or_default()
}

#[tokio::test]
async fn records_sent_from_the_file_are_the_segment_bytes_in_every_fetch_version() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;
    let topic = "zero-copy";
    metadata(&mut c, topic).await; // auto-creates
    let mut bases = Vec::new();
    for i in 0..4 {
        let (err, base) = produce(&mut c, topic, -1, big_batch(20, 1500, i)).await;
        assert_eq!(err, 0);
        bases.push(base);
    }
    let segment = std::fs::read(
        dir.path()
            .join(format!("{topic}-0/00000000000000000000.log")),
    )
    .expect("the segment file");
    // The second batch starts where the first ends: its position in the file.
    let first_len = fetch_records(&mut c, topic, 0, 4)
        .await
        .len()
        .min(segment.len());
    let before = weir_protocol::placeholder::created();
    for version in [4i16, 11, 12, 13, 16] {
        let all = fetch_records(&mut c, topic, 0, version).await;
        assert!(
            all.as_ref() == segment.as_slice(),
            "v{version}: {} bytes fetched differ from the {}-byte segment",
            all.len(),
            segment.len()
        );
        let tail = fetch_records(&mut c, topic, bases[1], version).await;
        assert!(tail.len() > 16 * 1024);
        assert!(
            tail.as_ref() == &segment[segment.len() - tail.len()..],
            "v{version}: a fetch from the middle is the file's tail"
        );
    }
    assert!(first_len > 0);
    assert!(
        weir_protocol::placeholder::created() >= before + 10,
        "the record sets were sent from the file (placeholders made)"
    );
    server.stop().await;
}
