//! `weir records delete <topic> --before OFFSET`: DeleteRecords (moves the log start offset).

use clap::{Args, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::admin::{block_on, client, client_error, failed, options, TIMEOUT};

/// `weir records ...`.
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// Bootstrap server.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    bootstrap: String,
    #[command(subcommand)]
    command: RecordsCommand,
}

#[derive(Debug, Subcommand)]
enum RecordsCommand {
    /// Delete every record below an offset (all partitions unless --partition).
    Delete {
        /// Topic.
        topic: String,
        /// New log start offset; -1 = the high watermark (delete everything).
        #[arg(long, allow_hyphen_values = true)]
        before: i64,
        /// Only this partition.
        #[arg(long)]
        partition: Option<i32>,
    },
}

/// Run `weir records ...`; prints the new log start offset of each partition.
pub fn run(args: RecordsArgs) -> Result<(), String> {
    super::admin::ensure_reachable(&args.bootstrap)?;
    let RecordsCommand::Delete {
        topic,
        before,
        partition,
    } = args.command;
    let partitions: Vec<i32> = match partition {
        Some(p) => vec![p],
        None => {
            let c: BaseConsumer = crate::cli::client_security::client_config()
                .set("bootstrap.servers", &args.bootstrap)
                .set("log_level", "3")
                .create()
                .map_err(|e| client_error("connect", e))?;
            let md = c
                .fetch_metadata(Some(&topic), TIMEOUT)
                .map_err(|e| client_error("metadata", e))?;
            let t = md
                .topics()
                .iter()
                .find(|t| t.name() == topic)
                .ok_or("topic not in metadata")?;
            if let Some(code) = t.error() {
                return Err(failed(&format!("delete records of {topic}"), code.into()));
            }
            t.partitions().iter().map(|p| p.id()).collect()
        }
    };
    let mut tpl = TopicPartitionList::new();
    let offset = if before < 0 {
        Offset::End
    } else {
        Offset::Offset(before)
    };
    for p in &partitions {
        tpl.add_partition_offset(&topic, *p, offset)
            .map_err(|e| client_error("delete records", e))?;
    }
    let admin = client(&args.bootstrap)?;
    let res = block_on(admin.delete_records(&tpl, &options()))?
        .map_err(|e| client_error(&format!("delete records of {topic}"), e))?;
    for e in res.elements() {
        if let Err(err) = e.error() {
            return Err(client_error(
                &format!("delete records of {topic}-{}", e.partition()),
                err,
            ));
        }
        let low = match e.offset() {
            Offset::Offset(o) => o.to_string(),
            other => format!("{other:?}"),
        };
        println!("{topic}-{}: log start offset {low}", e.partition());
    }
    Ok(())
}
