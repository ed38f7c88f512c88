//! `weir share consume --group G --topic T [--ack accept|release|reject]`: a share-group
//! (KIP-932) consumer for trying queue semantics by hand. It joins the share group with
//! ShareGroupHeartbeat, fetches from the leaders of its assigned partitions with ShareFetch
//! (acknowledging the previous records in the next fetch), prints each record with its
//! delivery count, and on exit acknowledges what is left and closes its share sessions.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckBatch2,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::raw::{call, failed};

/// `weir share ...`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Bootstrap server.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    bootstrap: String,
    #[command(subcommand)]
    command: ShareCommand,
}

#[derive(Debug, Subcommand)]
enum ShareCommand {
    /// Consume as a member of a share group, acknowledging every record with `--ack`.
    Consume(ConsumeArgs),
}

/// How each record is acknowledged.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Ack {
    /// Processed (never delivered again).
    Accept,
    /// Not processed: delivered again (to any member) until the delivery-count limit.
    Release,
    /// Unprocessable: never delivered again (dead-lettered when the group has a DLQ).
    Reject,
}

/// `weir share consume ...`.
#[derive(Debug, Args)]
struct ConsumeArgs {
    /// Share group id.
    #[arg(long)]
    group: String,
    /// Topic.
    #[arg(long)]
    topic: String,
    /// Acknowledge type for every record.
    #[arg(long, value_enum, default_value = "accept")]
    ack: Ack,
    /// Stop after this many records.
    #[arg(long = "max-messages")]
    max_messages: Option<usize>,
    /// Stop after this long without a record, in milliseconds (0 = never).
    #[arg(long = "idle-timeout-ms", default_value_t = 5_000)]
    idle_timeout_ms: u64,
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Run `weir share ...`.
pub fn run(args: ShareArgs) -> Result<(), String> {
    match args.command {
        ShareCommand::Consume(c) => consume(&args.bootstrap, &c),
    }
}

/// (topic id, partition → leader address).
fn metadata(bootstrap: &str, topic: &str) -> Result<(uuid::Uuid, BTreeMap<i32, String>), String> {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(s(topic)));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let resp: MetadataResponse = call(bootstrap, ApiKey::Metadata, 12, &req)?;
    let brokers: HashMap<i32, String> = resp
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
        .collect();
    let t = resp.topics.first().ok_or("no topic metadata")?;
    if t.error_code != 0 {
        return Err(failed(&format!("topic {topic}"), t.error_code, None));
    }
    let leaders = t
        .partitions
        .iter()
        .filter_map(|p| {
            brokers
                .get(&p.leader_id.0)
                .map(|a| (p.partition_index, a.clone()))
        })
        .collect();
    Ok((t.topic_id, leaders))
}

