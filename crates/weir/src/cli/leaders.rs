//! `weir leaders elect --preferred|--unclean`: leader elections through ElectLeaders (like
//! Kafka's `kafka-leader-election.sh`), over a plain connection with Weir's codec.

use clap::{Args, Subcommand};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ElectLeadersRequest, ElectLeadersResponse, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::admin::TIMEOUT;
use super::raw::{call, failed};

/// `weir leaders ...`.
#[derive(Debug, Args)]
pub struct LeadersArgs {
    #[command(flatten)]
    bootstrap: super::admin::Bootstrap,
    #[command(subcommand)]
    command: LeadersCommand,
}

#[derive(Debug, Subcommand)]
enum LeadersCommand {
    /// Elect leaders: with --preferred the first replica leads again where it is live and in
    /// the ISR; with --unclean a partition without a leader gets any live replica (records only
    /// the lost ISR held may be gone). Without --topic, every partition.
    Elect {
        /// Preferred-replica election.
        #[arg(long, conflicts_with = "unclean", required_unless_present = "unclean")]
        preferred: bool,
        /// Unclean election of leaderless partitions.
        #[arg(long)]
        unclean: bool,
        /// Only this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Only this partition of --topic.
        #[arg(long, requires = "topic")]
        partition: Option<i32>,
    },
}

/// Run `weir leaders`.
pub fn run(args: LeadersArgs) -> Result<(), String> {
    match args.command {
        LeadersCommand::Elect {
            preferred: _,
            unclean,
            topic,
            partition,
        } => elect(&args.bootstrap.server, unclean, topic, partition),
    }
}

fn elect(
    bootstrap: &str,
    unclean: bool,
    topic: Option<String>,
    partition: Option<i32>,
) -> Result<(), String> {
    let mut req = ElectLeadersRequest::default();
    req.election_type = i8::from(unclean);
    req.timeout_ms = TIMEOUT.as_millis() as i32;
    if let Some(t) = &topic {
        let partitions = match partition {
            Some(p) => vec![p],
            None => (0..partition_count(bootstrap, t)?).collect(),
        };
        let mut tp = TopicPartitions::default();
        tp.topic = TopicName(StrBytes::from_string(t.clone()));
        tp.partitions = partitions;
        req.topic_partitions = Some(vec![tp]);
    }
    let resp: ElectLeadersResponse = call(bootstrap, ApiKey::ElectLeaders, 2, &req)?;
    if resp.error_code != 0 {
        return Err(failed("elect leaders", resp.error_code, None));
    }
    let mut errors = 0;
    let mut elected = 0;
    for t in &resp.replica_election_results {
        for p in &t.partition_result {
            let name = format!("{}-{}", t.topic.0, p.partition_id);
            match p.error_code {
                0 => {
                    elected += 1;
                    println!("{name}: leader elected");
                }
                // ELECTION_NOT_NEEDED: not a failure, as in kafka-leader-election.sh.
                84 => println!("{name}: election not needed"),
                code => {
                    errors += 1;
                    eprintln!("{}", failed(&name, code, p.error_message.as_ref()));
                }
            }
        }
    }
    if resp
        .replica_election_results
        .iter()
        .all(|t| t.partition_result.is_empty())
    {
        println!("no partition needed an election");
    }
    if errors > 0 {
        return Err(format!("{errors} partition(s) failed ({elected} elected)"));
    }
    Ok(())
}

/// The number of partitions of `topic` (Metadata v12, no auto-creation).
fn partition_count(bootstrap: &str, topic: &str) -> Result<i32, String> {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_string(topic.to_string())));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = false;
    let resp: MetadataResponse = call(bootstrap, ApiKey::Metadata, 12, &req)?;
    match resp.topics.first() {
        Some(t) if t.error_code == 0 => Ok(t.partitions.len() as i32),
        Some(t) => Err(failed(&format!("topic {topic}"), t.error_code, None)),
        None => Err(format!("topic {topic}: no metadata")),
    }
}
