//! `weir transactions list|describe|find-hanging|abort`: the transactional state of a cluster,
//! with the semantics and output of Kafka's `kafka-transactions.sh` (KIP-664). librdkafka has no
//! admin calls for these, so every request goes over a plain connection with Weir's codec.

pub mod cluster;
pub mod hanging;
pub mod table;

use clap::{Args, Subcommand};

use self::cluster::{AbortSpec, Cluster};
use super::raw::failed;

/// `weir transactions ...`.
#[derive(Debug, Args)]
pub struct TransactionsArgs {
    /// Bootstrap server(s), `host:port[,host:port…]`.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    bootstrap: String,
    #[command(subcommand)]
    command: TransactionsCommand,
}

#[derive(Debug, Subcommand)]
enum TransactionsCommand {
    /// List the transactional ids every broker coordinates (ListTransactions to each broker).
    List,
    /// The state of one transactional id at its coordinator: producer id and epoch, timeout,
    /// start time and the partitions of the transaction in progress.
    Describe {
        /// Transactional id.
        #[arg(long = "transactional-id", value_name = "ID")]
        transactional_id: Option<String>,
        /// Transactional id (instead of --transactional-id).
        #[arg(value_name = "ID", conflicts_with = "transactional_id")]
        id: Option<String>,
    },
    /// Find open transactions that no coordinator will ever complete (a producer's write that
    /// reached a partition after its transaction ended), on one broker's partitions or a topic's.
    FindHanging {
        /// Search the partitions this broker holds a replica of.
        #[arg(long = "broker-id")]
        broker_id: Option<i32>,
        /// Search this topic's partitions (led anywhere) instead, or only those on --broker-id.
        #[arg(long)]
        topic: Option<String>,
        /// Only this partition of --topic.
        #[arg(long)]
        partition: Option<i32>,
        /// Largest transaction timeout in the cluster, in minutes: only transactions whose
        /// producer wrote nothing for longer are examined.
        #[arg(long = "max-transaction-timeout", default_value_t = 15)]
        max_transaction_timeout: i64,
    },
    /// Abort a hanging transaction on one partition: write an ABORT marker for the producer whose
    /// open transaction starts at --start-offset (WriteTxnMarkers to the partition's leader).
    Abort {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Partition.
        #[arg(long)]
        partition: i32,
        /// First offset of the transaction to abort (as `find-hanging` prints it).
        #[arg(long = "start-offset", required_unless_present = "producer_id")]
        start_offset: Option<i64>,
        /// Producer id of the transaction (instead of --start-offset; needs --producer-epoch and
        /// --coordinator-epoch).
        #[arg(
            long = "producer-id",
            conflicts_with = "start_offset",
            requires_all = ["producer_epoch", "coordinator_epoch"]
        )]
        producer_id: Option<i64>,
        /// Producer epoch (with --producer-id).
        #[arg(long = "producer-epoch")]
        producer_epoch: Option<i16>,
        /// Coordinator epoch (with --producer-id; negative values become 0, as in Kafka).
        #[arg(long = "coordinator-epoch", allow_hyphen_values = true)]
        coordinator_epoch: Option<i32>,
    },
}

/// Run `weir transactions`.
pub fn run(args: TransactionsArgs) -> Result<(), String> {
    let b = args.bootstrap.as_str();
    match args.command {
        TransactionsCommand::List => list(b),
        TransactionsCommand::Describe {
            transactional_id,
            id,
        } => {
            let id = transactional_id
                .or(id)
                .ok_or("describe: give the transactional id (--transactional-id ID)")?;
            describe(b, &id)
        }
        TransactionsCommand::FindHanging {
            broker_id,
            topic,
            partition,
            max_transaction_timeout,
        } => hanging::run(
            b,
            broker_id,
            topic.as_deref(),
            partition,
            max_transaction_timeout,
        ),
        TransactionsCommand::Abort {
            topic,
            partition,
            start_offset,
            producer_id,
            producer_epoch,
            coordinator_epoch,
        } => {
            let tp = (topic, partition);
            let cluster = Cluster::fetch(b)?;
            let spec = match (start_offset, producer_id, producer_epoch, coordinator_epoch) {
                (Some(o), ..) => abort_spec(&cluster, &tp, o)?,
                (None, Some(pid), Some(epoch), Some(ce)) => AbortSpec {
                    tp,
                    producer_id: pid,
                    producer_epoch: epoch,
                    coordinator_epoch: ce.max(0),
                },
                _ => {
                    return Err("abort: give --start-offset, or --producer-id with \
                                --producer-epoch and --coordinator-epoch"
                        .into())
                }
            };
            abort(&cluster, &spec)
        }
    }
}

