//! `weir consume <topic>`: print messages with a kcat-like format string.

use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
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
    /// Start at the log start offset (default: the end).
    #[arg(long = "from-beginning")]
    from_beginning: bool,
    /// Start at this offset in every partition.
    #[arg(long)]
    offset: Option<i64>,
    /// Only this partition.
    #[arg(long)]
    partition: Option<i32>,
    /// Stop after this many messages.
    #[arg(long = "max-messages")]
    max_messages: Option<u64>,
    /// Keep waiting for new messages (default: stop at the end offsets seen at start).
    #[arg(long)]
    follow: bool,
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

/// Run `weir consume` (manual assignment: no consumer group, no commits).
pub fn run(args: ConsumeArgs) -> Result<(), String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap)
        .set("group.id", "weir-cli")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("log_level", "3")
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
