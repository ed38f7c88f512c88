//! The mixed workload besides the producer (which is `weir_test_support::cluster::Workload`):
//! a consumer group member committing offsets, and a thread of admin operations, each recording
//! what it was told; plus [`Disturbances`], the per-node fault counters that excuse an admin
//! request whose target node was faulted while it ran.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use weir_test_support::clients::AckLog;
use weir_test_support::raw::RawClient;

use crate::rng::Rng;

/// The workload topic (replication factor 3, min.insync.replicas=2).
pub const TOPIC: &str = "chaos";

/// Per node, a counter bumped when a fault on it starts and when it is healed (odd = faulted).
#[derive(Debug)]
pub struct Disturbances(Vec<AtomicU64>);

impl Disturbances {
    /// Counters for `n` nodes.
    pub fn new(n: usize) -> Arc<Disturbances> {
        Arc::new(Disturbances((0..n).map(|_| AtomicU64::new(0)).collect()))
    }

    /// Mark node `i` faulted (`true`) or healed (`false`); a no-op when already so.
    pub fn set(&self, i: usize, faulted: bool) {
        let c = &self.0[i];
        if (c.load(Ordering::SeqCst) % 2 == 1) != faulted {
            c.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The counter of node `i`.
    pub fn get(&self, i: usize) -> u64 {
        self.0[i].load(Ordering::SeqCst)
    }
}

/// An offset commit the group coordinator acknowledged.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Partition.
    pub partition: i32,
    /// Committed offset (the next one to consume).
    pub offset: i64,
}

/// A subscribed group member that commits its position every 300 ms (synchronously) and
/// records every acknowledged commit, in acknowledgement order.
pub struct GroupConsumer {
    stop: Arc<AtomicBool>,
    commits: Arc<Mutex<Vec<Commit>>>,
    errors: Arc<Mutex<Vec<String>>>,
    consumed: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl GroupConsumer {
    /// Join `group` and consume `topic` through `bootstrap`.
    pub fn start(bootstrap: &str, group: &str, topic: &str) -> GroupConsumer {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "10000")
            .set("topic.metadata.refresh.interval.ms", "500");
        if std::env::var_os("WEIR_TEST_CLIENT_DEBUG").is_some() {
            // Offset resets and truncation detection are logged under these facilities.
            cfg.set("debug", "consumer,cgrp,topic")
                .set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
        }
        let consumer: BaseConsumer<AckLog> = cfg
            .create_with_context(AckLog::default())
            .expect("create group consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let stop = Arc::new(AtomicBool::new(false));
        let commits = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let consumed = Arc::new(AtomicU64::new(0));
        let (st, co, er, cn) = (
            stop.clone(),
            commits.clone(),
            errors.clone(),
            consumed.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut last_commit = Instant::now();
            while !st.load(Ordering::SeqCst) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(_)) => {
                        cn.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(Err(e)) => lock(&er).push(e.to_string()),
                    None => {}
                }
                if last_commit.elapsed() < Duration::from_millis(300) {
                    continue;
                }
                last_commit = Instant::now();
                let Ok(pos) = consumer.position() else {
                    continue;
                };
                let mut tpl = TopicPartitionList::new();
                let mut offsets = Vec::new();
                for e in pos.elements() {
                    if let Offset::Offset(o) = e.offset() {
                        let _ =
                            tpl.add_partition_offset(e.topic(), e.partition(), Offset::Offset(o));
                        offsets.push(Commit {
                            partition: e.partition(),
                            offset: o,
                        });
                    }
                }
                if offsets.is_empty() {
                    continue;
                }
                match consumer.commit(&tpl, CommitMode::Sync) {
                    Ok(()) => lock(&co).extend(offsets),
                    Err(e) => lock(&er).push(format!("commit: {e}")),
                }
            }
        });
        GroupConsumer {
            stop,
            commits,
            errors,
            consumed,
            thread: Some(thread),
        }
    }

    /// Messages consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::SeqCst)
    }

    /// Stop (without a last commit) and return (acknowledged commits, errors seen). The thread
    /// gets 60 s to stop: librdkafka 2.12 can deadlock inside a synchronous commit (a broker
    /// thread decommissioned while another refreshes metadata, seen after fault 999 of a 1,000-fault
    /// run); such a thread is left behind, noted in the errors, and the campaign goes on to its
    /// checks with the commits acknowledged so far.
    pub fn finish(mut self) -> (Vec<Commit>, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                lock(&self.errors).push(
                    "the group consumer thread did not stop within 60 s (left behind)".into(),
                );
            }
        }
        (
            std::mem::take(&mut *lock(&self.commits)),
            std::mem::take(&mut *lock(&self.errors)),
        )
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One admin request and what became of it.
#[derive(Debug, Clone)]
pub struct AdminOp {
    /// What was asked, e.g. `create adm-3 (2 partitions)`.
    pub op: String,
    /// Index of the node it was sent to.
    pub node: usize,
    /// Time until the answer (or the failure).
    pub latency: Duration,
    /// The answer's error name (`NONE` for success) or the I/O failure.
    pub result: String,
    /// True when an answer arrived.
    pub answered: bool,
    /// True when the target node was faulted while the request ran (its lateness is excused).
    pub excused: bool,
}

