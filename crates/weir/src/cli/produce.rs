//! `weir produce <topic>`: one message per stdin line, through librdkafka.

use std::io::BufRead;
use std::time::Duration;

use clap::Args;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

use super::admin::client_error;

/// `weir produce ...`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to write to.
    topic: String,
    /// Bootstrap server.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        default_value = "127.0.0.1:9092"
    )]
    bootstrap: String,
    /// Split each line into key and value at the first occurrence of this string.
    #[arg(long = "key-separator")]
    key_separator: Option<String>,
    /// Header `key=value` added to every message (repeatable).
    #[arg(long = "header", value_name = "KEY=VALUE")]
    headers: Vec<String>,
    /// acks: all, 1 or 0.
    #[arg(long, default_value = "all")]
    acks: String,
    /// Compression: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none")]
    compression: String,
    /// Write every message to this partition (default: the partitioner decides).
    #[arg(long)]
    partition: Option<i32>,
}

/// Run `weir produce`; fails if any message was not acknowledged.
pub fn run(args: ProduceArgs) -> Result<(), String> {
    super::admin::ensure_reachable(&args.bootstrap)?;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap)
        .set("acks", &args.acks)
        .set("compression.type", &args.compression)
        .set("partitioner", "murmur2_random")
        .set("log_level", "3")
        .create()
        .map_err(|e| client_error("create producer", e))?;
    let mut headers = OwnedHeaders::new();
    for h in &args.headers {
        let (k, v) = h
            .split_once('=')
            .ok_or_else(|| format!("--header {h:?}: expected KEY=VALUE"))?;
        headers = headers.insert(Header {
            key: k,
            value: Some(v),
        });
    }
    let mut sent = 0u64;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        let (key, value) = match &args.key_separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(k.to_string()), v.to_string()),
                None => (None, line.clone()),
            },
            None => (None, line.clone()),
        };
        let mut rec = BaseRecord::<String, String>::to(&args.topic)
            .payload(&value)
            .headers(headers.clone());
        if let Some(k) = &key {
            rec = rec.key(k);
        }
        if let Some(p) = args.partition {
            rec = rec.partition(p);
        }
        let mut rec = rec;
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((e, r)) => {
                    if !matches!(
                        e,
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull
                        )
                    ) {
                        return Err(client_error("produce", e));
                    }
                    producer.poll(Duration::from_millis(10));
                    rec = r;
                }
            }
        }
        sent += 1;
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| client_error("flush", e))?;
    if producer.in_flight_count() > 0 {
        return Err(format!(
            "{} of {sent} messages were not acknowledged",
            producer.in_flight_count()
        ));
    }
    eprintln!("produced {sent} messages to {}", args.topic);
    Ok(())
}
