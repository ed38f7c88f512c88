//! Cluster-level helpers for replication tests: what the brokers say about partitions,
//! replicated topics, a continuous idempotent acks=all workload, and the checker that compares
//! acknowledged with consumed records.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::producer::Producer;
use rdkafka::Offset;

use crate::clients::{assigned_consumer, consume_n, producer, send, AckLog, Msg};
use crate::raw::RawClient;
use crate::{start_nodes, wait_until, BrokerOptions, BrokerProcess};

/// One partition as a broker's Metadata answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionView {
    /// Leader id (-1 = none).
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
}

/// The partitions of `topic` as the broker at `bootstrap` reports them (empty when unknown or
/// the broker does not answer).
pub fn partitions(bootstrap: &str, topic: &str) -> Vec<PartitionView> {
    let Ok(mut c) = RawClient::try_connect(bootstrap) else {
        return Vec::new();
    };
    c.set_timeout(Duration::from_secs(2));
    let mut req = MetadataRequest::default();
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_string(topic.to_string())));
    req.topics = Some(vec![t]);
    let Ok(md) = c.try_call::<_, MetadataResponse>(ApiKey::Metadata, 12, &req) else {
        return Vec::new();
    };
    let mut out: Vec<(i32, PartitionView)> = md
        .topics
        .iter()
        .filter(|t| t.error_code == 0)
        .flat_map(|t| t.partitions.iter())
        .map(|p| {
            (
                p.partition_index,
                PartitionView {
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|r| r.0).collect(),
                    isr: p.isr_nodes.iter().map(|r| r.0).collect(),
                },
            )
        })
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, v)| v).collect()
}

/// How many brokers `node`'s Metadata answer lists (0 when it does not answer).
pub fn brokers_registered(node: &BrokerProcess) -> usize {
    let Ok(mut c) = RawClient::try_connect(&node.bootstrap()) else {
        return 0;
    };
    let mut req = MetadataRequest::default();
    req.topics = Some(Vec::new());
    c.try_call::<_, MetadataResponse>(ApiKey::Metadata, 12, &req)
        .map(|m| m.brokers.len())
        .unwrap_or(0)
}

/// Configs of the replication test clusters: a broker is fenced 3 s after its last heartbeat
/// (sent every 500 ms) and a follower leaves the ISR after 4 s behind.
pub fn cluster_options() -> BrokerOptions {
    BrokerOptions::default()
        .config("broker.session.timeout.ms", "3000")
        .config("broker.heartbeat.interval.ms", "500")
        .config("replica.lag.time.max.ms", "4000")
}

/// Start a dedicated controller (node 1) and three brokers (nodes 2–4; index = id − 1) with
/// `opts` (e.g. [`cluster_options`] plus test-specific configs), and wait until every broker
/// lists all three brokers. Panics with the controller's output if that takes over 30 s.
pub fn start_controller_and_three_brokers(bin: &Path, opts: BrokerOptions) -> Vec<BrokerProcess> {
    let nodes = start_nodes(bin, &["controller", "broker", "broker", "broker"], opts);
    assert!(
        wait_until(Duration::from_secs(30), || {
            nodes[1..].iter().all(|n| brokers_registered(n) == 3)
        }),
        "three brokers registered:\n{}",
        nodes[0].output()
    );
    nodes
}

/// The bootstrap list of every node but the first (the dedicated controller of
/// `start_nodes(["controller", "broker", ...])`).
pub fn brokers_bootstrap(nodes: &[BrokerProcess]) -> String {
    nodes[1..]
        .iter()
        .map(|n| n.bootstrap())
        .collect::<Vec<_>>()
        .join(",")
}

/// The partitions of `topic` from the first broker (nodes 1.. by index, skipping the indexes in
/// `skip`) that answers; empty when none does.
pub fn view(nodes: &[BrokerProcess], topic: &str, skip: &[usize]) -> Vec<PartitionView> {
    for (i, n) in nodes.iter().enumerate().skip(1) {
        if skip.contains(&i) {
            continue;
        }
        let v = partitions(&n.bootstrap(), topic);
        if !v.is_empty() {
            return v;
        }
    }
    Vec::new()
}

