//! What every `weir perf` subcommand shares: the common options, the librdkafka config, broker
//! and topic checks, live progress, payloads and rate limiting.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

use crate::cli::admin::{self, client_error};

/// Options shared by every `weir perf` subcommand.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Bootstrap server.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap: String,
    /// Topic to use.
    #[arg(long)]
    pub topic: String,
    /// Print one JSON object on stdout instead of text (no progress output).
    #[arg(long)]
    pub json: bool,
    /// Hard limit on the whole run, in seconds: the process exits non-zero when it is reached.
    #[arg(long = "timeout-secs", default_value_t = 300)]
    pub timeout_secs: u64,
    /// How long to wait for the broker's metadata before giving up, in seconds.
    #[arg(long = "connect-timeout-secs", default_value_t = 10)]
    pub connect_timeout_secs: u64,
}

/// A librdkafka config for `bootstrap` with quiet logs and `defaults`, then the user's `k=v`
/// overrides (`props`), which win.
pub fn client_config(
    bootstrap: &str,
    defaults: &[(&str, &str)],
    props: &[String],
) -> Result<ClientConfig, String> {
    let mut cfg = crate::cli::client_security::client_config();
    cfg.set("bootstrap.servers", bootstrap)
        .set("log_level", "3");
    for (k, v) in defaults {
        cfg.set(*k, *v);
    }
    for p in props {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("property {p:?}: expected KEY=VALUE"))?;
        cfg.set(k.trim(), v.trim());
    }
    Ok(cfg)
}

/// Ask the broker for its metadata (all topics, so nothing is auto-created) within the connect
/// timeout; fails with a clear message naming the bootstrap address when it cannot be reached.
pub fn check_reachable<C: ClientContext>(
    client: &Client<C>,
    common: &CommonArgs,
) -> Result<(), String> {
    let timeout = Duration::from_secs(common.connect_timeout_secs);
    client
        .fetch_metadata(None, timeout)
        .map(|_| ())
        .map_err(|e| unreachable(common, e))
}

fn unreachable(common: &CommonArgs, e: rdkafka::error::KafkaError) -> String {
    format!(
        "cannot reach a broker at {} within {}s: {}",
        common.bootstrap,
        common.connect_timeout_secs,
        client_error("metadata", e)
    )
}

/// Fetch `common.topic`'s metadata within the connect timeout and return its partition ids.
/// Fails with a clear message when the broker cannot be reached or the topic is unknown.
pub fn topic_partitions<C: ClientContext>(
    client: &Client<C>,
    common: &CommonArgs,
) -> Result<Vec<i32>, String> {
    let names = [common.topic.clone()];
    Ok(partitions_of(client, common, &names)?.remove(0))
}

/// The sorted partition ids of each topic in `names` (one metadata request: the named topic
/// alone, or every topic when there are several). Fails on an unreachable broker, an unknown
/// topic or one without partitions.
pub fn partitions_of<C: ClientContext>(
    client: &Client<C>,
    common: &CommonArgs,
    names: &[String],
) -> Result<Vec<Vec<i32>>, String> {
    let timeout = Duration::from_secs(common.connect_timeout_secs);
    let only = (names.len() == 1).then(|| names[0].as_str());
    let md = client
        .fetch_metadata(only, timeout)
        .map_err(|e| unreachable(common, e))?;
    let by_name: std::collections::HashMap<&str, _> =
        md.topics().iter().map(|t| (t.name(), t)).collect();
    names
        .iter()
        .map(|name| {
            let t = by_name
                .get(name.as_str())
                .ok_or_else(|| format!("topic {name} is not in the broker's metadata"))?;
            if let Some(code) = t.error() {
                return Err(admin::failed(&format!("topic {name}"), code.into()));
            }
            let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
            ids.sort_unstable();
            if ids.is_empty() {
                return Err(format!("topic {name} has no partitions"));
            }
            Ok(ids)
        })
        .collect()
}

