//! The idempotent producer against a real `weir` process: librdkafka with
//! `enable.idempotence=true` behind a proxy that loses Produce responses (the client retries what
//! the broker already stored), also across a broker SIGKILL + restart between the original and the
//! retry; and the sequence / epoch errors at the protocol level.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::Offset;
use weir_test_support::clients::{
    assigned_consumer, consume_n, create_topic, flush, producer, send,
};
use weir_test_support::proxy::DropProxy;
use weir_test_support::raw::{init_idempotent_producer, producer_batch, try_produce, RawClient};
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// A broker whose advertised address is a response-dropping proxy in front of it.
fn broker_behind_proxy() -> (BrokerProcess, DropProxy) {
    let proxy = DropProxy::start("127.0.0.1:9".parse().unwrap(), 0);
    let b = BrokerProcess::start(weir(), BrokerOptions::default().advertise_port(proxy.port));
    let addr: SocketAddr = b.bootstrap().parse().unwrap();
    proxy.set_upstream(addr);
    (b, proxy)
}

/// Every value 0..n exactly once and in order in partition 0 of `topic`.
fn assert_exactly_once_in_order(bootstrap: &str, topic: &str, n: usize) {
    let c = assigned_consumer(bootstrap, topic, 1, Offset::Beginning, &[]);
    let got = consume_n(&c, n, Duration::from_secs(120));
    let values: Vec<usize> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.value).parse().unwrap())
        .collect();
    let expected: Vec<usize> = (0..n).collect();
    if values != expected {
        let first_bad = values.iter().zip(&expected).position(|(a, b)| a != b);
        panic!(
            "{} messages read, first difference at index {first_bad:?}",
            values.len()
        );
    }
    // Nothing beyond n: no duplicate was appended at the end either.
    assert!(
        consume_n(&c, 1, Duration::from_millis(500)).is_empty(),
        "extra messages in the log"
    );
}

fn idempotent_producer(
    proxy_port: u16,
) -> (
    rdkafka::producer::BaseProducer<weir_test_support::clients::AckLog>,
    weir_test_support::clients::AckLog,
) {
    producer(
        &format!("127.0.0.1:{proxy_port}"),
        &[
            ("enable.idempotence", "true"),
            ("linger.ms", "2"),
            ("batch.num.messages", "200"),
            ("message.timeout.ms", "120000"),
            ("retry.backoff.ms", "20"),
        ],
    )
}

