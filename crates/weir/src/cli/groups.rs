//! `weir groups list|describe|reset-offsets`: consumer and share groups on any Kafka-compatible
//! broker, with the semantics of Kafka's `kafka-consumer-groups.sh` / `kafka-share-groups.sh`
//! (reset-offsets is a dry run unless `--execute`, and only touches inactive groups). Share
//! groups (KIP-932) are described and reset by `share_group`.

mod info;
mod output;
mod parse;
mod share_group;

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use self::info::{GroupInfo, Member, Row};
use super::admin::{client_error, failed, TIMEOUT};

/// `weir groups ...`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
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
    /// How long each request to the broker may take, in milliseconds.
    #[arg(long = "timeout-ms", global = true, default_value_t = TIMEOUT.as_millis() as u64)]
    timeout_ms: u64,
    #[command(subcommand)]
    command: GroupsCommand,
}

#[derive(Debug, Subcommand)]
enum GroupsCommand {
    /// List groups with their type, `classic`, `consumer` or `share` (ListGroups), one per line.
    List,
    /// State, members and their assignments, and per partition the committed offset, the log
    /// end offset and the lag (like `kafka-consumer-groups.sh --describe`); for a share group
    /// the start offset, lag, in-flight and archived records (like `kafka-share-groups.sh`).
    Describe {
        /// Group id.
        #[arg(required_unless_present = "group_flag")]
        group: Option<String>,
        /// Group id, as `--group` of Kafka's tools (instead of the positional one).
        #[arg(
            long = "group",
            id = "group_flag",
            conflicts_with = "group",
            value_name = "GROUP"
        )]
        group_flag: Option<String>,
    },
    /// Move an inactive group's committed offsets (a share group's start offsets). Prints the
    /// plan; commits it only with `--execute`. Refused while the group has active members.
    ResetOffsets(ResetArgs),
}

/// `weir groups reset-offsets ...`.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("to")
        .required(true)
        .args(["to_earliest", "to_latest", "to_offset", "to_datetime"])
))]
struct ResetArgs {
    /// Group id.
    #[arg(required_unless_present = "group_flag")]
    group: Option<String>,
    /// Group id, as `--group` of Kafka's tools (instead of the positional one).
    #[arg(
        long = "group",
        id = "group_flag",
        conflicts_with = "group",
        value_name = "GROUP"
    )]
    group_flag: Option<String>,
    /// Topic to reset, optionally limited to partitions: `orders` or `orders:0,2` (repeatable).
    #[arg(long = "topic", required = true, value_name = "TOPIC[:P,P...]")]
    topics: Vec<String>,
    /// To the log start offset.
    #[arg(long = "to-earliest")]
    to_earliest: bool,
    /// To the log end offset.
    #[arg(long = "to-latest")]
    to_latest: bool,
    /// To this offset (clamped into [log start, log end] of each partition).
    #[arg(long = "to-offset", value_name = "N")]
    to_offset: Option<i64>,
    /// To the first offset with a timestamp ≥ this time (RFC 3339, e.g. 2024-05-01T12:00:00Z,
    /// UTC if no offset is given, or epoch milliseconds); the log end if there is none.
    #[arg(long = "to-datetime", value_name = "TIME")]
    to_datetime: Option<String>,
    /// Commit the new offsets (default: only print them).
    #[arg(long)]
    execute: bool,
}

/// Connection settings shared by the subcommands.
struct Ctx {
    bootstrap: String,
    timeout: Duration,
}

impl Ctx {
    /// A consumer that never subscribes: with `group` set it can read and commit that group's
    /// offsets (OffsetFetch / OffsetCommit without joining).
    fn consumer(&self, group: Option<&str>) -> Result<BaseConsumer, String> {
        let mut cfg = crate::cli::client_security::client_config();
        cfg.set("bootstrap.servers", &self.bootstrap)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("log_level", "3");
        if let Some(g) = group {
            cfg.set("group.id", g);
        }
        cfg.create()
            .map_err(|e| client_error(&format!("connect to {}", self.bootstrap), e))
    }