/// The `host:port` of `group`'s coordinator (FindCoordinator, group key), retried for 5 s.
pub(crate) fn coordinator(bootstrap: &str, group: &str) -> Result<String, String> {
    let mut req = FindCoordinatorRequest::default();
    req.key_type = 0;
    req.coordinator_keys = vec![s(group)];
    for _ in 0..50 {
        let resp: FindCoordinatorResponse = call(bootstrap, ApiKey::FindCoordinator, 4, &req)?;
        let c = resp.coordinators.first().ok_or("no coordinator")?;
        if c.error_code == 0 {
            return Ok(format!("{}:{}", c.host, c.port));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("no coordinator for share group {group}"))
}

struct Member {
    coordinator: String,
    group: String,
    id: String,
    epoch: i32,
    topic: String,
    assigned: Vec<i32>,
    last_heartbeat: Instant,
    interval: Duration,
}

impl Member {
    fn heartbeat(&mut self, epoch: i32) -> Result<(), String> {
        let mut req = ShareGroupHeartbeatRequest::default();
        req.group_id = GroupId(s(&self.group));
        req.member_id = s(&self.id);
        req.member_epoch = epoch;
        if epoch == 0 {
            req.subscribed_topic_names = Some(vec![TopicName(s(&self.topic))]);
        }
        let resp: ShareGroupHeartbeatResponse =
            call(&self.coordinator, ApiKey::ShareGroupHeartbeat, 1, &req)?;
        self.last_heartbeat = Instant::now();
        if resp.error_code != 0 {
            return Err(failed(
                "ShareGroupHeartbeat",
                resp.error_code,
                resp.error_message.as_ref(),
            ));
        }
        self.epoch = resp.member_epoch;
        self.interval =
            Duration::from_millis(u64::try_from(resp.heartbeat_interval_ms).unwrap_or(5000));
        if let Some(a) = resp.assignment {
            self.assigned = a
                .topic_partitions
                .into_iter()
                .flat_map(|t| t.partitions)
                .collect();
        }
        Ok(())
    }
}

fn consume(bootstrap: &str, a: &ConsumeArgs) -> Result<(), String> {
    let stop = super::stop_on_signal();
    let (topic_id, leaders) = metadata(bootstrap, &a.topic)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut m = Member {
        coordinator: coordinator(bootstrap, &a.group)?,
        group: a.group.clone(),
        id: format!("weir-cli-{}-{nanos:x}", std::process::id()),
        epoch: 0,
        topic: a.topic.clone(),
        assigned: Vec::new(),
        last_heartbeat: Instant::now(),
        interval: Duration::from_secs(5),
    };
    m.heartbeat(0)?;
    let ack_type: i8 = match a.ack {
        Ack::Accept => 1,
        Ack::Release => 2,
        Ack::Reject => 3,
    };
    // Per leader: the share session epoch and the acknowledgements to send.
    let mut sessions: HashMap<String, i32> = HashMap::new();
    let mut pending: HashMap<String, Vec<(i32, i64)>> = HashMap::new();
    let (mut printed, mut last_record) = (0usize, Instant::now());
    let idle = Duration::from_millis(a.idle_timeout_ms);
    loop {
        let done = stop.load(Ordering::SeqCst)
            || a.max_messages.is_some_and(|n| printed >= n)
            || (!idle.is_zero() && last_record.elapsed() >= idle);
        if done {
            break;
        }
        if m.last_heartbeat.elapsed() >= m.interval {
            m.heartbeat(m.epoch)?;
        }
        let mut by_leader: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for p in &m.assigned {
            if let Some(l) = leaders.get(p) {
                by_leader.entry(l.clone()).or_default().push(*p);
            }
        }
        if by_leader.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
            m.heartbeat(m.epoch)?;
            continue;
        }
        for (leader, parts) in by_leader {
            let epoch = sessions.get(&leader).copied().unwrap_or(0);
            let acks = pending.remove(&leader).unwrap_or_default();
            let mut t = FetchTopic::default();
            t.topic_id = topic_id;
            t.partitions = parts
                .iter()
                .map(|&p| {
                    let mut fp = FetchPartition::default();
                    fp.partition_index = p;
                    fp.partition_max_bytes = 1 << 20;
                    fp.acknowledgement_batches = acks
                        .iter()
                        .filter(|(ap, _)| *ap == p)
                        .map(|&(_, o)| {
                            let mut b = AcknowledgementBatch::default();
                            b.first_offset = o;
                            b.last_offset = o;
                            b.acknowledge_types = vec![ack_type];
                            b
                        })
                        .collect();
                    fp
                })
                .collect();
            let mut req = ShareFetchRequest::default();
            req.group_id = Some(GroupId(s(&a.group)));
            req.member_id = Some(s(&m.id));
            req.share_session_epoch = epoch;
            req.max_wait_ms = 500;
            req.min_bytes = 1;
            req.max_bytes = 1 << 20;
            req.max_records = 100;
            req.batch_size = 100;
            req.topics = vec![t];
            let resp: ShareFetchResponse = call(&leader, ApiKey::ShareFetch, 1, &req)?;
            if resp.error_code != 0 {
                sessions.remove(&leader);
                eprintln!(
                    "{}",
                    failed("ShareFetch", resp.error_code, resp.error_message.as_ref())
                );
                continue;
            }
            sessions.insert(
                leader.clone(),
                if epoch == i32::MAX { 1 } else { epoch + 1 },
            );
            for tr in resp.responses {
                for pd in tr.partitions {
                    if pd.acknowledge_error_code != 0 {
                        eprintln!(
                            "{}",
                            failed(
                                "acknowledge",
                                pd.acknowledge_error_code,
                                pd.acknowledge_error_message.as_ref()
                            )
                        );
                    }
                    if pd.error_code != 0 {
                        eprintln!(
                            "{}",
                            failed(
                                &format!("partition {}", pd.partition_index),
                                pd.error_code,
                                pd.error_message.as_ref()
                            )
                        );
                        continue;
                    }
                    let Some(mut bytes) = pd.records else {
                        continue;
                    };
                    let sets = RecordBatchDecoder::decode_all(&mut bytes)
                        .map_err(|e| format!("records of partition {}: {e}", pd.partition_index))?;
                    for r in sets.into_iter().flat_map(|set| set.records) {
                        let Some(range) = pd
                            .acquired_records
                            .iter()
                            .find(|x| x.first_offset <= r.offset && r.offset <= x.last_offset)
                        else {
                            continue;
                        };
                        let value = r
                            .value
                            .as_deref()
                            .map(String::from_utf8_lossy)
                            .unwrap_or_default();
                        println!(
                            "{}/{} (delivery {}): {value}",
                            pd.partition_index, r.offset, range.delivery_count
                        );
                        pending
                            .entry(leader.clone())
                            .or_default()
                            .push((pd.partition_index, r.offset));
                        printed += 1;
                        last_record = Instant::now();
                    }
                }
            }
        }
    }
    // Acknowledge what is left and close every share session, then leave the group.
    for leader in sessions.into_keys() {
        let acks = pending.remove(&leader).unwrap_or_default();
        let mut parts: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for (p, o) in acks {
            parts.entry(p).or_default().push(o);
        }
        let mut t = AcknowledgeTopic::default();
        t.topic_id = topic_id;
        t.partitions = parts
            .into_iter()
            .map(|(p, offsets)| {
                let mut ap = AcknowledgePartition::default();
                ap.partition_index = p;
                ap.acknowledgement_batches = offsets
                    .into_iter()
                    .map(|o| {
                        let mut b = AckBatch2::default();
                        b.first_offset = o;
                        b.last_offset = o;
                        b.acknowledge_types = vec![ack_type];
                        b
                    })
                    .collect();
                ap
            })
            .collect();
        let mut req = ShareAcknowledgeRequest::default();
        req.group_id = Some(GroupId(s(&a.group)));
        req.member_id = Some(s(&m.id));
        req.share_session_epoch = -1;
        req.topics = if t.partitions.is_empty() {
            Vec::new()
        } else {
            vec![t]
        };
        let resp: ShareAcknowledgeResponse = call(&leader, ApiKey::ShareAcknowledge, 1, &req)?;
        for pd in resp.responses.iter().flat_map(|t| t.partitions.iter()) {
            if pd.error_code != 0 {
                eprintln!(
                    "{}",
                    failed("acknowledge", pd.error_code, pd.error_message.as_ref())
                );
            }
        }
    }
    m.heartbeat(-1)
}
