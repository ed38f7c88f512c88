//! `weir log-dirs describe|move`: the log dirs of brokers (DescribeLogDirs, like Kafka's
//! `kafka-log-dirs.sh --describe`) and moving a replica between the log dirs of its broker
//! (AlterReplicaLogDirs), over plain connections with Weir's codec.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
};
use kafka_protocol::messages::describe_log_dirs_response::DescribeLogDirsResult;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse, ApiKey, DescribeLogDirsRequest,
    DescribeLogDirsResponse, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::raw::{call, code_name, failed};

/// How long `log-dirs move` waits for the replica to show up in its new dir.
const MOVE_TIMEOUT: Duration = Duration::from_secs(120);

/// `weir log-dirs ...`.
#[derive(Debug, Args)]
pub struct LogDirsArgs {
    #[command(flatten)]
    bootstrap: super::admin::Bootstrap,
    #[command(subcommand)]
    command: LogDirsCommand,
}

#[derive(Debug, Subcommand)]
enum LogDirsCommand {
    /// Every log dir of every broker (or of --broker): state, partitions, sizes, offset lag,
    /// usable and total bytes.
    Describe {
        /// Only this broker.
        #[arg(long)]
        broker: Option<i32>,
        /// Only this topic's partitions.
        #[arg(long)]
        topic: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Move a replica into another log dir of its broker (online) and wait until it is there.
    Move {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Partition.
        #[arg(long)]
        partition: i32,
        /// Destination log dir, as the broker names it (an entry of its `log.dirs`).
        #[arg(long)]
        dir: String,
        /// The broker whose replica moves (default: the partition's leader).
        #[arg(long)]
        broker: Option<i32>,
    },
}

/// Run `weir log-dirs`.
pub fn run(args: LogDirsArgs) -> Result<(), String> {
    let bootstrap = args.bootstrap.server;
    match args.command {
        LogDirsCommand::Describe {
            broker,
            topic,
            json,
        } => describe(&bootstrap, broker, topic.as_deref(), json),
        LogDirsCommand::Move {
            topic,
            partition,
            dir,
            broker,
        } => move_replica(&bootstrap, &topic, partition, &dir, broker),
    }
}

/// Brokers (id, `host:port`) and, for a topic, each partition's leader (partition, leader).
type Cluster = (Vec<(i32, String)>, Vec<(i32, i32)>);

/// Brokers (id, `host:port`) and, for `topic`, each partition's leader.
fn metadata(bootstrap: &str, topic: Option<&str>) -> Result<Cluster, String> {
    let mut req = MetadataRequest::default();
    req.topics = topic.map(|t| {
        let mut mt = MetadataRequestTopic::default();
        mt.name = Some(TopicName(StrBytes::from_string(t.to_string())));
        vec![mt]
    });
    req.allow_auto_topic_creation = false;
    let resp: MetadataResponse = call(bootstrap, ApiKey::Metadata, 12, &req)?;
    let mut brokers: Vec<(i32, String)> = resp
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
        .collect();
    brokers.sort();
    let mut leaders = Vec::new();
    if let Some(name) = topic {
        match resp.topics.first() {
            Some(t) if t.error_code == 0 => {
                leaders = t
                    .partitions
                    .iter()
                    .map(|p| (p.partition_index, p.leader_id.0))
                    .collect();
            }
            Some(t) => return Err(failed(&format!("topic {name}"), t.error_code, None)),
            None => return Err(format!("topic {name}: no metadata")),
        }
    }
    Ok((brokers, leaders))
}

fn address(brokers: &[(i32, String)], id: i32) -> Result<&str, String> {
    brokers
        .iter()
        .find(|(b, _)| *b == id)
        .map(|(_, a)| a.as_str())
        .ok_or_else(|| format!("broker {id} is not in the cluster's metadata"))
}

/// The log dirs of the broker at `addr`, keeping only `topic`'s partitions when given.
fn describe_broker(addr: &str, topic: Option<&str>) -> Result<Vec<DescribeLogDirsResult>, String> {
    let mut req = DescribeLogDirsRequest::default();
    req.topics = None;
    let resp: DescribeLogDirsResponse = call(addr, ApiKey::DescribeLogDirs, 4, &req)?;
    if resp.error_code != 0 {
        return Err(failed("describe log dirs", resp.error_code, None));
    }
    let mut dirs = resp.results;
    if let Some(t) = topic {
        for d in &mut dirs {
            d.topics.retain(|x| x.name.0.as_str() == t);
        }
    }
    Ok(dirs)
}

fn describe(
    bootstrap: &str,
    broker: Option<i32>,
    topic: Option<&str>,
    json: bool,
) -> Result<(), String> {
    let (brokers, _) = metadata(bootstrap, None)?;
    let ids: Vec<i32> = match broker {
        Some(b) => vec![b],
        None => brokers.iter().map(|(b, _)| *b).collect(),
    };
    let mut all = Vec::new();
    for id in ids {
        all.push((id, describe_broker(address(&brokers, id)?, topic)?));
    }
    if json {
        let out: Vec<serde_json::Value> = all
            .iter()
            .map(|(id, dirs)| {
                let dirs: Vec<serde_json::Value> = dirs
                    .iter()
                    .map(|d| {
                        let parts: Vec<serde_json::Value> = d
                            .topics
                            .iter()
                            .flat_map(|t| {
                                t.partitions.iter().map(move |p| {
                                    serde_json::json!({
                                        "topic": t.name.0.as_str(),
                                        "partition": p.partition_index,
                                        "size": p.partition_size,
                                        "offset_lag": p.offset_lag,
                                        "is_future": p.is_future_key,
                                    })
                                })
                            })
                            .collect();
                        serde_json::json!({
                            "log_dir": d.log_dir.as_str(),
                            "error": (d.error_code != 0).then(|| code_name(d.error_code)),
                            "total_bytes": d.total_bytes,
                            "usable_bytes": d.usable_bytes,
                            "partitions": parts,
                        })
                    })
                    .collect();
                serde_json::json!({"broker": id, "log_dirs": dirs})
            })
            .collect();
        println!("{}", serde_json::Value::Array(out));
        return Ok(());
    }
    println!(
        "{:<6}  {:<40}  {:<24}  {:>14}  {:>14}  Partitions",
        "Broker", "Log dir", "State", "Usable bytes", "Total bytes"
    );
    for (id, dirs) in &all {
        for d in dirs {
            let state = match d.error_code {
                0 => "online".to_string(),
                c => code_name(c),
            };
            let count: usize = d.topics.iter().map(|t| t.partitions.len()).sum();
            println!(
                "{id:<6}  {:<40}  {state:<24}  {:>14}  {:>14}  {count}",
                d.log_dir.as_str(),
                d.usable_bytes,
                d.total_bytes
            );
        }
    }
    println!();
    println!(
        "{:<6}  {:<40}  {:<30}  {:>14}  {:>10}",
        "Broker", "Log dir", "Partition", "Size bytes", "Offset lag"
    );
    for (id, dirs) in &all {
        for d in dirs {
            for t in &d.topics {
                for p in &t.partitions {
                    println!(
                        "{id:<6}  {:<40}  {:<30}  {:>14}  {:>10}",
                        d.log_dir.as_str(),
                        format!("{}-{}", t.name.0.as_str(), p.partition_index),
                        p.partition_size,
                        p.offset_lag
                    );
                }
            }
        }
    }
    Ok(())
}

/// The log dir of `topic`-`partition` on the broker at `addr`, if it has it.
fn dir_of(addr: &str, topic: &str, partition: i32) -> Result<Option<String>, String> {
    let dirs = describe_broker(addr, Some(topic))?;
    Ok(dirs
        .iter()
        .find(|d| {
            d.topics.iter().any(|t| {
                t.name.0.as_str() == topic
                    && t.partitions
                        .iter()
                        .any(|p| p.partition_index == partition && !p.is_future_key)
            })
        })
        .map(|d| d.log_dir.to_string()))
}

fn move_replica(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    dir: &str,
    broker: Option<i32>,
) -> Result<(), String> {
    let (brokers, leaders) = metadata(bootstrap, Some(topic))?;
    let id = match broker {
        Some(b) => b,
        None => leaders
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, l)| *l)
            .filter(|l| *l >= 0)
            .ok_or_else(|| format!("{topic}-{partition} has no leader; name the --broker"))?,
    };
    let addr = address(&brokers, id)?;
    let mut t = AlterReplicaLogDirTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![partition];
    let mut d = AlterReplicaLogDir::default();
    d.path = StrBytes::from_string(dir.to_string());
    d.topics = vec![t];
    let mut req = AlterReplicaLogDirsRequest::default();
    req.dirs = vec![d];
    let resp: AlterReplicaLogDirsResponse = call(addr, ApiKey::AlterReplicaLogDirs, 2, &req)?;
    let name = format!("{topic}-{partition} on broker {id}");
    for r in resp.results.iter().flat_map(|t| t.partitions.iter()) {
        if r.error_code != 0 {
            return Err(failed(&name, r.error_code, None));
        }
    }
    let deadline = Instant::now() + MOVE_TIMEOUT;
    loop {
        let now_in = dir_of(addr, topic, partition)?;
        if now_in.as_deref().is_some_and(|d| same_dir(d, dir)) {
            println!("{name}: now in {dir}");
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name}: still in {} after {}s (see the broker's log)",
                now_in.unwrap_or_else(|| "no dir".into()),
                MOVE_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The broker answers absolute paths; the operator may have given a trailing slash.
fn same_dir(answered: &str, given: &str) -> bool {
    answered.trim_end_matches('/') == given.trim_end_matches('/')
        || answered.ends_with(&format!("/{}", given.trim_start_matches("./")))
}
