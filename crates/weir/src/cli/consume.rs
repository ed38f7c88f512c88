//! `weir consume <topic>`: print messages with a kcat-like format string, either from assigned
//! partitions (no group) or as a member of a consumer group (`--group`, offsets committed).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::admin::{client_error, TIMEOUT};

/// `weir consume ...`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topic to read.
    topic: String,
    /// Bootstrap server.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        default_value = "127.0.0.1:9092"
    )]
    bootstrap: String,
    /// Start at the log start offset (default: the end). With --group: where to start in
    /// partitions the group has no committed offset for (auto.offset.reset=earliest).
    #[arg(long = "from-beginning")]
    from_beginning: bool,
    /// Start at this offset in every partition.
    #[arg(long, conflicts_with = "group")]
    offset: Option<i64>,
    /// Only this partition.
    #[arg(long, conflicts_with = "group")]
    partition: Option<i32>,
    /// Join this consumer group: the group assigns partitions, reading resumes at the group's
    /// committed offsets, and the offsets of printed messages are committed (every 5 s and on
    /// exit). Without --follow it stops once no message arrived for 2 s after partitions were
    /// assigned (and fails if none are assigned within 15 s). Ctrl-C / SIGTERM commit and leave.
    #[arg(short = 'g', long)]
    group: Option<String>,
    /// Extra librdkafka consumer property, kcat-style (repeatable), e.g.
    /// `-X session.timeout.ms=6000` or `-X group.protocol=consumer`.
    #[arg(short = 'X', long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Stop after this many messages.
    #[arg(long = "max-messages")]
    max_messages: Option<u64>,
    /// Keep waiting for new messages (default: stop at the end offsets seen at start).
    #[arg(long)]
    follow: bool,
    /// read_committed: only records of committed transactions (and non-transactional ones),
    /// up to the last stable offset; read_uncommitted: everything, aborted records included.
    /// Default: librdkafka's (read_committed).
    #[arg(long = "isolation-level", value_parser = ["read_committed", "read_uncommitted"])]
    isolation_level: Option<String>,
    /// kcat-style format: %t topic, %p partition, %o offset, %k key, %s value, %T timestamp, \n, \t.
    #[arg(short = 'f', long, default_value = "%s\\n")]
    format: String,
}

fn render(fmt: &str, topic: &str, m: &rdkafka::message::BorrowedMessage<'_>) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('%', Some(n)) => {
                chars.next();
                match n {
                    't' => out.push_str(topic),
                    'p' => out.push_str(&m.partition().to_string()),
                    'o' => out.push_str(&m.offset().to_string()),
                    'k' => out.push_str(&String::from_utf8_lossy(m.key().unwrap_or_default())),
                    's' => out.push_str(&String::from_utf8_lossy(m.payload().unwrap_or_default())),
                    'T' => out.push_str(&m.timestamp().to_millis().unwrap_or(-1).to_string()),
                    other => {
                        out.push('%');
                        out.push(other);
                    }
                }
            }
            ('\\', Some('n')) => {
                chars.next();
                out.push('\n');
            }
            ('\\', Some('t')) => {
                chars.next();
                out.push('\t');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Apply `--isolation-level`, then the `-X key=value` properties (which win) on top of `cfg`.
fn with_properties<'a>(
    cfg: &'a mut ClientConfig,
    isolation_level: Option<&str>,
    props: &[String],
) -> Result<&'a mut ClientConfig, String> {
    if let Some(level) = isolation_level {
        cfg.set("isolation.level", level);
    }
    for p in props {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("-X {p}: expected KEY=VALUE"))?;
        cfg.set(k.trim(), v.trim());
    }
    Ok(cfg)
}