/// The timeout every admin request carries.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A thread sending seeded admin operations (create/delete topics `adm-*`, add partitions, alter
/// a config, reassign a partition) to random nodes until stopped.
pub struct Admin {
    stop: Arc<AtomicBool>,
    ops: Arc<Mutex<Vec<AdminOp>>>,
    thread: Option<JoinHandle<()>>,
}

struct AdminState {
    bootstraps: Vec<String>,
    rng: Rng,
    topics: Vec<(String, i32)>,
    next: u32,
    rf: usize,
}

impl Admin {
    /// Start against the nodes at `bootstraps` (index = node id − 1).
    pub fn start(bootstraps: Vec<String>, rng: Rng, disturbed: Arc<Disturbances>) -> Admin {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(Mutex::new(Vec::new()));
        let (st, o) = (stop.clone(), ops.clone());
        let thread = std::thread::spawn(move || {
            let rf = bootstraps.len().min(2);
            let mut s = AdminState {
                bootstraps,
                rng,
                topics: Vec::new(),
                next: 0,
                rf,
            };
            while !st.load(Ordering::SeqCst) {
                // The pace is part of the workload, not a wait for a condition.
                std::thread::sleep(Duration::from_millis(s.rng.range(200, 800)));
                let node = s.rng.below(s.bootstraps.len() as u64) as usize;
                let before = disturbed.get(node);
                let t0 = Instant::now();
                let (op, res) = s.one(node);
                let latency = t0.elapsed();
                let after = disturbed.get(node);
                let excused = before % 2 == 1 || after != before;
                let (result, answered) = match res {
                    Ok(code) => (code_name(code), true),
                    Err(e) => (e, false),
                };
                lock(&o).push(AdminOp {
                    op,
                    node,
                    latency,
                    result,
                    answered,
                    excused,
                });
            }
        });
        Admin {
            stop,
            ops,
            thread: Some(thread),
        }
    }

