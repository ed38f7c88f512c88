//! `weir produce <topic>`: one message per stdin line, through librdkafka; with
//! `--transactional-id`, all of them in one transaction (committed at the end of the input,
//! aborted on any error).

use std::io::BufRead;
use std::sync::Mutex;
use std::time::Duration;

use clap::Args;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

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
    /// Send every line in one transaction with this transactional id (init, begin, send,
    /// commit); on any error the transaction is aborted and the command fails. Needs --acks all.
    #[arg(long = "transactional-id", value_name = "ID")]
    transactional_id: Option<String>,
    /// The transaction's timeout (`transaction.timeout.ms`), with --transactional-id.
    #[arg(long = "transaction-timeout-ms", requires = "transactional_id")]
    transaction_timeout_ms: Option<u64>,
}

/// How long transactional calls (init, commit, abort) may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// Run `weir produce`; fails if any message was not acknowledged.
pub fn run(args: ProduceArgs) -> Result<(), String> {
    super::admin::ensure_reachable(&args.bootstrap)?;
    let mut cfg = crate::cli::client_security::client_config();
    cfg.set("bootstrap.servers", &args.bootstrap)
        .set("acks", &args.acks)
        .set("compression.type", &args.compression)
        .set("partitioner", "murmur2_random")
        .set("log_level", "3");
    if let Some(id) = &args.transactional_id {
        if args.acks != "all" && args.acks != "-1" {
            return Err("--transactional-id needs --acks all".into());
        }
        cfg.set("transactional.id", id);
        if let Some(ms) = args.transaction_timeout_ms {
            cfg.set("transaction.timeout.ms", ms.to_string());
        }
    }
    let producer: BaseProducer<Deliveries> = cfg
        .create_with_context(Deliveries::default())
        .map_err(|e| client_error("create producer", e))?;
    let Some(id) = args.transactional_id.clone() else {
        return send_lines(&producer, &args);
    };
    producer
        .init_transactions(TXN_TIMEOUT)
        .map_err(|e| client_error(&format!("init transactions of {id}"), e))?;
    producer
        .begin_transaction()
        .map_err(|e| client_error(&format!("begin a transaction of {id}"), e))?;
    let outcome = send_lines(&producer, &args).and_then(|()| {
        producer
            .commit_transaction(TXN_TIMEOUT)
            .map_err(|e| client_error(&format!("commit the transaction of {id}"), e))
    });
    if let Err(e) = outcome {
        // A fatal error (e.g. fenced by a newer producer) leaves nothing to abort.
        let aborted = match producer.client().fatal_error() {
            Some(_) => "not aborted: the producer failed fatally".to_string(),
            None => match producer.abort_transaction(TXN_TIMEOUT) {
                Ok(()) => "transaction aborted".to_string(),
                Err(a) => client_error("abort failed too", a),
            },
        };
        return Err(format!("{e} ({aborted})"));
    }
    eprintln!("committed the transaction of {id}");
    Ok(())
}

/// Send every stdin line as one message and wait until all are acknowledged.
fn send_lines(producer: &BaseProducer<Deliveries>, args: &ProduceArgs) -> Result<(), String> {
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
    let (failed, first) = producer.context().failures();
    if failed > 0 {
        return Err(format!(
            "{failed} of {sent} messages were not stored: {}",
            first.unwrap_or_default()
        ));
    }
    eprintln!("produced {sent} messages to {}", args.topic);
    Ok(())
}

/// Counts failed deliveries (librdkafka's default context ignores delivery reports, so a
/// message refused by the broker, e.g. for authorization, would go unnoticed).
#[derive(Default)]
struct Deliveries {
    failed: Mutex<(u64, Option<String>)>,
}

impl Deliveries {
    /// How many deliveries failed, and the first failure.
    fn failures(&self) -> (u64, Option<String>) {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            let mut f = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            f.0 += 1;
            if f.1.is_none() {
                f.1 = Some(client_error("delivery", e.clone()));
            }
        }
    }
}
