//! `weir quotas describe|alter`, with `kafka-configs.sh`'s option names for client quotas:
//! `--entity-type users|clients|ips` (repeatable), each paired in order with an `--entity-name`;
//! entity types left without a name take the default entity (`--entity-default`). Alter takes
//! `--add-config k=v,...` and `--delete-config k,...`. DescribeClientQuotas / AlterClientQuotas
//! go over a plain connection with the protocol codec (`raw`), as librdkafka has no quota calls.

use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::raw::{call, failed};

/// The version of the quota APIs the CLI speaks.
const VERSION: i16 = 1;

/// `weir quotas ...`.
#[derive(Debug, Args)]
pub struct QuotasArgs {
    #[command(flatten)]
    bootstrap: super::admin::Bootstrap,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: QuotasCommand,
}

/// The entity a command names.
#[derive(Debug, Args, Clone)]
struct Entity {
    /// `users`, `clients` or `ips` (repeatable: `users` and `clients` combine).
    #[arg(long = "entity-type")]
    types: Vec<String>,
    /// The name of the entity of the same position among `--entity-type`s.
    #[arg(long = "entity-name")]
    names: Vec<String>,
    /// The entity types without an `--entity-name` mean their default entity.
    #[arg(long = "entity-default")]
    default: bool,
}

impl Entity {
    /// (Kafka entity type, name or None for the default) per `--entity-type`.
    fn parts(&self) -> Result<Vec<(String, Option<String>)>, String> {
        if self.names.len() > self.types.len() {
            return Err("more --entity-name than --entity-type".into());
        }
        let mut out = Vec::new();
        for (i, t) in self.types.iter().enumerate() {
            let kind = match t.as_str() {
                "users" | "user" => "user",
                "clients" | "client" | "client-id" => "client-id",
                "ips" | "ip" => "ip",
                other => return Err(format!("unknown --entity-type {other:?}")),
            };
            let name = self.names.get(i).cloned();
            if name.is_none() && !self.default {
                return Err(format!(
                    "--entity-type {t} needs an --entity-name or --entity-default"
                ));
            }
            out.push((kind.to_string(), name));
        }
        Ok(out)
    }
}