/// True when every partition of `topic` has a leader and an ISR of `rf` members.
pub fn full_isr(nodes: &[BrokerProcess], topic: &str, rf: usize) -> bool {
    let v = view(nodes, topic, &[]);
    !v.is_empty() && v.iter().all(|p| p.isr.len() == rf && p.leader > 0)
}

/// CreateTopics through `bootstrap` with a replication factor and topic configs; returns the
/// error code (0 = created).
pub fn create_replicated_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    rf: i16,
    configs: &[(&str, &str)],
) -> i16 {
    let mut c = RawClient::connect(bootstrap);
    let mut t = CreatableTopic::default();
    t.name = TopicName(StrBytes::from_string(name.to_string()));
    t.num_partitions = partitions;
    t.replication_factor = rf;
    for (k, v) in configs {
        let mut cfg = CreatableTopicConfig::default();
        cfg.name = StrBytes::from_string(k.to_string());
        cfg.value = Some(StrBytes::from_string(v.to_string()));
        t.configs.push(cfg);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 30_000;
    let resp: CreateTopicsResponse = c.call(ApiKey::CreateTopics, 5, &req);
    resp.topics[0].error_code
}

/// The bytes of every `.log` segment of `topic-partition` under `log_dir`, concatenated in
/// offset order (compare replicas byte for byte).
pub fn log_bytes(log_dir: &Path, topic: &str, partition: i32) -> Vec<u8> {
    let dir = log_dir.join(format!("{topic}-{partition}"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap_or_default())
        .collect()
}

/// `name size` of every file in the `topic-partition` directory (for failure messages).
pub fn list_partition_dir(log_dir: &Path, topic: &str, partition: i32) -> String {
    let dir = log_dir.join(format!("{topic}-{partition}"));
    let mut out: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                format!("{} {len}", e.file_name().to_string_lossy())
            })
            .collect(),
        Err(e) => vec![format!("{}: {e}", dir.display())],
    };
    out.sort();
    out.join(", ")
}

/// A background thread producing `value = sequence number` to partition `seq % partitions`
/// with an idempotent acks=all librdkafka producer, as fast as `pace` allows, until stopped.
pub struct Workload {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    acked: Arc<Mutex<Vec<(Instant, Msg)>>>,
    errors: Arc<Mutex<Vec<String>>>,
    client_log: AckLog,
    thread: Option<JoinHandle<()>>,
}

impl Workload {
    /// Start producing to `topic` (with `partitions` partitions) through `bootstrap`, one
    /// message every `pace`.
    pub fn start(bootstrap: &str, topic: &str, partitions: i32, pace: Duration) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let topic = topic.to_string();
        let (s, n, a, e) = (stop.clone(), sent.clone(), acked.clone(), errors.clone());
        let (p, log) = producer(
            bootstrap,
            &[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("linger.ms", "2"),
                ("message.timeout.ms", "120000"),
                ("request.timeout.ms", "5000"),
                ("retry.backoff.ms", "50"),
                ("topic.metadata.refresh.interval.ms", "500"),
            ],
        );
        let client_log = log.clone();
        let thread = std::thread::spawn(move || {
            let drain = |a: &Mutex<Vec<(Instant, Msg)>>, e: &Mutex<Vec<String>>| {
                let now = Instant::now();
                let mut got = log.acked.lock().unwrap_or_else(|x| x.into_inner());
                a.lock()
                    .unwrap_or_else(|x| x.into_inner())
                    .extend(got.drain(..).map(|m| (now, m)));
                let mut errs = log.errors.lock().unwrap_or_else(|x| x.into_inner());
                e.lock()
                    .unwrap_or_else(|x| x.into_inner())
                    .extend(errs.drain(..));
            };
            let mut seq = 0u64;
            while !s.load(Ordering::SeqCst) {
                let value = seq.to_string();
                send(
                    &p,
                    &topic,
                    Some((seq % partitions as u64) as i32),
                    None,
                    value.as_bytes(),
                );
                seq += 1;
                n.store(seq, Ordering::SeqCst);
                p.poll(pace);
                drain(&a, &e);
            }
            let deadline = Instant::now() + Duration::from_secs(150);
            while p.in_flight_count() > 0 && Instant::now() < deadline {
                p.poll(Duration::from_millis(50));
                drain(&a, &e);
            }
            drain(&a, &e);
        });
        Workload {
            stop,
            sent,
            acked,
            errors,
            client_log,
            thread: Some(thread),
        }
    }

    /// The producer client's last warnings and errors (librdkafka's log), oldest first.
    pub fn client_log(&self) -> Vec<String> {
        self.client_log.client_log_lines()
    }

    /// Messages handed to the producer so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Acknowledged so far.
    pub fn acked_count(&self) -> usize {
        self.acked.lock().unwrap_or_else(|x| x.into_inner()).len()
    }

    /// When the first acknowledgement after `t` arrived (polled every 10 ms until `timeout`).
    pub fn first_ack_after(&self, t: Instant, timeout: Duration) -> Option<Instant> {
        let mut found = None;
        crate::wait_until(timeout, || {
            found = self
                .acked
                .lock()
                .unwrap_or_else(|x| x.into_inner())
                .iter()
                .map(|(at, _)| *at)
                .find(|at| *at > t);
            found.is_some()
        });
        found
    }

    /// Stop producing, wait for every in-flight message's report; returns (acknowledged
    /// messages, delivery errors).
    pub fn finish(mut self) -> (Vec<Msg>, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("workload thread");
        }
        let acked = std::mem::take(&mut *self.acked.lock().unwrap_or_else(|x| x.into_inner()));
        let errors = std::mem::take(&mut *self.errors.lock().unwrap_or_else(|x| x.into_inner()));
        (acked.into_iter().map(|(_, m)| m).collect(), errors)
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The offset librdkafka reports for a message acknowledged without one (RD_KAFKA_OFFSET_INVALID).
const OFFSET_UNKNOWN: i64 = -1001;

