//! Prometheus metrics: the recorder behind the `metrics` facade (the broker's hot-path counters
//! and histograms land in it), plus gauges computed from broker state at scrape time.
//!
//! Scrape-time gauges are set on the recorder right before it renders. A gauge that is no
//! longer set (a deleted partition, a group whose offsets expired) is dropped by the
//! recorder's idle timeout ([`STALE_AFTER`]); nothing on the hot path sets gauges.

pub mod gauges;
pub mod process;

use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

/// A gauge not set again within this long is left out of the output (every live gauge is set
/// at the start of each scrape, so only gone ones go stale).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// How often histogram samples are folded into their buckets between scrapes (bounds memory).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Latency buckets in seconds (request times, fsyncs): 100 µs to 30 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// Finer buckets for the request stages and the end-to-end request time, whose interesting part
/// is tens of microseconds to a few milliseconds (`weir_broker::metrics::stages`): about 1.5×
/// apart (1, 1.5, 2, 3, 5, 7 per decade) from 10 µs to 10 s, then 30 s, so that quantiles
/// interpolated within a bucket stay within ~25 % of the truth.
const STAGE_BUCKETS: &[f64] = &[
    0.00001, 0.000015, 0.00002, 0.00003, 0.00005, 0.00007, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005,
    0.0007, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.007, 0.01, 0.015, 0.02, 0.03, 0.05, 0.07, 0.1,
    0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 30.0,
];

/// Install the Prometheus recorder as the process's global `metrics` recorder (before the
/// broker opens, so that no early event is lost) and return its handle. Fails if a recorder is
/// already installed.
pub fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    use weir_broker::metrics::stages::{FETCH_WAKEUP, FSYNC_WAIT};
    PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Prefix("kafka_network_requestmetrics_".into()),
            STAGE_BUCKETS,
        )?
        .set_buckets_for_metric(Matcher::Full(FSYNC_WAIT.into()), STAGE_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(FETCH_WAKEUP.into()), STAGE_BUCKETS)?
        .idle_timeout(MetricKindMask::GAUGE, Some(STALE_AFTER))
        .install_recorder()
}

/// Fold histogram samples into buckets every few seconds for the life of the runtime.
pub fn spawn_upkeep(handle: PrometheusHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use metrics::gauge;

    use super::*;

    /// A scrape of 10,000 partitions (log size and group lag per partition set on the
    /// recorder, then rendered) holds exactly one series per partition and metric, the same on
    /// every scrape. How long it takes is measured by `bench/metrics_scrape.py`, not asserted
    /// here (timing in a test fails on a loaded machine).
    #[test]
    fn ten_thousand_partitions_scrape_one_series_each() {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("buckets")
            .idle_timeout(MetricKindMask::GAUGE, Some(STALE_AFTER))
            .build_recorder();
        let handle = recorder.handle();
        let scrape = || {
            let started = Instant::now();
            metrics::with_local_recorder(&recorder, || {
                for p in 0..10_000 {
                    let (topic, partition) = (format!("t{}", p / 100), (p % 100).to_string());
                    gauge!(gauges::LOG_SIZE, "topic" => topic.clone(), "partition" => partition.clone())
                        .set(p as f64);
                    gauge!(gauges::GROUP_LAG, "consumergroup" => "g", "topic" => topic, "partition" => partition)
                        .set(1.0);
                }
            });
            let body = handle.render();
            (started.elapsed(), body)
        };
        let (_, first) = scrape();
        let (took, body) = scrape();
        assert_eq!(first.len(), body.len());
        assert_eq!(body.matches("kafka_log_log_size{").count(), 10_000);
        assert_eq!(body.matches("kafka_consumergroup_lag{").count(), 10_000);
        eprintln!("10,000 partitions: scrape took {took:?}");
    }
}