    /// A client error that also names the bootstrap server (the usual cause of timeouts).
    fn err(&self, what: &str, e: KafkaError) -> String {
        use rdkafka::types::RDKafkaErrorCode as C;
        match e.rdkafka_error_code() {
            Some(
                code @ (C::OperationTimedOut
                | C::RequestTimedOut
                | C::AllBrokersDown
                | C::BrokerTransportFailure),
            ) => format!(
                "{what}: no answer from {} within {} ms (is the broker running?): {}",
                self.bootstrap,
                self.timeout.as_millis(),
                super::admin::code_name(code)
            ),
            _ => format!("{} (bootstrap {})", client_error(what, e), self.bootstrap),
        }
    }

    fn group_info(&self, c: &BaseConsumer, group: &str) -> Result<GroupInfo, String> {
        let list = c
            .fetch_group_list(Some(group), self.timeout)
            .map_err(|e| self.err(&format!("describe group {group}"), e))?;
        let Some(g) = list.groups().iter().find(|g| g.name() == group) else {
            return Ok(GroupInfo {
                state: "Dead".to_string(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            });
        };
        let mut members = Vec::new();
        for m in g.members() {
            let assignment = parse::decode_assignment(m.assignment().unwrap_or_default())
                .map_err(|e| format!("member {} of group {group}: {e}", m.id()))?;
            members.push(Member {
                id: m.id().to_string(),
                client_id: m.client_id().to_string(),
                host: m.client_host().to_string(),
                assignment,
            });
        }
        Ok(GroupInfo {
            state: g.state().to_string(),
            protocol_type: g.protocol_type().to_string(),
            protocol: g.protocol().to_string(),
            members,
        })
    }

    fn watermarks(&self, c: &BaseConsumer, topic: &str, p: i32) -> Result<(i64, i64), String> {
        c.fetch_watermarks(topic, p, self.timeout)
            .map_err(|e| self.err(&format!("offsets of {topic}-{p}"), e))
    }
}

/// Run `weir groups ...`.
pub fn run(args: GroupsArgs) -> Result<(), String> {
    let ctx = Ctx {
        bootstrap: args.bootstrap,
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
    };
    match args.command {
        GroupsCommand::List => list(&ctx, args.json),
        GroupsCommand::Describe { group, group_flag } => {
            describe(&ctx, &group.or(group_flag).unwrap_or_default(), args.json)
        }
        GroupsCommand::ResetOffsets(r) => reset(&ctx, &r, args.json),
    }
}

fn list(ctx: &Ctx, json: bool) -> Result<(), String> {
    let c = ctx.consumer(None)?;
    let list = c
        .fetch_group_list(None, ctx.timeout)
        .map_err(|e| ctx.err("list groups", e))?;
    let mut groups: Vec<_> = typed_groups(ctx, &c)?
        .into_iter()
        .map(|g| {
            let members = list
                .groups()
                .iter()
                .find(|l| l.name() == g.name)
                .map_or(0, |l| l.members().len());
            (g.name, g.kind, g.state, g.protocol_type, members)
        })
        .collect();
    groups.sort();
    if json {
        let v: Vec<_> = groups
            .iter()
            .map(|(name, kind, state, protocol_type, members)| {
                serde_json::json!({"group": name, "type": kind, "state": state,
                    "protocol_type": protocol_type, "members": members})
            })
            .collect();
        println!("{}", serde_json::json!(v));
    } else {
        groups
            .iter()
            .for_each(|(name, kind, ..)| println!("{name}\t{kind}"));
    }
    Ok(())
}

/// A group as ListGroups v5 names it.
struct Listed {
    name: String,
    /// `classic`, `consumer` or `share`.
    kind: String,
    state: String,
    protocol_type: String,
}

/// The groups of every broker with their type (ListGroups v5; librdkafka's listing knows
/// neither the type nor share groups).
fn typed_groups(ctx: &Ctx, c: &BaseConsumer) -> Result<Vec<Listed>, String> {
    use kafka_protocol::messages::{ApiKey, ListGroupsRequest, ListGroupsResponse};
    let md = c
        .fetch_metadata(None, ctx.timeout)
        .map_err(|e| ctx.err("list brokers", e))?;
    let req = ListGroupsRequest::default();
    let mut out: Vec<Listed> = Vec::new();
    for b in md.brokers() {
        let addr = format!("{}:{}", b.host(), b.port());
        let resp: ListGroupsResponse = super::raw::call(&addr, ApiKey::ListGroups, 5, &req)?;
        if resp.error_code != 0 {
            return Err(super::raw::failed("list groups", resp.error_code, None));
        }
        for g in resp.groups {
            if out.iter().any(|o| o.name == g.group_id.as_str()) {
                continue;
            }
            let kind = match g.group_type.as_str() {
                "" => "classic".to_string(),
                t => t.to_string(),
            };
            out.push(Listed {
                name: g.group_id.to_string(),
                kind,
                state: g.group_state.to_string(),
                protocol_type: g.protocol_type.to_string(),
            });
        }
    }
    Ok(out)
}

/// The coordinator of `group` when it is a share group (None for other groups).
fn share_coordinator(ctx: &Ctx, c: &BaseConsumer, group: &str) -> Result<Option<String>, String> {
    let share = typed_groups(ctx, c)?
        .iter()
        .any(|g| g.name == group && g.kind == "share");
    if !share {
        return Ok(None);
    }
    super::share::coordinator(&ctx.bootstrap, group).map(Some)
}

/// Committed offsets of `group` for every partition of every non-internal topic (and of
/// `extra` partitions, e.g. assigned ones); `None` where nothing is committed.
fn committed(
    ctx: &Ctx,
    c: &BaseConsumer,
    group: &str,
    extra: &[(String, i32)],
) -> Result<BTreeMap<(String, i32), Option<i64>>, String> {
    let md = c
        .fetch_metadata(None, ctx.timeout)
        .map_err(|e| ctx.err("list topics", e))?;
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        if t.name().starts_with("__") || t.error().is_some() {
            continue;
        }
        for p in t.partitions() {
            tpl.add_partition(t.name(), p.id());
        }
    }
    for (t, p) in extra {
        if tpl.find_partition(t, *p).is_none() {
            tpl.add_partition(t, *p);
        }
    }
    let mut out = BTreeMap::new();
    if tpl.count() == 0 {
        return Ok(out);
    }
    let got = c
        .committed_offsets(tpl, ctx.timeout)
        .map_err(|e| ctx.err(&format!("committed offsets of group {group}"), e))?;
    for e in got.elements() {
        let offset = match e.offset() {
            Offset::Offset(o) if o >= 0 => Some(o),
            _ => None,
        };
        let assigned = extra
            .iter()
            .any(|(t, p)| t == e.topic() && *p == e.partition());
        if offset.is_some() || assigned {
            out.insert((e.topic().to_string(), e.partition()), offset);
        }
    }
    Ok(out)
}