#[derive(Debug, Subcommand)]
enum QuotasCommand {
    /// Show the quotas of the entity named (an entity type without name or default: every
    /// entity of that type; no entity type: every quota).
    Describe {
        /// `users`, `clients` or `ips` (repeatable).
        #[arg(long = "entity-type")]
        types: Vec<String>,
        /// Name of the entity of the same position.
        #[arg(long = "entity-name")]
        names: Vec<String>,
        /// The entity types without a name mean their default entity.
        #[arg(long = "entity-default")]
        default: bool,
    },
    /// Set and/or remove quotas of one entity.
    Alter {
        #[command(flatten)]
        entity: Entity,
        /// `key=value,...` to set (producer_byte_rate, consumer_byte_rate, request_percentage,
        /// controller_mutation_rate; connection_creation_rate for ips).
        #[arg(long = "add-config")]
        add: Option<String>,
        /// `key,...` to remove.
        #[arg(long = "delete-config")]
        delete: Option<String>,
    },
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Run `weir quotas`.
pub fn run(args: QuotasArgs) -> Result<(), String> {
    let bs = args.bootstrap.server.as_str();
    match args.command {
        QuotasCommand::Describe {
            types,
            names,
            default,
        } => {
            let mut req = DescribeClientQuotasRequest::default();
            for (i, t) in types.iter().enumerate() {
                let probe = Entity {
                    types: vec![t.clone()],
                    names: names.get(i).cloned().into_iter().collect(),
                    default: true,
                };
                let (kind, name) = probe.parts()?.remove(0);
                let mut c = ComponentData::default();
                c.entity_type = sb(&kind);
                c.match_type = match (&name, default) {
                    (Some(_), _) => 0,
                    (None, true) => 1,
                    (None, false) => 2,
                };
                c._match = name.as_deref().map(sb);
                req.components.push(c);
            }
            req.strict =
                !req.components.is_empty() && req.components.iter().all(|c| c.match_type != 2);
            let resp: DescribeClientQuotasResponse =
                call(bs, ApiKey::DescribeClientQuotas, VERSION, &req)?;
            if resp.error_code != 0 {
                return Err(failed(
                    "describe quotas",
                    resp.error_code,
                    resp.error_message.as_ref(),
                ));
            }
            let rows: Vec<Row> = resp
                .entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| {
                    (
                        e.entity
                            .iter()
                            .map(|d| {
                                (
                                    d.entity_type.to_string(),
                                    d.entity_name.as_ref().map(|n| n.to_string()),
                                )
                            })
                            .collect(),
                        e.values
                            .iter()
                            .map(|v| (v.key.to_string(), v.value))
                            .collect(),
                    )
                })
                .collect();
            print_quotas(&rows, args.json);
        }
        QuotasCommand::Alter {
            entity,
            add,
            delete,
        } => {
            let parts = entity.parts()?;
            if parts.is_empty() {
                return Err(
                    "name an entity: --entity-type with --entity-name or --entity-default".into(),
                );
            }
            let mut e = EntryData::default();
            e.entity = parts
                .iter()
                .map(|(t, n)| {
                    let mut d = EntityData::default();
                    d.entity_type = sb(t);
                    d.entity_name = n.as_deref().map(sb);
                    d
                })
                .collect();
            for kv in add
                .iter()
                .flat_map(|a| a.split(','))
                .filter(|s| !s.is_empty())
            {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--add-config {kv:?} is not key=value"))?;
                let value: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("--add-config {k}: {v:?} is not a number"))?;
                let mut op = OpData::default();
                op.key = sb(k.trim());
                op.value = value;
                e.ops.push(op);
            }
            for k in delete
                .iter()
                .flat_map(|d| d.split(','))
                .filter(|s| !s.is_empty())
            {
                let mut op = OpData::default();
                op.key = sb(k.trim());
                op.remove = true;
                e.ops.push(op);
            }
            if e.ops.is_empty() {
                return Err("nothing to do: give --add-config and/or --delete-config".into());
            }
            let mut req = AlterClientQuotasRequest::default();
            req.entries.push(e);
            let resp: AlterClientQuotasResponse =
                call(bs, ApiKey::AlterClientQuotas, VERSION, &req)?;
            for r in &resp.entries {
                if r.error_code != 0 {
                    return Err(failed(
                        "alter quotas",
                        r.error_code,
                        r.error_message.as_ref(),
                    ));
                }
            }
            if args.json {
                println!("{}", serde_json::json!({"altered": true}));
            } else {
                println!("Altered the quotas of {}.", entity_text(&parts));
            }
        }
    }
    Ok(())
}

/// `user=alice, client-id=<default>`.
fn entity_text(parts: &[(String, Option<String>)]) -> String {
    parts
        .iter()
        .map(|(t, n)| format!("{t}={}", n.as_deref().unwrap_or("<default>")))
        .collect::<Vec<_>>()
        .join(", ")
}

type Row = (Vec<(String, Option<String>)>, Vec<(String, f64)>);

fn print_quotas(rows: &[Row], json: bool) {
    if json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(entity, values)| {
                let ent: serde_json::Map<String, serde_json::Value> = entity
                    .iter()
                    .map(|(t, n)| (t.clone(), serde_json::json!(n)))
                    .collect();
                let vals: serde_json::Map<String, serde_json::Value> = values
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                    .collect();
                serde_json::json!({"entity": ent, "values": vals})
            })
            .collect();
        println!("{}", serde_json::Value::Array(out));
        return;
    }
    println!("{:<40}  {:<26}  Value", "Entity", "Quota");
    for (entity, values) in rows {
        for (k, v) in values {
            println!("{:<40}  {:<26}  {}", entity_text(entity), k, v);
        }
    }
}
