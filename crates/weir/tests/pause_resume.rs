//! `BrokerProcess::pause` / `resume` (SIGSTOP / SIGCONT), the test helpers' stand-in for a network
//! partition of one node: a paused broker answers no request, and after `resume` it serves again
//! on the same connections.

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use weir_test_support::{BrokerOptions, BrokerProcess};

fn client(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("create client")
}

#[test]
fn a_paused_broker_answers_nothing_until_resumed() {
    let mut b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    assert!(b.pid().is_some());
    assert_eq!(b.node_id(), None, "no node.id configured");
    let c = client(&b.bootstrap());
    let md = c
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata from a running broker");
    assert_eq!(md.brokers().len(), 1);

    b.pause();
    assert!(b.is_paused());
    assert!(b.is_alive(), "a paused broker is still a live process");
    let t0 = Instant::now();
    let r = c.fetch_metadata(None, Duration::from_secs(1));
    assert!(
        r.is_err(),
        "a paused broker answered: {:?}",
        r.map(|m| m.orig_broker_id())
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    // A new client fares no better: the kernel accepts the connection, nobody reads it.
    let r = client(&b.bootstrap()).fetch_metadata(None, Duration::from_secs(1));
    assert!(r.is_err(), "a paused broker answered a new client");

    b.resume();
    assert!(!b.is_paused());
    let md = c
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata after resume");
    assert_eq!(md.brokers().len(), 1);

    // A paused broker still stops cleanly (SIGTERM is delivered once it continues) and restarts.
    b.pause();
    b.stop();
    assert!(!b.is_alive());
    b.restart();
    client(&b.bootstrap())
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata after restart");
    // Dropping a paused broker SIGKILLs and reaps it without hanging.
    b.pause();
    drop(b);
}
