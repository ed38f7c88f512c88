//! `weir acls list|create|delete`, with `kafka-acls.sh`'s option names: resources by `--topic`,
//! `--group`, `--cluster`, `--transactional-id` and `--resource-pattern-type`; entries by
//! `--allow-principal` / `--deny-principal`, `--allow-host` / `--deny-host` and `--operation`.
//! DescribeAcls / CreateAcls / DeleteAcls go over a plain connection with the protocol codec
//! (`raw`), as librdkafka's ACL calls are not in the `rdkafka` crate.

use clap::{Args, Subcommand};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    ApiKey, CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use weir_meta::acl::{
    AclBinding, AclOperation, AclPermission, PatternType, ResourceType, CLUSTER_NAME,
};

use super::raw::{call, failed};

/// The version of the ACL APIs the CLI speaks (Kafka 2.4+).
const VERSION: i16 = 3;

/// `weir acls ...`.
#[derive(Debug, Args)]
pub struct AclsArgs {
    #[command(flatten)]
    bootstrap: super::admin::Bootstrap,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AclsCommand,
}

/// The resources a command names (none: every resource, for `list` / `delete`).
#[derive(Debug, Args, Clone)]
struct Resources {
    /// Topic (repeatable; `*` = every topic).
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// Group (repeatable; `*` = every group).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The cluster resource.
    #[arg(long)]
    cluster: bool,
    /// Transactional id (repeatable; `*` = every one).
    #[arg(long = "transactional-id")]
    transactional_ids: Vec<String>,
    /// LITERAL or PREFIXED (create; default LITERAL); also ANY or MATCH for list / delete
    /// (default ANY for list, LITERAL for delete).
    #[arg(long = "resource-pattern-type", value_parser = parse_pattern)]
    pattern: Option<PatternType>,
}

impl Resources {
    /// (type, name) of each resource named; `[(ANY, None)]` when none is.
    fn list(&self) -> Vec<(ResourceType, Option<String>)> {
        let mut out: Vec<(ResourceType, Option<String>)> = Vec::new();
        out.extend(
            self.topics
                .iter()
                .map(|t| (ResourceType::Topic, Some(t.clone()))),
        );
        out.extend(
            self.groups
                .iter()
                .map(|g| (ResourceType::Group, Some(g.clone()))),
        );
        if self.cluster {
            out.push((ResourceType::Cluster, Some(CLUSTER_NAME.to_string())));
        }
        out.extend(
            self.transactional_ids
                .iter()
                .map(|t| (ResourceType::TransactionalId, Some(t.clone()))),
        );
        if out.is_empty() {
            out.push((ResourceType::Any, None));
        }
        out
    }
}

/// The access control entries a command names.
#[derive(Debug, Args, Clone)]
struct Entries {
    /// Principal allowed (`User:alice`; repeatable; `User:*` = everyone).
    #[arg(long = "allow-principal")]
    allow_principals: Vec<String>,
    /// Principal denied (repeatable; a DENY wins over every ALLOW).
    #[arg(long = "deny-principal")]
    deny_principals: Vec<String>,
    /// Hosts the allow entries apply to (default `*`).
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
    /// Hosts the deny entries apply to (default `*`).
    #[arg(long = "deny-host")]
    deny_hosts: Vec<String>,
    /// Operation (repeatable): ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE,
    /// CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, …
    #[arg(long = "operation", value_parser = parse_operation)]
    operations: Vec<AclOperation>,
    /// kafka-acls' `--producer`: WRITE, DESCRIBE and CREATE on the topics named, WRITE and
    /// DESCRIBE on the transactional ids named.
    #[arg(long)]
    producer: bool,
    /// kafka-acls' `--consumer`: READ and DESCRIBE on the topics named, READ on the groups named.
    #[arg(long)]
    consumer: bool,
}

impl Entries {
    /// The operations for resources of type `kind`: `--operation`s plus what `--producer` /
    /// `--consumer` mean for that type, without repeats.
    fn ops_for(&self, kind: ResourceType) -> Vec<AclOperation> {
        use AclOperation as O;
        let mut ops = self.operations.clone();
        if self.producer {
            match kind {
                ResourceType::Topic => ops.extend([O::Write, O::Describe, O::Create]),
                ResourceType::TransactionalId => ops.extend([O::Write, O::Describe]),
                _ => {}
            }
        }
        if self.consumer {
            match kind {
                ResourceType::Topic => ops.extend([O::Read, O::Describe]),
                ResourceType::Group => ops.push(O::Read),
                _ => {}
            }
        }
        let mut seen = Vec::new();
        ops.retain(|o| {
            let new = !seen.contains(o);
            seen.push(*o);
            new
        });
        ops
    }

