//! `weir perf produce|consume|e2e`: a load generator in the spirit of Kafka's
//! `kafka-producer-perf-test.sh` / `kafka-consumer-perf-test.sh` / `EndToEndLatency`, built on
//! librdkafka (the `rdkafka` crate) so that its figures are fair against any Kafka-compatible
//! broker. Every run is bounded: it stops after the requested number of records or
//! `--duration-secs`, and a watchdog ends the process after `--timeout-secs` whatever happens.

mod acks;
pub mod common;
pub mod consume;
pub mod e2e;
pub mod e2e_raw;
mod e2e_raw_fetch;
pub mod fetch;
pub mod live;
pub mod png;
pub mod produce;
pub mod produce_raw;
pub mod report;
pub mod targets;
pub mod txn;
pub mod wire;

use std::time::Duration;

use clap::{Args, Subcommand};

/// `weir perf ...`.
#[derive(Debug, Args)]
pub struct PerfArgs {
    #[command(subcommand)]
    command: PerfCommand,
}

#[derive(Debug, Subcommand)]
enum PerfCommand {
    /// Produce N records of B bytes as fast as possible (or at --throughput) and report
    /// records/s, MB/s and send-to-acknowledgement latency percentiles.
    Produce(produce::ProduceArgs),
    /// Produce N records with raw Produce requests (one prebuilt batch per partition, several
    /// requests in flight, no client library): the broker's produce path with the cheapest
    /// producer.
    ProduceRaw(produce_raw::ProduceRawArgs),
    /// Read N records from the beginning of a topic and report records/s and MB/s.
    Consume(consume::ConsumeArgs),
    /// Read N records with raw Fetch requests, walking batch headers only (no client library):
    /// the broker's fetch path with the cheapest consumer; `--replay-secs` measures the client.
    Fetch(fetch::FetchArgs),
    /// Produce and consume in one process; report end-to-end latency (produce call to
    /// consumer delivery) from a timestamp embedded in each payload.
    E2e(e2e::E2eArgs),
    /// End-to-end latency on one partition with raw Produce and Fetch (no client library):
    /// batches sent on a fixed schedule, each record timed from when it was due to its arrival.
    E2eRaw(e2e_raw::E2eRawArgs),
}

/// Run `weir perf`.
pub fn run(args: PerfArgs) -> Result<(), String> {
    match args.command {
        PerfCommand::Produce(a) => {
            start_watchdog(a.common.timeout_secs);
            produce::run(a)
        }
        PerfCommand::ProduceRaw(a) => {
            start_watchdog(a.common.timeout_secs);
            produce_raw::run(a)
        }
        PerfCommand::Consume(a) => {
            start_watchdog(a.common.timeout_secs);
            consume::run(a)
        }
        PerfCommand::Fetch(a) => {
            start_watchdog(a.common.timeout_secs);
            fetch::run(a)
        }
        PerfCommand::E2e(a) => {
            start_watchdog(a.common.timeout_secs);
            e2e::run(a)
        }
        PerfCommand::E2eRaw(a) => {
            start_watchdog(a.common.timeout_secs);
            e2e_raw::run(a)
        }
    }
}

/// End the process with a non-zero status after `secs` seconds, whatever the run is doing
/// (librdkafka calls can block on an unresponsive broker).
fn start_watchdog(secs: u64) {
    std::thread::Builder::new()
        .name("perf-watchdog".into())
        .spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            eprintln!("weir: perf: hard timeout of {secs}s reached, giving up");
            std::process::exit(3);
        })
        .expect("spawn watchdog thread");
}