/// Run `weir consume` (manual assignment and no commits, unless `--group`).
pub fn run(args: ConsumeArgs) -> Result<(), String> {
    super::admin::ensure_reachable(&args.bootstrap)?;
    if let Some(group) = args.group.as_deref() {
        return run_group(&args, group);
    }
    let consumer: BaseConsumer = with_properties(
        crate::cli::client_security::client_config()
            .set("bootstrap.servers", &args.bootstrap)
            .set("group.id", "weir-cli")
            .set("enable.auto.commit", "false")
            // Partition EOF marks a partition read to its end even when the last offsets before
            // it are transaction markers or aborted records, which are never delivered.
            .set("enable.partition.eof", "true")
            .set("log_level", "3"),
        args.isolation_level.as_deref(),
        &args.properties,
    )?
    .create()
    .map_err(|e| client_error("create consumer", e))?;
    let md = consumer
        .fetch_metadata(Some(&args.topic), TIMEOUT)
        .map_err(|e| client_error(&format!("metadata of {}", args.topic), e))?;
    let topic = md
        .topics()
        .iter()
        .find(|t| t.name() == args.topic)
        .ok_or("topic not in metadata")?;
    if let Some(code) = topic.error() {
        return Err(super::admin::failed(
            &format!("consume {}", args.topic),
            code.into(),
        ));
    }
    let start = match (args.offset, args.from_beginning) {
        (Some(o), _) => Offset::Offset(o),
        (None, true) => Offset::Beginning,
        (None, false) => Offset::End,
    };
    let mut tpl = TopicPartitionList::new();
    let mut remaining: Vec<(i32, i64)> = Vec::new();
    for p in topic
        .partitions()
        .iter()
        .map(|p| p.id())
        .filter(|p| args.partition.is_none_or(|x| x == *p))
    {
        tpl.add_partition_offset(&args.topic, p, start)
            .map_err(|e| client_error("assign", e))?;
        let (low, high) = consumer
            .fetch_watermarks(&args.topic, p, TIMEOUT)
            .map_err(|e| client_error("end offsets", e))?;
        // i64::MIN marks a partition already read up to the end seen at start.
        remaining.push((p, if low >= high { i64::MIN } else { high }));
    }
    consumer
        .assign(&tpl)
        .map_err(|e| client_error("assign", e))?;
    let mut printed = 0u64;
    let mut idle_since = Instant::now();
    loop {
        if args.max_messages.is_some_and(|m| printed >= m) {
            break;
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                print!("{}", render(&args.format, &args.topic, &m));
                printed += 1;
                idle_since = Instant::now();
                if let Some(r) = remaining.iter_mut().find(|(p, _)| *p == m.partition()) {
                    if m.offset() + 1 >= r.1 {
                        r.1 = i64::MIN; // caught up with the end seen at start
                    }
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                if let Some(r) = remaining.iter_mut().find(|(x, _)| *x == p) {
                    r.1 = i64::MIN; // nothing left to deliver up to the end
                }
                if !args.follow && remaining.iter().all(|(_, end)| *end == i64::MIN) {
                    break;
                }
            }
            Some(Err(e)) => return Err(client_error("consume", e)),
            None => {
                let caught_up = remaining.iter().all(|(_, end)| *end == i64::MIN);
                if !args.follow
                    && (caught_up
                        || (start == Offset::End && idle_since.elapsed() > Duration::from_secs(1)))
                {
                    break;
                }
                if !args.follow && idle_since.elapsed() > TIMEOUT {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// How long a group member without `--follow` waits for more messages once it has partitions.
const GROUP_IDLE: Duration = Duration::from_secs(2);

/// `weir consume --group G`: subscribe, print, store the offset of each printed message (so only
/// printed messages are committed), commit on exit and leave the group.
fn run_group(args: &ConsumeArgs, group: &str) -> Result<(), String> {
    use std::io::Write;
    let consumer: BaseConsumer = with_properties(
        crate::cli::client_security::client_config()
            .set("bootstrap.servers", &args.bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set(
                "auto.offset.reset",
                if args.from_beginning {
                    "earliest"
                } else {
                    "latest"
                },
            )
            .set("enable.partition.eof", "false")
            .set("log_level", "3"),
        args.isolation_level.as_deref(),
        &args.properties,
    )?
    .create()
    .map_err(|e| client_error("create consumer", e))?;
    consumer
        .subscribe(&[&args.topic])
        .map_err(|e| client_error(&format!("subscribe to {}", args.topic), e))?;
    let stop = super::stop_on_signal();
    let started = Instant::now();
    // Set once partitions are assigned, then at every message.
    let mut idle_since: Option<Instant> = None;
    let mut printed = 0u64;
    let mut warned = false;
    let mut out = std::io::stdout().lock();
    while args.max_messages.is_none_or(|m| printed < m) && !stop.load(Ordering::SeqCst) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.write_all(render(&args.format, &args.topic, &m).as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| format!("write: {e}"))?;
                printed += 1;
                warned = false;
                idle_since = Some(Instant::now());
                consumer
                    .store_offset_from_message(&m)
                    .map_err(|e| client_error("store offset", e))?;
            }
            // With --follow a broker restart is not the end: librdkafka reconnects.
            Some(Err(e)) if args.follow && is_transient(&e) => {
                if !warned {
                    eprintln!("weir: {} (retrying)", client_error("consume", e));
                    warned = true; // once per outage
                }
            }
            Some(Err(e)) => return Err(client_error("consume", e)),
            None if args.follow => {}
            None => match idle_since {
                Some(t) if t.elapsed() >= GROUP_IDLE => break,
                Some(_) => {}
                None => {
                    let assigned = consumer.assignment().is_ok_and(|a| a.count() > 0);
                    if assigned {
                        idle_since = Some(Instant::now());
                    } else if started.elapsed() > TIMEOUT {
                        return Err(format!(
                            "consume {} as group {group}: no partition assigned within {} s \
                             (group coordinator unavailable, or more members than partitions)",
                            args.topic,
                            TIMEOUT.as_secs()
                        ));
                    }
                }
            },
        }
    }
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => Ok(()),
        // Nothing printed since the last automatic commit.
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
        Err(e) => Err(client_error(&format!("commit offsets of group {group}"), e)),
    }
    // Dropping the consumer closes it: it leaves the group.
}

/// Connection-level errors librdkafka recovers from by itself.
fn is_transient(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::NotCoordinator
        )
    )
}