fn describe(ctx: &Ctx, group: &str, json: bool) -> Result<(), String> {
    let c = ctx.consumer(Some(group))?;
    if let Some(coordinator) = share_coordinator(ctx, &c, group)? {
        return share_group::describe(&coordinator, group, json);
    }
    let info = ctx.group_info(&c, group)?;
    let mut owner: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for (i, m) in info.members.iter().enumerate() {
        for (t, ps) in &m.assignment {
            for p in ps {
                owner.insert((t.clone(), *p), i);
            }
        }
    }
    let assigned: Vec<(String, i32)> = owner.keys().cloned().collect();
    let offsets = committed(ctx, &c, group, &assigned)?;
    if offsets.is_empty() && info.members.is_empty() && is_inactive(&info.state) {
        return Err(format!(
            "describe group {group}: the group does not exist (no members, no committed offsets)"
        ));
    }
    let mut rows = Vec::new();
    for ((topic, partition), current) in offsets {
        let (_, end) = ctx.watermarks(&c, &topic, partition)?;
        let owner = owner.get(&(topic.clone(), partition)).copied();
        rows.push(Row {
            topic,
            partition,
            current,
            end,
            owner,
        });
    }
    if json {
        output::print_json(group, &info, &rows);
    } else {
        output::print_table(group, &info, &rows);
    }
    Ok(())
}

/// Kafka's tool resets only groups without active members.
fn is_inactive(state: &str) -> bool {
    matches!(
        state.to_ascii_lowercase().as_str(),
        "empty" | "dead" | "" | "unknown"
    )
}