    /// Stop and return every operation.
    pub fn finish(mut self) -> Vec<AdminOp> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *lock(&self.ops))
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// `NONE` or the Kafka error's name.
pub fn code_name(code: i16) -> String {
    if code == 0 {
        return "NONE".into();
    }
    ResponseError::try_from_code(code)
        .map(|e| format!("{e:?}"))
        .unwrap_or_else(|| format!("error {code}"))
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

impl AdminState {
    /// One seeded operation against node `node`: (description, error code or I/O failure).
    fn one(&mut self, node: usize) -> (String, Result<i16, String>) {
        let addr = self.bootstraps[node].clone();
        let timeout_ms = ADMIN_TIMEOUT.as_millis() as i32;
        let call = |f: &mut dyn FnMut(&mut RawClient) -> std::io::Result<i16>| {
            let mut c =
                RawClient::try_connect_timeout(&addr, ADMIN_TIMEOUT + Duration::from_secs(5))
                    .map_err(|e| format!("connect: {e}"))?;
            f(&mut c).map_err(|e| e.to_string())
        };
        let choice = if self.topics.is_empty() {
            0
        } else {
            self.rng.below(6)
        };
        let pick = if self.topics.is_empty() {
            0
        } else {
            self.rng.below(self.topics.len() as u64) as usize
        };
        match choice {
            0 | 1 => {
                self.next += 1;
                let (topic, parts) = (format!("adm-{}", self.next), self.rng.range(1, 3) as i32);
                let mut t = CreatableTopic::default();
                t.name = name(&topic);
                t.num_partitions = parts;
                t.replication_factor = self.rf as i16;
                let mut cfg = CreatableTopicConfig::default();
                cfg.name = StrBytes::from_static_str("min.insync.replicas");
                cfg.value = Some(StrBytes::from_static_str("1"));
                t.configs.push(cfg);
                let mut req = CreateTopicsRequest::default();
                req.topics = vec![t];
                req.timeout_ms = timeout_ms;
                let res = call(&mut |c| {
                    let r: CreateTopicsResponse = c.try_call(ApiKey::CreateTopics, 5, &req)?;
                    Ok(r.topics.first().map_or(-1, |t| t.error_code))
                });
                if matches!(res, Ok(0) | Ok(36)) {
                    self.topics.push((topic.clone(), parts));
                }
                (format!("create {topic} ({parts} partitions)"), res)
            }
            2 => {
                let topic = self.topics[pick].0.clone();
                let mut req = DeleteTopicsRequest::default();
                req.topic_names = vec![name(&topic)];
                req.timeout_ms = timeout_ms;
                let res = call(&mut |c| {
                    let r: DeleteTopicsResponse = c.try_call(ApiKey::DeleteTopics, 4, &req)?;
                    Ok(r.responses.first().map_or(-1, |t| t.error_code))
                });
                if matches!(res, Ok(0) | Ok(3)) {
                    self.topics.remove(pick);
                }
                (format!("delete {topic}"), res)
            }
            3 => {
                let (topic, count) = self.topics[pick].clone();
                let mut t = create_partitions_request::CreatePartitionsTopic::default();
                t.name = name(&topic);
                t.count = count + 1;
                let mut req = CreatePartitionsRequest::default();
                req.topics = vec![t];
                req.timeout_ms = timeout_ms;
                let res = call(&mut |c| {
                    let r: CreatePartitionsResponse =
                        c.try_call(ApiKey::CreatePartitions, 1, &req)?;
                    Ok(r.results.first().map_or(-1, |t| t.error_code))
                });
                if res == Ok(0) {
                    self.topics[pick].1 = count + 1;
                }
                (
                    format!("add partition to {topic} ({count} -> {})", count + 1),
                    res,
                )
            }
            4 => {
                let topic = self.topics[pick].0.clone();
                let value = (self.rng.range(1, 1000) * 3_600_000).to_string();
                let mut cfg = AlterableConfig::default();
                cfg.name = StrBytes::from_static_str("retention.ms");
                cfg.config_operation = 0; // SET
                cfg.value = Some(StrBytes::from_string(value.clone()));
                let mut r = AlterConfigsResource::default();
                r.resource_type = 2; // topic
                r.resource_name = StrBytes::from_string(topic.clone());
                r.configs = vec![cfg];
                let mut req = IncrementalAlterConfigsRequest::default();
                req.resources = vec![r];
                let res = call(&mut |c| {
                    let r: IncrementalAlterConfigsResponse =
                        c.try_call(ApiKey::IncrementalAlterConfigs, 0, &req)?;
                    Ok(r.responses.first().map_or(-1, |t| t.error_code))
                });
                (format!("alter {topic} retention.ms={value}"), res)
            }
            _ => {
                let topic = self.topics[pick].0.clone();
                let n = self.bootstraps.len();
                let target: Vec<i32> = self
                    .rng
                    .pick(n, self.rf)
                    .into_iter()
                    .map(|i| i as i32 + 1)
                    .collect();
                let mut p = alter_partition_reassignments_request::ReassignablePartition::default();
                p.partition_index = 0;
                p.replicas = Some(target.iter().map(|&b| BrokerId(b)).collect());
                let mut t = alter_partition_reassignments_request::ReassignableTopic::default();
                t.name = name(&topic);
                t.partitions = vec![p];
                let mut req = AlterPartitionReassignmentsRequest::default();
                req.topics = vec![t];
                req.timeout_ms = timeout_ms;
                let res = call(&mut |c| {
                    let r: AlterPartitionReassignmentsResponse =
                        c.try_call(ApiKey::AlterPartitionReassignments, 0, &req)?;
                    if r.error_code != 0 {
                        return Ok(r.error_code);
                    }
                    Ok(r.responses
                        .first()
                        .and_then(|t| t.partitions.first())
                        .map_or(-1, |p| p.error_code))
                });
                (format!("reassign {topic}-0 to {target:?}"), res)
            }
        }
    }
}

/// Lock, ignoring poisoning (a panicked thread's data is still what it recorded).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
