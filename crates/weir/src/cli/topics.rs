//! `weir topics list|create|describe|alter|delete|reassign|reassignments` against any
//! Kafka-compatible bootstrap.

use clap::{Args, Subcommand};
use rdkafka::admin::{NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::admin::{block_on, client, client_error, failed, options, TIMEOUT};
use super::configs::parse_pairs;

/// `weir topics ...`.
#[derive(Debug, Args)]
pub struct TopicsArgs {
    /// Bootstrap server.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    bootstrap: String,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: TopicsCommand,
}

#[derive(Debug, Subcommand)]
enum TopicsCommand {
    /// List topic names.
    List,
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Number of partitions (-1 = broker default).
        #[arg(long, default_value_t = -1)]
        partitions: i32,
        /// Replication factor (-1 = broker default).
        #[arg(long = "replication-factor", default_value_t = -1)]
        replication_factor: i32,
        /// Topic config `key=value` (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// Partitions (leader, replicas, ISR, log start/end offsets) and configs with their source.
    Describe {
        /// Topic name.
        name: String,
    },
    /// Set topic configs (others keep their current overrides).
    Alter {
        /// Topic name.
        name: String,
        /// Topic config `key=value` to set (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
        /// Topic config override to remove (repeatable).
        #[arg(long = "delete-config", value_name = "KEY")]
        delete: Vec<String>,
    },
    /// Delete a topic.
    Delete {
        /// Topic name.
        name: String,
    },
    /// Move a partition to other brokers (KIP-455): start a reassignment to `--replicas`, or
    /// `--cancel` the one in progress. Writes continue while new replicas catch up.
    Reassign {
        /// Topic name.
        name: String,
        /// Partition.
        #[arg(long)]
        partition: i32,
        /// Target replica broker ids, preferred leader first (e.g. `3,4`).
        #[arg(long, value_delimiter = ',', required_unless_present = "cancel")]
        replicas: Vec<i32>,
        /// Cancel the reassignment in progress (back to the original replicas).
        #[arg(long, conflicts_with = "replicas")]
        cancel: bool,
    },
    /// Reassignments in progress: replicas, adding and removing replicas.
    Reassignments,
}

/// Run `weir topics ...`.
pub fn run(args: TopicsArgs) -> Result<(), String> {
    let bs = args.bootstrap.as_str();
    super::admin::ensure_reachable(bs)?;
    match args.command {
        TopicsCommand::List => {
            let admin = client(bs)?;
            let md = admin
                .inner()
                .fetch_metadata(None, TIMEOUT)
                .map_err(|e| client_error("list topics", e))?;
            let mut names: Vec<&str> = md.topics().iter().map(|t| t.name()).collect();
            names.sort_unstable();
            if args.json {
                println!("{}", serde_json::json!(names));
            } else {
                names.iter().for_each(|n| println!("{n}"));
            }
        }
        TopicsCommand::Create {
            name,
            partitions,
            replication_factor,
            configs,
        } => {
            let pairs = parse_pairs(&configs)?;
            let mut t = NewTopic::new(
                &name,
                partitions,
                TopicReplication::Fixed(replication_factor),
            );
            for (k, v) in &pairs {
                t = t.set(k, v);
            }
            let admin = client(bs)?;
            for r in block_on(admin.create_topics([&t], &options()))?
                .map_err(|e| client_error("create topic", e))?
            {
                r.map_err(|(t, code)| failed(&format!("create topic {t}"), code))?;
            }
            println!("created topic {name}");
        }
        TopicsCommand::Describe { name } => describe(bs, &name, args.json)?,
        TopicsCommand::Alter {
            name,
            configs,
            delete,
        } => {
            super::configs::alter_topic(bs, &name, &parse_pairs(&configs)?, &delete)?;
            println!("altered topic {name}");
        }
        TopicsCommand::Delete { name } => {
            let admin = client(bs)?;
            for r in block_on(admin.delete_topics(&[name.as_str()], &options()))?
                .map_err(|e| client_error("delete topic", e))?
            {
                r.map_err(|(t, code)| failed(&format!("delete topic {t}"), code))?;
            }
            println!("deleted topic {name}");
        }
        TopicsCommand::Reassign {
            name,
            partition,
            replicas,
            cancel,
        } => {
            let target = (!cancel).then_some(replicas.as_slice());
            super::reassign::reassign(bs, &name, partition, target)?;
        }
        TopicsCommand::Reassignments => super::reassign::list(bs, args.json)?,
    }
    Ok(())
}

fn describe(bs: &str, name: &str, json: bool) -> Result<(), String> {
    let consumer: BaseConsumer = crate::cli::client_security::client_config()
        .set("bootstrap.servers", bs)
        .set("log_level", "3")
        .create()
        .map_err(|e| client_error("connect", e))?;
    let md = consumer
        .fetch_metadata(Some(name), TIMEOUT)
        .map_err(|e| client_error(&format!("describe topic {name}"), e))?;
    let topic = md
        .topics()
        .iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| format!("describe topic {name}: not in metadata"))?;
    if let Some(code) = topic.error() {
        return Err(failed(&format!("describe topic {name}"), code.into()));
    }
    let mut parts = Vec::new();
    for p in topic.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(name, p.id(), TIMEOUT)
            .map_err(|e| client_error(&format!("offsets of {name}-{}", p.id()), e))?;
        parts.push((
            p.id(),
            p.leader(),
            p.replicas().to_vec(),
            p.isr().to_vec(),
            low,
            high,
        ));
    }
    let configs = super::configs::describe(bs, ResourceSpecifier::Topic(name))?;
    if json {
        let v = serde_json::json!({
            "topic": name,
            "partitions": parts.iter().map(|(id, leader, replicas, isr, low, high)| serde_json::json!({
                "partition": id, "leader": leader, "replicas": replicas, "isr": isr,
                "log_start_offset": low, "log_end_offset": high,
            })).collect::<Vec<_>>(),
            "configs": configs.iter().map(|(k, v, s)| serde_json::json!({"name": k, "value": v, "source": s})).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    println!("Topic: {name}  PartitionCount: {}", parts.len());
    println!(
        "{:>9}  {:>6}  {:<10}  {:<10}  {:>16}  {:>14}",
        "Partition", "Leader", "Replicas", "Isr", "LogStartOffset", "LogEndOffset"
    );
    for (id, leader, replicas, isr, low, high) in &parts {
        let list = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
        println!(
            "{id:>9}  {leader:>6}  {:<10}  {:<10}  {low:>16}  {high:>14}",
            list(replicas),
            list(isr)
        );
    }
    println!("Configs:");
    for (k, v, s) in &configs {
        println!("  {k}={v}  ({s})");
    }
    Ok(())
}
