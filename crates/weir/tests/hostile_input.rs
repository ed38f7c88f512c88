//! Hostile input against a real `weir` process over raw TCP, while a healthy librdkafka client
//! keeps producing and consuming: every bad frame gets a Kafka error or a closed connection with
//! a logged reason, and the broker keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::{ApiKey, MetadataRequest, RequestHeader};
use kafka_protocol::protocol::Encodable;
use rand::{Rng, SeedableRng};
use rdkafka::Offset;
use weir_test_support::clients::{
    assigned_consumer, consume_n, create_topic, flush, producer, send,
};
use weir_test_support::{BrokerOptions, BrokerProcess};

fn connect(b: &BrokerProcess) -> TcpStream {
    let s = TcpStream::connect(b.bootstrap()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Send raw bytes and report whether the broker closed the connection (EOF) without answering.
fn closes_without_answer(b: &BrokerProcess, bytes: &[u8]) -> bool {
    let mut s = connect(b);
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn header(key: ApiKey, version: i16) -> BytesMut {
    let mut buf = BytesMut::new();
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = version;
    h.correlation_id = 42;
    h.encode(&mut buf, key.request_header_version(version))
        .unwrap();
    buf
}

#[test]
fn hostile_frames_close_only_their_connection() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    create_topic(&b.bootstrap(), "healthy", 1, &[]);

    // A healthy client keeps producing throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let (bs, stop2) = (b.bootstrap(), stop.clone());
    let healthy = std::thread::spawn(move || {
        let (p, acks) = producer(&bs, &[("linger.ms", "1")]);
        let mut sent = 0;
        while !stop2.load(Ordering::Relaxed) {
            send(&p, "healthy", Some(0), None, format!("h{sent}").as_bytes());
            sent += 1;
            p.poll(Duration::from_millis(2));
        }
        assert_eq!(flush(&p, Duration::from_secs(30)), 0);
        let n = acks.acked.lock().unwrap().len();
        assert!(
            acks.errors.lock().unwrap().is_empty(),
            "healthy producer saw errors"
        );
        n
    });

    // 1. random garbage
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..50 {
        let len = rng.random_range(1..200);
        let junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let mut s = connect(&b);
        let _ = s.write_all(&junk);
        drop(s);
    }
    // 2. a length prefix of 2 GiB, and a negative one
    assert!(closes_without_answer(&b, &0x7fff_ffffi32.to_be_bytes()));
    assert!(closes_without_answer(&b, &(-5i32).to_be_bytes()));
    // 3. a frame shorter than a request header
    assert!(closes_without_answer(&b, &frame(&[0, 3, 0])));
    // 4. unknown API key
    let mut unknown = header(ApiKey::Metadata, 1).to_vec();
    unknown[0..2].copy_from_slice(&999i16.to_be_bytes());
    assert!(closes_without_answer(&b, &frame(&unknown)));
    // 5. valid header, garbage body
    let mut garbage = header(ApiKey::Metadata, 9).to_vec();
    garbage.extend_from_slice(&[0xff; 9]);
    assert!(closes_without_answer(&b, &frame(&garbage)));
    // 6. an array length of 2^31-1 in a tiny Metadata request
    let mut huge = header(ApiKey::Metadata, 4).to_vec();
    huge.extend_from_slice(&i32::MAX.to_be_bytes());
    huge.push(1);
    assert!(closes_without_answer(&b, &frame(&huge)));
    // 7. truncated frame: claims 100 bytes, sends 10, hangs up
    {
        let mut s = connect(&b);
        let _ = s.write_all(&100i32.to_be_bytes());
        let _ = s.write_all(&[1; 10]);
    }

    // ApiVersions v99 → v0-format response with UNSUPPORTED_VERSION and the supported ranges.
    let mut s = connect(&b);
    let mut av = header(ApiKey::ApiVersions, 3).to_vec();
    av[2..4].copy_from_slice(&99i16.to_be_bytes());
    av.extend_from_slice(&[0, 0, 0]); // compact strings + tags (unparsed)
    s.write_all(&frame(&av)).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut resp = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(
        i32::from_be_bytes(resp[0..4].try_into().unwrap()),
        42,
        "correlation id"
    );
    assert_eq!(
        i16::from_be_bytes(resp[4..6].try_into().unwrap()),
        35,
        "UNSUPPORTED_VERSION"
    );
    let n = i32::from_be_bytes(resp[6..10].try_into().unwrap());
    assert!(n >= 10, "the fallback lists the supported ranges ({n})");
    let keys: Vec<i16> = (0..n as usize)
        .map(|i| i16::from_be_bytes(resp[10 + i * 6..12 + i * 6].try_into().unwrap()))
        .collect();
    assert!(
        keys.contains(&(ApiKey::Produce as i16))
            && keys.contains(&(ApiKey::FindCoordinator as i16))
    );

    // A well-formed request on a fresh connection still works.
    let mut ok = header(ApiKey::Metadata, 4);
    MetadataRequest::default().encode(&mut ok, 4).unwrap();
    let mut s = connect(&b);
    s.write_all(&frame(&ok)).unwrap();
    s.read_exact(&mut len).unwrap();
    assert!(i32::from_be_bytes(len) > 0);

    stop.store(true, Ordering::Relaxed);
    let produced = healthy.join().expect("healthy producer thread");
    assert!(produced > 0);
    let c = assigned_consumer(&b.bootstrap(), "healthy", 1, Offset::Beginning, &[]);
    assert_eq!(
        consume_n(&c, produced, Duration::from_secs(30)).len(),
        produced
    );
    let mut b = b;
    assert!(b.is_alive(), "broker survived:\n{}", b.output());
    let log = b.output();
    assert!(
        log.matches("closing connection").count() >= 5,
        "closed connections are logged with a reason:\n{log}"
    );
}
