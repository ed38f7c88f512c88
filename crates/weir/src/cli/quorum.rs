//! `weir quorum describe|add-voter|remove-voter`: the metadata quorum (like Kafka's
//! `kafka-metadata-quorum.sh describe --status --replication`, `add-controller` and
//! `remove-controller`) through DescribeQuorum, AddRaftVoter and RemoveRaftVoter, over a plain
//! connection with Weir's codec.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use clap::{Args, Subcommand};
use kafka_protocol::messages::add_raft_voter_request::Listener;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::describe_quorum_response::ReplicaState;
use kafka_protocol::messages::{
    AddRaftVoterRequest, AddRaftVoterResponse, ApiKey, BrokerId, DescribeQuorumRequest,
    DescribeQuorumResponse, RemoveRaftVoterRequest, RemoveRaftVoterResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::admin::TIMEOUT;
use super::raw::{call, failed};

/// `weir quorum ...`.
#[derive(Debug, Args)]
pub struct QuorumArgs {
    #[command(flatten)]
    bootstrap: super::admin::Bootstrap,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: QuorumCommand,
}

#[derive(Debug, Subcommand)]
enum QuorumCommand {
    /// The leader, its epoch and high watermark, and each voter's and observer's log end offset,
    /// lag and last fetch.
    Describe,
    /// Make a controller that follows the metadata log as an observer a voter (AddRaftVoter).
    AddVoter {
        /// The controller's node.id.
        #[arg(long)]
        controller_id: i32,
        /// Its metadata directory id (Kafka's base64 form or a UUID; Weir does not check it).
        #[arg(long)]
        controller_directory_id: Option<String>,
        /// Its controller endpoint, `CONTROLLER://host:port` (repeatable).
        #[arg(long = "endpoint", required = true)]
        endpoints: Vec<String>,
    },
    /// Take a controller out of the voter set (RemoveRaftVoter); it stays an observer while it
    /// runs.
    RemoveVoter {
        /// The controller's node.id.
        #[arg(long)]
        controller_id: i32,
        /// Its metadata directory id (Kafka's base64 form or a UUID; Weir does not check it).
        #[arg(long)]
        controller_directory_id: Option<String>,
    },
}

/// Run `weir quorum`.
pub fn run(args: QuorumArgs) -> Result<(), String> {
    let bootstrap = &args.bootstrap.server;
    match args.command {
        QuorumCommand::Describe => describe(bootstrap, args.json),
        QuorumCommand::AddVoter {
            controller_id,
            controller_directory_id,
            endpoints,
        } => {
            let mut req = AddRaftVoterRequest::default();
            req.voter_id = controller_id;
            req.voter_directory_id = directory_id(controller_directory_id.as_deref())?;
            req.timeout_ms = (TIMEOUT.as_millis() as i32).saturating_sub(3_000);
            req.listeners = endpoints
                .iter()
                .map(|e| listener(e))
                .collect::<Result<_, _>>()?;
            let resp: AddRaftVoterResponse = call(bootstrap, ApiKey::AddRaftVoter, 0, &req)?;
            if resp.error_code != 0 {
                return Err(failed(
                    &format!("add voter {controller_id}"),
                    resp.error_code,
                    resp.error_message.as_ref(),
                ));
            }
            done(args.json, "added", controller_id);
            Ok(())
        }
        QuorumCommand::RemoveVoter {
            controller_id,
            controller_directory_id,
        } => {
            let mut req = RemoveRaftVoterRequest::default();
            req.voter_id = controller_id;
            req.voter_directory_id = directory_id(controller_directory_id.as_deref())?;
            let resp: RemoveRaftVoterResponse = call(bootstrap, ApiKey::RemoveRaftVoter, 0, &req)?;
            if resp.error_code != 0 {
                return Err(failed(
                    &format!("remove voter {controller_id}"),
                    resp.error_code,
                    resp.error_message.as_ref(),
                ));
            }
            done(args.json, "removed", controller_id);
            Ok(())
        }
    }
}

fn done(json: bool, what: &str, id: i32) {
    if json {
        println!("{}", serde_json::json!({ what: id }));
    } else {
        println!("voter {id} {what}");
    }
}

/// A directory id in Kafka's form (22 characters of unpadded URL-safe base64) or as a UUID; the
/// zero id when not given.
fn directory_id(s: Option<&str>) -> Result<uuid::Uuid, String> {
    let Some(s) = s else {
        return Ok(uuid::Uuid::nil());
    };
    if let Ok(u) = uuid::Uuid::parse_str(s) {
        return Ok(u);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| uuid::Uuid::from_slice(&b).ok())
        .ok_or_else(|| {
            format!("--controller-directory-id {s:?} is neither a UUID nor Kafka's form")
        })
}

/// `NAME://host:port` as an AddRaftVoter listener.
fn listener(endpoint: &str) -> Result<Listener, String> {
    let bad = || format!("--endpoint {endpoint:?} is not NAME://host:port");
    let (name, hostport) = endpoint.split_once("://").ok_or_else(bad)?;
    let (host, port) = hostport.rsplit_once(':').ok_or_else(bad)?;
    let mut l = Listener::default();
    l.name = StrBytes::from_string(name.to_string());
    l.host = StrBytes::from_string(host.trim_matches(['[', ']']).to_string());
    l.port = port.parse().map_err(|_| bad())?;
    Ok(l)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn describe(bootstrap: &str, json: bool) -> Result<(), String> {
    let mut t = TopicData::default();
    t.topic_name = TopicName(StrBytes::from_static_str("__cluster_metadata"));
    t.partitions = vec![PartitionData::default()];
    let req = DescribeQuorumRequest::default().with_topics(vec![t]);
    let resp: DescribeQuorumResponse = call(bootstrap, ApiKey::DescribeQuorum, 2, &req)?;
    if resp.error_code != 0 {
        return Err(failed(
            "describe quorum",
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    let p = resp
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or("describe quorum: empty answer")?;
    if p.error_code != 0 {
        return Err(failed(
            "describe quorum",
            p.error_code,
            p.error_message.as_ref(),
        ));
    }
    let endpoint = |id: BrokerId| -> String {
        resp.nodes
            .iter()
            .find(|n| n.node_id == id)
            .and_then(|n| n.listeners.first())
            .map(|l| format!("{}://{}:{}", l.name.as_str(), l.host.as_str(), l.port))
            .unwrap_or_default()
    };
    let now = now_ms();
    let row = |r: &ReplicaState, role: &str| {
        let lag = (p.high_watermark - r.log_end_offset).max(0);
        let ago = |ts: i64| (ts >= 0).then(|| (now - ts).max(0));
        (
            r.replica_id.0,
            role.to_string(),
            r.log_end_offset,
            lag,
            ago(r.last_fetch_timestamp),
            ago(r.last_caught_up_timestamp),
            endpoint(r.replica_id),
        )
    };
    let rows: Vec<_> = p
        .current_voters
        .iter()
        .map(|r| {
            row(
                r,
                if r.replica_id == p.leader_id {
                    "leader"
                } else {
                    "voter"
                },
            )
        })
        .chain(p.observers.iter().map(|r| row(r, "observer")))
        .collect();
    if json {
        let replicas: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, role, leo, lag, fetch, caught, ep)| {
                serde_json::json!({
                    "id": id, "role": role, "log_end_offset": leo, "lag": lag,
                    "last_fetch_ms_ago": fetch, "last_caught_up_ms_ago": caught,
                    "endpoint": (!ep.is_empty()).then_some(ep),
                })
            })
            .collect();
        let voters: Vec<i32> = p.current_voters.iter().map(|r| r.replica_id.0).collect();
        let observers: Vec<i32> = p.observers.iter().map(|r| r.replica_id.0).collect();
        println!(
            "{}",
            serde_json::json!({
                "leader": p.leader_id.0, "epoch": p.leader_epoch,
                "high_watermark": p.high_watermark, "voters": voters,
                "observers": observers, "replicas": replicas,
            })
        );
        return Ok(());
    }
    println!(
        "leader {}  epoch {}  high watermark {}",
        p.leader_id.0, p.leader_epoch, p.high_watermark
    );
    println!(
        "{:<8} {:<9} {:>14} {:>8} {:>14} {:>17}  ENDPOINT",
        "NODE", "ROLE", "LOG-END-OFFSET", "LAG", "LAST-FETCH-MS", "LAST-CAUGHT-UP-MS"
    );
    let ms = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
    for (id, role, leo, lag, fetch, caught, ep) in rows {
        println!(
            "{id:<8} {role:<9} {leo:>14} {lag:>8} {:>14} {:>17}  {ep}",
            ms(fetch),
            ms(caught)
        );
    }
    Ok(())
}