/// Create every topic in `names` with `partitions` partitions (replication factor 1) in one
/// CreateTopics request; topics that exist already are left as they are.
pub fn ensure_topics(common: &CommonArgs, names: &[String], partitions: i32) -> Result<(), String> {
    let client = admin::client(&common.bootstrap)?;
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
        .collect();
    // Creating partitions takes the broker a while (files created and synced): allow 50 ms per
    // partition on top of the connect timeout (1,000 partitions: +50 s).
    let total = partitions.max(1) as u64 * names.len() as u64;
    let timeout = Duration::from_secs(common.connect_timeout_secs + total / 20);
    let opts = admin::options()
        .request_timeout(Some(timeout))
        .operation_timeout(Some(timeout));
    let res = admin::block_on(client.create_topics(topics.iter(), &opts))?.map_err(|e| {
        format!(
            "create topic on {}: {}",
            common.bootstrap,
            client_error("", e)
        )
    })?;
    for r in res {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(admin::failed(&format!("create topic {name}"), code)),
        }
    }
    Ok(())
}

/// Live progress: an indicatif bar on a terminal, a plain line every few seconds otherwise, and
/// nothing at all with `--json`. Always on stderr, so stdout carries only the result.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    last_line: Instant,
    label: &'static str,
}

impl Progress {
    /// Progress towards `total` records (`None`: unknown, e.g. a run bounded by time).
    pub fn new(total: Option<u64>, json: bool, label: &'static str) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bar = (!json && tty).then(|| {
            let target = indicatif::ProgressDrawTarget::stderr_with_hz(5);
            let pb = indicatif::ProgressBar::with_draw_target(total, target);
            let template = if total.is_some() {
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}) {msg}"
            } else {
                "{prefix} [{elapsed_precise}] {pos} records ({per_sec}) {msg}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                pb.set_style(style);
            }
            pb.set_prefix(label);
            pb
        });
        Progress {
            bar,
            plain: !json && !tty,
            last_line: Instant::now(),
            label,
        }
    }

    /// Report the current position; `line` renders the plain-text line when one is due.
    pub fn update(&mut self, pos: u64, line: impl FnOnce() -> String) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        } else if self.plain && self.last_line.elapsed() >= Duration::from_secs(5) {
            self.last_line = Instant::now();
            eprintln!("{}: {}", self.label, line());
        }
    }

    /// Print one line on stderr above the bar (or alone when there is none), whatever `--json`.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{}: {line}", self.label),
        }
    }

    /// Remove the bar before the final report is printed.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// `record_size` bytes of printable filler (Kafka's perf tool uses random uppercase letters),
/// deterministic so runs are comparable.
pub fn payload(record_size: usize) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9;
    (0..record_size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b'A' + (x % 26) as u8
        })
        .collect()
}

/// Sleep/poll budget so that `sent` records after `elapsed` do not exceed `rate` records/s
/// (`rate <= 0`: unlimited). Returns how long to wait before the next send.
pub fn throttle_delay(rate: f64, sent: u64, elapsed: Duration) -> Option<Duration> {
    if rate <= 0.0 {
        return None;
    }
    let due = Duration::from_secs_f64(sent as f64 / rate);
    due.checked_sub(elapsed).filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_waits_only_when_ahead_of_the_rate() {
        assert_eq!(throttle_delay(-1.0, 1_000_000, Duration::ZERO), None);
        assert_eq!(
            throttle_delay(100.0, 50, Duration::from_millis(200)),
            Some(Duration::from_millis(300))
        );
        assert_eq!(throttle_delay(100.0, 50, Duration::from_secs(1)), None);
    }

    #[test]
    fn payload_has_the_requested_size_and_is_printable() {
        let p = payload(1000);
        assert_eq!(p.len(), 1000);
        assert!(p.iter().all(u8::is_ascii_uppercase));
        assert_eq!(p, payload(1000));
    }
}