    /// (principal, host, permission) triples; hosts default to `*`.
    fn entries(&self) -> Vec<(String, String, AclPermission)> {
        let hosts = |h: &[String]| {
            if h.is_empty() {
                vec!["*".to_string()]
            } else {
                h.to_vec()
            }
        };
        let mut out = Vec::new();
        for (principals, hs, perm) in [
            (
                &self.allow_principals,
                hosts(&self.allow_hosts),
                AclPermission::Allow,
            ),
            (
                &self.deny_principals,
                hosts(&self.deny_hosts),
                AclPermission::Deny,
            ),
        ] {
            for p in principals {
                for h in &hs {
                    out.push((p.clone(), h.clone(), perm));
                }
            }
        }
        out
    }
}

#[derive(Debug, Subcommand)]
enum AclsCommand {
    /// List ACLs (all, or those of the resources named; `--principal` filters).
    List {
        #[command(flatten)]
        resources: Resources,
        /// Only the ACLs of this principal.
        #[arg(long)]
        principal: Option<String>,
    },
    /// Create ACLs: every (principal, host, operation) for every resource named.
    Create {
        #[command(flatten)]
        resources: Resources,
        #[command(flatten)]
        entries: Entries,
    },
    /// Delete the ACLs matching the resources, principals, hosts and operations named (what is
    /// not named matches anything).
    Delete {
        #[command(flatten)]
        resources: Resources,
        #[command(flatten)]
        entries: Entries,
    },
}

fn parse_pattern(s: &str) -> Result<PatternType, String> {
    PatternType::parse(s).ok_or_else(|| format!("unknown pattern type {s:?}"))
}