/// Read every partition of `topic` from the beginning through `bootstrap` up to `expected`
/// messages (or `timeout`) and check against `acked`: every acknowledged message is consumed
/// exactly once at its acknowledged offset (in its partition, for one librdkafka acknowledged
/// implicitly, without an offset), nothing is consumed twice, and each partition's
/// sequence numbers rise. Returns a description of every violation (empty = all good) and the
/// number of consumed messages.
pub fn check_acked_vs_consumed(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    acked: &[Msg],
    expected: usize,
    timeout: Duration,
) -> (Vec<String>, usize) {
    let c = assigned_consumer(bootstrap, topic, partitions, Offset::Beginning, &[]);
    let consumed = consume_n(&c, expected, timeout);
    let mut problems = Vec::new();
    let mut seen: HashMap<Vec<u8>, (i32, i64)> = HashMap::new();
    let mut last: BTreeMap<i32, u64> = BTreeMap::new();
    for m in &consumed {
        if let Some(prev) = seen.insert(m.value.clone(), (m.partition, m.offset)) {
            problems.push(format!(
                "value {} consumed twice: at {prev:?} and {}/{}",
                String::from_utf8_lossy(&m.value),
                m.partition,
                m.offset
            ));
        }
        let v: u64 = String::from_utf8_lossy(&m.value).parse().unwrap_or(0);
        if let Some(&l) = last.get(&m.partition) {
            if v <= l {
                problems.push(format!(
                    "partition {} out of order: {v} after {l} (offset {})",
                    m.partition, m.offset
                ));
            }
        }
        last.insert(m.partition, v);
    }
    for a in acked {
        match seen.get(&a.value) {
            None => problems.push(format!(
                "acknowledged value {} at {}/{} was never consumed",
                String::from_utf8_lossy(&a.value),
                a.partition,
                a.offset
            )),
            // librdkafka acknowledges messages whose request failed as "possibly persisted"
            // once a later batch of the partition succeeds ("implicitly acked by subsequent batch
            // success"), without an offset: RD_KAFKA_OFFSET_INVALID (-1001). They must still be
            // in that partition, exactly once and in order (checked above).
            Some(&(partition, _)) if a.offset == OFFSET_UNKNOWN && partition == a.partition => {}
            Some(&at) if at != (a.partition, a.offset) => problems.push(format!(
                "acknowledged value {} at {}/{} consumed at {at:?}",
                String::from_utf8_lossy(&a.value),
                a.partition,
                a.offset
            )),
            _ => {}
        }
    }
    (problems, consumed.len())
}
