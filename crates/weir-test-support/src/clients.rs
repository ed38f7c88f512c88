//! Thin helpers around the `rdkafka` crate (librdkafka) for integration tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// One acknowledged (or consumed) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes.
    pub value: Vec<u8>,
}

/// Records every successful delivery report.
#[derive(Default, Clone)]
pub struct AckLog {
    /// Acknowledged messages in report order.
    pub acked: Arc<Mutex<Vec<Msg>>>,
    /// Delivery errors.
    pub errors: Arc<Mutex<Vec<String>>>,
    /// The client's last [`CLIENT_LOG_LINES`] warnings and errors (librdkafka's own log), to
    /// explain a stalled producer.
    pub client_log: Arc<Mutex<std::collections::VecDeque<String>>>,
}

/// How many of librdkafka's warning and error lines an [`AckLog`] keeps.
pub const CLIENT_LOG_LINES: usize = 200;

impl AckLog {
    fn remember(&self, line: String) {
        let mut l = self.client_log.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() == CLIENT_LOG_LINES {
            l.pop_front();
        }
        l.push_back(line);
    }

    /// The kept client log lines, oldest first.
    pub fn client_log_lines(&self) -> Vec<String> {
        let l = self.client_log.lock().unwrap_or_else(|e| e.into_inner());
        l.iter().cloned().collect()
    }
}

/// `WEIR_TEST_CLIENT_LOG=FILE`: every line of the producers' librdkafka log (debug lines too,
/// with `WEIR_TEST_CLIENT_DEBUG=eos,msg` or any librdkafka `debug` value) is appended to FILE,
/// with a timestamp, to explain what a client did during a failed campaign.
fn client_log_file() -> Option<&'static Mutex<std::fs::File>> {
    static FILE: std::sync::OnceLock<Option<Mutex<std::fs::File>>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::var_os("WEIR_TEST_CLIENT_LOG")?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
            .map(Mutex::new)
    })
    .as_ref()
}

impl ClientContext for AckLog {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        if let Some(f) = client_log_file() {
            use std::io::Write;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(
                f,
                "{}.{:03} {level:?} {fac}: {log_message}",
                now.as_secs(),
                now.subsec_millis()
            );
        }
        if matches!(
            level,
            L::Emerg | L::Alert | L::Critical | L::Error | L::Warning
        ) {
            self.remember(format!("{level:?} {fac}: {log_message}"));
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.remember(format!("error {error}: {reason}"));
    }
}

/// A consumer with an [`AckLog`] context writes its librdkafka log like a producer's.
impl rdkafka::consumer::ConsumerContext for AckLog {}

impl ProducerContext for AckLog {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => self
                .acked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Msg {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                }),
            Err((e, _)) => self
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(e.to_string()),
        }
    }
}

/// A producer whose delivery reports land in an [`AckLog`]. `extra` overrides defaults
/// (librdkafka's `enable.idempotence` default is false).
pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> (BaseProducer<AckLog>, AckLog) {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    if let Ok(debug) = std::env::var("WEIR_TEST_CLIENT_DEBUG") {
        cfg.set("debug", debug)
            .set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
    }
    let log = AckLog::default();
    let p = cfg
        .create_with_context(log.clone())
        .expect("create producer");
    (p, log)
}

/// Flush a producer, polling for delivery reports, and return how many messages are still queued.
pub fn flush(p: &BaseProducer<AckLog>, timeout: Duration) -> i32 {
    let _ = p.flush(timeout);
    p.in_flight_count()
}

/// Produce one message, retrying while librdkafka's queue is full.
pub fn send(
    p: &BaseProducer<AckLog>,
    topic: &str,
    partition: Option<i32>,
    key: Option<&[u8]>,
    value: &[u8],
) {
    let mut rec = BaseRecord::<[u8], [u8]>::to(topic).payload(value);
    if let Some(k) = key {
        rec = rec.key(k);
    }
    if let Some(p) = partition {
        rec = rec.partition(p);
    }
    let mut rec = rec;
    loop {
        match p.send(rec) {
            Ok(()) => return,
            Err((e, r)) => {
                if !matches!(
                    e,
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull
                    )
                ) {
                    // A fatal error's reason is only available from the client.
                    let fatal = p
                        .client()
                        .fatal_error()
                        .map(|(code, reason)| format!(" (fatal: {code:?}: {reason})"))
                        .unwrap_or_default();
                    panic!("produce failed: {e}{fatal}");
                }
                p.poll(Duration::from_millis(10));
                rec = r;
            }
        }
    }
}

/// Create a topic with the admin API and wait for the result.
pub fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("create admin client");
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let res = rt
        .block_on(admin.create_topics(
            [&t],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("create_topics request");
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// A consumer assigned to every partition of `topic` from `from` (no consumer group).
pub fn assigned_consumer(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    from: Offset,
    extra: &[(&str, &str)],
) -> BaseConsumer {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("group.id", "weir-tests-unused")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    let c: BaseConsumer = cfg.create().expect("create consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, from)
            .expect("add partition");
    }
    c.assign(&tpl).expect("assign");
    c
}

/// Read messages until `count` have arrived or `timeout` passes; errors fail the test.
pub fn consume_n(c: &BaseConsumer, count: usize, timeout: Duration) -> Vec<Msg> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::with_capacity(count);
    while out.len() < count && Instant::now() < deadline {
        match c.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => panic!("consume error: {e}"),
            Some(Ok(m)) => out.push(Msg {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            }),
        }
    }
    out
}

/// Group messages by partition, keeping order.
pub fn by_partition(msgs: &[Msg]) -> HashMap<i32, Vec<Msg>> {
    let mut m: HashMap<i32, Vec<Msg>> = HashMap::new();
    for x in msgs {
        m.entry(x.partition).or_default().push(x.clone());
    }
    m
}
