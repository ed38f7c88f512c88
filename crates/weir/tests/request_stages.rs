//! The broker's per-stage request histograms on `/metrics` of a real `weir serve` (issue 24):
//! after acks=all produces and a consumer's long-polling fetches, every stage of Produce and
//! Fetch (request queue, local, remote, response queue, response send, total), the fsync wait and
//! the consumer fetch wake-up delay have samples.

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::Offset;
use weir_test_support::clients::{
    assigned_consumer, consume_n, create_topic, flush, producer, send,
};
use weir_test_support::http::{get, prometheus_sample as sample, start_with_http};
use weir_test_support::BrokerOptions;

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// The `_count` series of every stage histogram the breakdown (bench/stages.py) reads.
fn stage_series() -> Vec<String> {
    let mut out = Vec::new();
    for stage in [
        "requestqueuetime",
        "localtime",
        "remotetime",
        "responsequeuetime",
        "responsesendtime",
        "totaltime",
    ] {
        for request in ["Produce", "Fetch"] {
            out.push(format!(
                "kafka_network_requestmetrics_{stage}_seconds_count{{request=\"{request}\"}}"
            ));
        }
    }
    out.push("weir_produce_fsync_wait_seconds_count".into());
    out.push("weir_fetch_wakeup_delay_seconds_count{fetcher=\"consumer\"}".into());
    out
}

#[test]
fn every_request_stage_has_samples_after_acks_all_produce_and_fetch() {
    let (b, http) = start_with_http(weir(), BrokerOptions::default());
    let bootstrap = b.bootstrap();
    create_topic(&bootstrap, "stages", 1, &[]);
    // A long fetch.wait.max.ms: the consumer's fetches park until a produce wakes them.
    let consumer = assigned_consumer(
        &bootstrap,
        "stages",
        1,
        Offset::Beginning,
        &[("fetch.wait.max.ms", "5000")],
    );
    let (p, _acks) = producer(&bootstrap, &[("acks", "all"), ("linger.ms", "0")]);

    // Each round: one acks=all record, consumed by the parked consumer. A round's produce may
    // come before the consumer's fetch parks, so repeat until every stage has a sample.
    let deadline = Instant::now() + Duration::from_secs(60);
    let series = stage_series();
    let mut missing = series.clone();
    let mut round = 0;
    while !missing.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no samples for {missing:?} after {round} rounds\n{}",
            b.output()
        );
        round += 1;
        send(&p, "stages", Some(0), None, format!("v{round}").as_bytes());
        assert_eq!(flush(&p, Duration::from_secs(10)), 0, "{}", b.output());
        let got = consume_n(&consumer, 1, Duration::from_secs(10));
        assert_eq!(got.len(), 1, "record {round} not consumed");
        let (status, body) = get(http, "/metrics").expect("metrics");
        assert_eq!(status, 200);
        missing = series
            .iter()
            .filter(|s| sample(&body, s).is_none_or(|n| n <= 0.0))
            .cloned()
            .collect();
    }
}