/// Headers of `list`, as Kafka's tool prints them.
pub const LIST_HEADERS: [&str; 4] = [
    "TransactionalId",
    "Coordinator",
    "ProducerId",
    "TransactionState",
];

/// `weir transactions list`: ListTransactions to every broker in the metadata.
fn list(bootstrap: &str) -> Result<(), String> {
    let cluster = Cluster::fetch(bootstrap)?;
    let mut rows = Vec::new();
    for (id, address) in &cluster.brokers {
        let listings = cluster::list_transactions(address, &[])
            .map_err(|e| format!("list transactions at broker {id}: {e}"))?;
        for l in listings {
            rows.push(vec![
                l.transactional_id.0.to_string(),
                id.to_string(),
                l.producer_id.0.to_string(),
                l.transaction_state.to_string(),
            ]);
        }
    }
    print!("{}", table::render(&LIST_HEADERS, &rows));
    Ok(())
}

/// Headers of `describe`: Kafka's, plus the start time in UTC.
pub const DESCRIBE_HEADERS: [&str; 10] = [
    "CoordinatorId",
    "TransactionalId",
    "ProducerId",
    "ProducerEpoch",
    "TransactionState",
    "TransactionTimeoutMs",
    "CurrentTransactionStartTimeMs",
    "CurrentTransactionStartTime",
    "TransactionDurationMs",
    "TopicPartitions",
];

/// `weir transactions describe`: FindCoordinator (transaction key), then DescribeTransactions to
/// the coordinator.
fn describe(bootstrap: &str, id: &str) -> Result<(), String> {
    let (coordinator, address) = cluster::find_coordinator(bootstrap, id)?;
    let s = cluster::describe_transaction(&address, id)?;
    if s.error_code != 0 {
        return Err(failed(
            &format!("describe transactional id {id} at coordinator {coordinator}"),
            s.error_code,
            None,
        ));
    }
    let (start_ms, start, duration) = if s.transaction_start_time_ms >= 0 {
        (
            s.transaction_start_time_ms.to_string(),
            table::utc(s.transaction_start_time_ms),
            (hanging::now_ms() - s.transaction_start_time_ms).to_string(),
        )
    } else {
        ("None".into(), "None".into(), "None".into())
    };
    let partitions: Vec<String> = s
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| format!("{}-{p}", t.topic.0))
        })
        .collect();
    let row = vec![
        coordinator.to_string(),
        id.to_string(),
        s.producer_id.0.to_string(),
        s.producer_epoch.to_string(),
        s.transaction_state.to_string(),
        s.transaction_timeout_ms.to_string(),
        start_ms,
        start,
        duration,
        partitions.join(","),
    ];
    print!("{}", table::render(&DESCRIBE_HEADERS, &[row]));
    Ok(())
}

/// The producer whose open transaction on `tp` starts at `start_offset` (DescribeProducers to
/// the partition's leader).
fn abort_spec(
    cluster: &Cluster,
    tp: &(String, i32),
    start_offset: i64,
) -> Result<AbortSpec, String> {
    let leader = cluster.partition(tp)?.leader;
    let answers = cluster::describe_producers(cluster.address(leader)?, std::slice::from_ref(tp))
        .map_err(|e| format!("describe producers of {}-{}: {e}", tp.0, tp.1))?;
    let producers = answers
        .into_iter()
        .find(|(t, _)| t == tp)
        .ok_or_else(|| format!("describe producers: no answer for {}-{}", tp.0, tp.1))?
        .1?;
    let p = producers
        .iter()
        .find(|p| p.current_txn_start_offset == start_offset)
        .ok_or_else(|| {
            format!(
                "no open transaction starts at offset {start_offset} on partition {}-{}",
                tp.0, tp.1
            )
        })?;
    Ok(AbortSpec {
        tp: tp.clone(),
        producer_id: p.producer_id.0,
        producer_epoch: p.producer_epoch as i16,
        coordinator_epoch: p.coordinator_epoch.max(0),
    })
}

/// Write the ABORT marker of `spec` at the partition's leader and report its result.
fn abort(cluster: &Cluster, spec: &AbortSpec) -> Result<(), String> {
    let leader = cluster.partition(&spec.tp)?.leader;
    let code = cluster::write_abort_marker(cluster.address(leader)?, spec)?;
    let what = format!(
        "abort the transaction of producer {} (epoch {}, coordinator epoch {}) on {}-{}",
        spec.producer_id, spec.producer_epoch, spec.coordinator_epoch, spec.tp.0, spec.tp.1
    );
    if code != 0 {
        return Err(failed(&what, code, None));
    }
    println!("{what}: NONE (0)");
    Ok(())
}