#[test]
fn lost_responses_are_retried_without_duplicates_or_reordering() {
    let (b, proxy) = broker_behind_proxy();
    create_topic(&b.bootstrap(), "once", 1, &[]);
    proxy.state.drop_every.store(50, Ordering::SeqCst);
    let (p, acks) = idempotent_producer(proxy.port);
    const N: usize = 100_000;
    let t0 = Instant::now();
    for i in 0..N {
        send(&p, "once", Some(0), None, i.to_string().as_bytes());
        if i % 500 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    assert_eq!(
        flush(&p, Duration::from_secs(180)),
        0,
        "unacknowledged messages"
    );
    assert!(
        acks.errors.lock().unwrap().is_empty(),
        "{:?}",
        acks.errors.lock().unwrap()
    );
    let dropped = proxy.state.dropped.load(Ordering::SeqCst);
    println!(
        "{N} idempotent messages in {:?}; {dropped} produce responses lost and retried",
        t0.elapsed()
    );
    assert!(
        dropped >= 3,
        "the proxy must have forced retries (dropped {dropped})"
    );
    assert_exactly_once_in_order(&b.bootstrap(), "once", N);
}

#[test]
fn a_retry_after_a_broker_kill_and_restart_is_still_deduplicated() {
    let (mut b, proxy) = broker_behind_proxy();
    create_topic(&b.bootstrap(), "restart-once", 1, &[]);
    proxy
        .state
        .pause_after_next_drop
        .store(true, Ordering::SeqCst);
    proxy.state.drop_every.store(20, Ordering::SeqCst);
    let (p, acks) = idempotent_producer(proxy.port);
    const N: usize = 20_000;
    let state = proxy.state.clone();
    let restarter = std::thread::spawn(move || {
        // The first lost response: the broker stored the batch, the client will retry it.
        assert!(wait_until(Duration::from_secs(60), || state
            .paused
            .load(Ordering::SeqCst)));
        b.kill9();
        b.restart();
        b
    });
    for i in 0..N {
        send(&p, "restart-once", Some(0), None, i.to_string().as_bytes());
        if i % 500 == 0 {
            p.poll(Duration::ZERO);
        }
        if proxy.state.paused.load(Ordering::SeqCst) && restarter.is_finished() {
            proxy.resume();
        }
    }
    let b = restarter.join().unwrap();
    proxy.resume();
    assert_eq!(
        flush(&p, Duration::from_secs(180)),
        0,
        "unacknowledged messages"
    );
    assert!(
        acks.errors.lock().unwrap().is_empty(),
        "{:?}",
        acks.errors.lock().unwrap()
    );
    assert!(b.output().contains("weir ready"));
    assert_exactly_once_in_order(&b.bootstrap(), "restart-once", N);
}

fn batch(pid: i64, epoch: i16, first_seq: i32, n: i32) -> Bytes {
    producer_batch(pid, epoch, first_seq, n, false)
}

/// (error code, base offset) of producing `records` to partition 0 of `topic`.
fn produce(c: &mut RawClient, topic: &str, records: Bytes) -> (i16, i64) {
    try_produce(c, topic, None, records).expect("produce")
}

#[test]
fn sequence_and_epoch_errors_at_the_protocol_level() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    create_topic(&b.bootstrap(), "seq", 1, &[]);
    let mut c = RawClient::connect(&b.bootstrap());
    let init = init_idempotent_producer(&mut c);
    assert_eq!((init.error_code, init.producer_epoch), (0, 0));
    let pid = init.producer_id.0;
    assert!(pid >= 0);
    let again: InitProducerIdResponse = c.call(
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default().with_transactional_id(None),
    );
    assert_ne!(
        again.producer_id.0, pid,
        "every InitProducerId gets a fresh id"
    );

    assert_eq!(produce(&mut c, "seq", batch(pid, 0, 0, 5)), (0, 0));
    assert_eq!(produce(&mut c, "seq", batch(pid, 0, 5, 5)), (0, 5));
    // A retry of an acknowledged batch: success with the original offset, nothing appended.
    assert_eq!(produce(&mut c, "seq", batch(pid, 0, 0, 5)), (0, 0));
    assert_eq!(produce(&mut c, "seq", batch(pid, 0, 5, 5)), (0, 5));
    // A gap in the sequence.
    assert_eq!(
        produce(&mut c, "seq", batch(pid, 0, 11, 1)).0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    // A new epoch must start at 0; afterwards the old epoch is fenced.
    assert_eq!(produce(&mut c, "seq", batch(pid, 1, 3, 1)).0, 45);
    assert_eq!(produce(&mut c, "seq", batch(pid, 1, 0, 1)), (0, 10));
    assert_eq!(
        produce(&mut c, "seq", batch(pid, 0, 10, 1)).0,
        47,
        "INVALID_PRODUCER_EPOCH"
    );
    // The log holds exactly the 11 accepted records.
    let mut lo = kafka_protocol::messages::list_offsets_request::ListOffsetsPartition::default();
    lo.partition_index = 0;
    lo.timestamp = -1;
    let mut lt = kafka_protocol::messages::list_offsets_request::ListOffsetsTopic::default();
    lt.name = TopicName(StrBytes::from_static_str("seq"));
    lt.partitions = vec![lo];
    let mut lreq = ListOffsetsRequest::default();
    lreq.replica_id = (-1).into();
    lreq.topics = vec![lt];
    let end: ListOffsetsResponse = c.call(ApiKey::ListOffsets, 7, &lreq);
    assert_eq!(end.topics[0].partitions[0].offset, 11);
}