/// `orders` or `orders:0,2`.
fn parse_topic_spec(spec: &str) -> Result<(String, Option<Vec<i32>>), String> {
    match spec.split_once(':') {
        None => Ok((spec.to_string(), None)),
        Some((t, ps)) => {
            let parts = ps
                .split(',')
                .map(|p| p.trim().parse::<i32>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("--topic {spec:?}: expected TOPIC or TOPIC:P,P,..."))?;
            Ok((t.to_string(), Some(parts)))
        }
    }
}

fn reset(ctx: &Ctx, args: &ResetArgs, json: bool) -> Result<(), String> {
    let group = args
        .group
        .as_deref()
        .or(args.group_flag.as_deref())
        .unwrap_or_default();
    let datetime = args
        .to_datetime
        .as_deref()
        .map(parse::parse_datetime)
        .transpose()?;
    let c = ctx.consumer(Some(group))?;
    let share = share_coordinator(ctx, &c, group)?;
    let info = match &share {
        Some(coordinator) => {
            share_group::require_empty(coordinator, group)?;
            GroupInfo {
                state: "Empty".to_string(),
                protocol_type: "share".to_string(),
                protocol: String::new(),
                members: Vec::new(),
            }
        }
        None => ctx.group_info(&c, group)?,
    };
    if !is_inactive(&info.state) {
        return Err(format!(
            "reset offsets of group {group}: offsets can only be reset while the group is inactive \
             (Empty), but it is {} with {} active member(s); stop its consumers first",
            info.state,
            info.members.len()
        ));
    }
    let mut plan = TopicPartitionList::new();
    let mut rows: Vec<(String, i32, i64)> = Vec::new();
    for spec in &args.topics {
        let (topic, only) = parse_topic_spec(spec)?;
        let md = c
            .fetch_metadata(Some(&topic), ctx.timeout)
            .map_err(|e| ctx.err(&format!("metadata of {topic}"), e))?;
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .ok_or_else(|| format!("reset offsets: topic {topic} not in metadata"))?;
        if let Some(code) = t.error() {
            return Err(failed(&format!("reset offsets of {topic}"), code.into()));
        }
        let all: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
        let parts = match only {
            None => all,
            Some(ps) => {
                if let Some(p) = ps.iter().find(|p| !all.contains(p)) {
                    return Err(format!("reset offsets: {topic} has no partition {p}"));
                }
                ps
            }
        };
        let by_time = match datetime {
            Some(ts) => {
                let mut q = TopicPartitionList::new();
                for p in &parts {
                    q.add_partition_offset(&topic, *p, Offset::Offset(ts))
                        .map_err(|e| client_error("offsets for time", e))?;
                }
                Some(
                    c.offsets_for_times(q, ctx.timeout)
                        .map_err(|e| ctx.err(&format!("offsets of {topic} at {ts}"), e))?,
                )
            }
            None => None,
        };
        for p in parts {
            let (low, high) = ctx.watermarks(&c, &topic, p)?;
            let new = if args.to_earliest {
                low
            } else if args.to_latest {
                high
            } else if let Some(n) = args.to_offset {
                n.clamp(low, high.max(low))
            } else {
                match by_time.as_ref().and_then(|r| r.find_partition(&topic, p)) {
                    Some(e) => match e.offset() {
                        Offset::Offset(o) if o >= 0 => o.clamp(low, high.max(low)),
                        _ => high,
                    },
                    None => high,
                }
            };
            plan.add_partition_offset(&topic, p, Offset::Offset(new))
                .map_err(|e| client_error("plan", e))?;
            rows.push((topic.clone(), p, new));
        }
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(t, p, o)| serde_json::json!({"group": group, "topic": t, "partition": p, "new_offset": o}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"executed": args.execute, "offsets": v})
        );
    } else {
        let mut table: Vec<[String; 4]> =
            vec![["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"].map(String::from)];
        for (t, p, o) in &rows {
            table.push([group.to_string(), t.clone(), p.to_string(), o.to_string()]);
        }
        output::print_columns(&table);
    }
    if args.execute {
        match &share {
            Some(coordinator) => share_group::alter(coordinator, group, &rows)?,
            None => c
                .commit(&plan, CommitMode::Sync)
                .map_err(|e| ctx.err(&format!("commit offsets of group {group}"), e))?,
        }
    } else {
        eprintln!("weir: dry run, nothing committed (add --execute to commit these offsets)");
    }
    Ok(())
}