fn parse_operation(s: &str) -> Result<AclOperation, String> {
    AclOperation::parse(s).ok_or_else(|| format!("unknown operation {s:?}"))
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Run `weir acls ...`.
pub fn run(args: AclsArgs) -> Result<(), String> {
    let bs = args.bootstrap.server.as_str();
    match args.command {
        AclsCommand::List {
            resources,
            principal,
        } => {
            let mut rows = Vec::new();
            for (kind, name) in resources.list() {
                rows.extend(describe(
                    bs,
                    kind,
                    name,
                    resources.pattern.unwrap_or(PatternType::Any),
                    principal.as_deref(),
                )?);
            }
            rows.sort();
            rows.dedup();
            print_acls(&rows, args.json);
        }
        AclsCommand::Create { resources, entries } => {
            let pattern = resources.pattern.unwrap_or(PatternType::Literal);
            if resources.list()[0].0 == ResourceType::Any {
                return Err(
                    "name a resource: --topic, --group, --cluster or --transactional-id".into(),
                );
            }
            if entries.entries().is_empty() {
                return Err("name at least one --allow-principal or --deny-principal".into());
            }
            let mut acls = Vec::new();
            for (kind, name) in resources.list() {
                let ops = entries.ops_for(kind);
                if ops.is_empty() {
                    return Err(format!(
                        "no operation for {kind} {}: name --operation (or --producer / --consumer)",
                        name.as_deref().unwrap_or("")
                    ));
                }
                for (principal, host, permission) in entries.entries() {
                    for op in &ops {
                        acls.push(AclBinding {
                            resource_type: kind,
                            resource_name: name.clone().unwrap_or_default(),
                            pattern_type: pattern,
                            principal: principal.clone(),
                            host: host.clone(),
                            operation: *op,
                            permission,
                        });
                    }
                }
            }
            create(bs, &acls)?;
            if !args.json {
                println!("created {} ACL(s):", acls.len());
            }
            print_acls(&acls, args.json);
        }
        AclsCommand::Delete { resources, entries } => {
            let removed = delete(bs, &resources, &entries)?;
            if !args.json {
                println!("deleted {} ACL(s):", removed.len());
            }
            print_acls(&removed, args.json);
        }
    }
    Ok(())
}

fn describe(
    bs: &str,
    kind: ResourceType,
    name: Option<String>,
    pattern: PatternType,
    principal: Option<&str>,
) -> Result<Vec<AclBinding>, String> {
    let mut req = DescribeAclsRequest::default();
    req.resource_type_filter = kind.code();
    req.resource_name_filter = name.as_deref().map(sb);
    req.pattern_type_filter = pattern.code();
    req.principal_filter = principal.map(sb);
    req.host_filter = None;
    req.operation = AclOperation::Any.code();
    req.permission_type = AclPermission::Any.code();
    let resp: DescribeAclsResponse = call(bs, ApiKey::DescribeAcls, VERSION, &req)?;
    if resp.error_code != 0 {
        return Err(failed(
            "list ACLs",
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    let mut out = Vec::new();
    for r in &resp.resources {
        for a in &r.acls {
            let (Some(kind), Some(pattern), Some(operation), Some(permission)) = (
                ResourceType::from_code(r.resource_type),
                PatternType::from_code(r.pattern_type),
                AclOperation::from_code(a.operation),
                AclPermission::from_code(a.permission_type),
            ) else {
                continue;
            };
            out.push(AclBinding {
                resource_type: kind,
                resource_name: r.resource_name.to_string(),
                pattern_type: pattern,
                principal: a.principal.to_string(),
                host: a.host.to_string(),
                operation,
                permission,
            });
        }
    }
    Ok(out)
}

fn create(bs: &str, acls: &[AclBinding]) -> Result<(), String> {
    let mut req = CreateAclsRequest::default();
    req.creations = acls
        .iter()
        .map(|a| {
            let mut c = AclCreation::default();
            c.resource_type = a.resource_type.code();
            c.resource_name = sb(&a.resource_name);
            c.resource_pattern_type = a.pattern_type.code();
            c.principal = sb(&a.principal);
            c.host = sb(&a.host);
            c.operation = a.operation.code();
            c.permission_type = a.permission.code();
            c
        })
        .collect();
    let resp: CreateAclsResponse = call(bs, ApiKey::CreateAcls, VERSION, &req)?;
    for r in &resp.results {
        if r.error_code != 0 {
            return Err(failed(
                "create ACLs",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
    }
    Ok(())
}

fn delete(bs: &str, resources: &Resources, entries: &Entries) -> Result<Vec<AclBinding>, String> {
    let pattern = resources.pattern.unwrap_or(PatternType::Literal);
    let named: Vec<(Option<String>, Option<String>, AclPermission)> =
        if entries.entries().is_empty() {
            vec![(None, None, AclPermission::Any)]
        } else {
            entries
                .entries()
                .into_iter()
                .map(|(p, h, perm)| {
                    let hosts_named =
                        !entries.allow_hosts.is_empty() || !entries.deny_hosts.is_empty();
                    (Some(p), hosts_named.then_some(h), perm)
                })
                .collect()
        };
    let mut req = DeleteAclsRequest::default();
    for (kind, name) in resources.list() {
        let pattern = if kind == ResourceType::Any {
            PatternType::Any
        } else {
            pattern
        };
        let mut ops = entries.ops_for(kind);
        if ops.is_empty() {
            ops.push(AclOperation::Any);
        }
        for (principal, host, perm) in &named {
            for op in &ops {
                let mut f = DeleteAclsFilter::default();
                f.resource_type_filter = kind.code();
                f.resource_name_filter = name.as_deref().map(sb);
                f.pattern_type_filter = pattern.code();
                f.principal_filter = principal.as_deref().map(sb);
                f.host_filter = host.as_deref().map(sb);
                f.operation = op.code();
                f.permission_type = perm.code();
                req.filters.push(f);
            }
        }
    }
    let resp: DeleteAclsResponse = call(bs, ApiKey::DeleteAcls, VERSION, &req)?;
    let mut removed = Vec::new();
    for r in &resp.filter_results {
        if r.error_code != 0 {
            return Err(failed(
                "delete ACLs",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
        for m in &r.matching_acls {
            if let (Some(kind), Some(pattern), Some(operation), Some(permission)) = (
                ResourceType::from_code(m.resource_type),
                PatternType::from_code(m.pattern_type),
                AclOperation::from_code(m.operation),
                AclPermission::from_code(m.permission_type),
            ) {
                removed.push(AclBinding {
                    resource_type: kind,
                    resource_name: m.resource_name.to_string(),
                    pattern_type: pattern,
                    principal: m.principal.to_string(),
                    host: m.host.to_string(),
                    operation,
                    permission,
                });
            }
        }
    }
    Ok(removed)
}

fn print_acls(acls: &[AclBinding], json: bool) {
    if json {
        let rows: Vec<serde_json::Value> = acls
            .iter()
            .map(|a| {
                serde_json::json!({
                    "resource_type": a.resource_type.name(),
                    "resource_name": a.resource_name,
                    "pattern_type": a.pattern_type.name(),
                    "principal": a.principal,
                    "host": a.host,
                    "operation": a.operation.name(),
                    "permission": a.permission.name(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return;
    }
    println!(
        "{:<16}  {:<24}  {:<9}  {:<20}  {:<15}  {:<16}  Permission",
        "ResourceType", "ResourceName", "Pattern", "Principal", "Host", "Operation"
    );
    for a in acls {
        println!(
            "{:<16}  {:<24}  {:<9}  {:<20}  {:<15}  {:<16}  {}",
            a.resource_type.name(),
            a.resource_name,
            a.pattern_type.name(),
            a.principal,
            a.host,
            a.operation.name(),
            a.permission.name()
        );
    }
}
