//! `weir configs describe|alter`: topic and broker configs with their source, like
//! `kafka-configs.sh --entity-type topics|brokers`. `--broker N` is one node's configs (its
//! dynamic ones are changed with IncrementalAlterConfigs), `--broker-defaults` the cluster-wide
//! dynamic default (Kafka's `--entity-default`, BROKER resource ""), which librdkafka cannot
//! name: those calls go over the protocol codec (`raw`).

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource as IncrementalResource, AlterableConfig as IncrementalConfig,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, ApiKey, DescribeConfigsRequest,
    DescribeConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{ConfigSource, ResourceSpecifier};

use super::admin::{block_on, client, client_error, failed, options};
use super::raw;

/// Parse `--config KEY=VALUE` arguments into (key, value) pairs, both trimmed.
pub(crate) fn parse_pairs(pairs: &[String]) -> Result<Vec<(String, String)>, String> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("--config {p:?}: expected KEY=VALUE"))
        })
        .collect()
}

/// ConfigResource type of a topic in AlterConfigs.
const RESOURCE_TYPE_TOPIC: i8 = 2;
/// ConfigResource type of a broker.
const RESOURCE_TYPE_BROKER: i8 = 4;

/// `weir configs ...`.
#[derive(Debug, Args)]
pub struct ConfigsArgs {
    /// Bootstrap server.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    bootstrap: String,
    /// Print JSON instead of lines.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ConfigsCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigsCommand {
    /// Every config of a topic or a broker with its value and source; `--broker-defaults`: the
    /// cluster-wide dynamic broker defaults that are set.
    Describe {
        /// Topic name.
        #[arg(long, conflicts_with_all = ["broker", "broker_defaults"])]
        topic: Option<String>,
        /// Broker id.
        #[arg(long, conflicts_with = "broker_defaults")]
        broker: Option<i32>,
        /// The cluster-wide dynamic broker defaults.
        #[arg(long)]
        broker_defaults: bool,
    },
    /// Change a topic's configs or a broker's dynamic configs (other overrides are kept).
    Alter {
        /// Topic name.
        #[arg(long, conflicts_with_all = ["broker", "broker_defaults"])]
        topic: Option<String>,
        /// Broker id: its own dynamic configs.
        #[arg(long, conflicts_with = "broker_defaults")]
        broker: Option<i32>,
        /// The cluster-wide dynamic broker defaults.
        #[arg(long)]
        broker_defaults: bool,
        /// `key=value` to set (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Override to remove (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
}

fn source_name(s: &ConfigSource) -> &'static str {
    match s {
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
        ConfigSource::Unknown => "UNKNOWN",
    }
}

/// A resource's configs as (name, value, source), sorted by name.
pub fn describe(
    bootstrap: &str,
    spec: ResourceSpecifier<'_>,
) -> Result<Vec<(String, String, &'static str)>, String> {
    let what = match spec {
        ResourceSpecifier::Topic(t) => format!("describe configs of topic {t}"),
        ResourceSpecifier::Broker(b) => format!("describe configs of broker {b}"),
        ResourceSpecifier::Group(g) => format!("describe configs of group {g}"),
    };
    let admin = client(bootstrap)?;
    let res = block_on(admin.describe_configs([&spec], &options()))?
        .map_err(|e| client_error(&what, e))?;
    let mut out = Vec::new();
    for r in res {
        let r = r.map_err(|code| failed(&what, code))?;
        for e in r.entries {
            out.push((e.name, e.value.unwrap_or_default(), source_name(&e.source)));
        }
    }
    out.sort();
    Ok(out)
}

/// Set and delete topic config overrides, keeping the others (AlterConfigs replaces the whole
/// override set, so the current overrides are read first).
pub fn alter_topic(
    bootstrap: &str,
    name: &str,
    set: &[(String, String)],
    delete: &[String],
) -> Result<(), String> {
    let mut overrides: BTreeMap<String, String> =
        describe(bootstrap, ResourceSpecifier::Topic(name))?
            .into_iter()
            .filter(|(_, _, src)| *src == "DYNAMIC_TOPIC_CONFIG")
            .map(|(k, v, _)| (k, v))
            .collect();
    for (k, v) in set {
        overrides.insert(k.clone(), v.clone());
    }
    for k in delete {
        overrides.remove(k);
    }
    // AlterConfigs v1 over a plain connection: rdkafka 0.39 reports every resource of an
    // AlterConfigs result as altered, even when the broker refused it (INVALID_CONFIG).
    let mut resource = AlterConfigsResource::default();
    resource.resource_type = RESOURCE_TYPE_TOPIC;
    resource.resource_name = StrBytes::from_string(name.to_string());
    resource.configs = overrides
        .iter()
        .map(|(k, v)| {
            let mut c = AlterableConfig::default();
            c.name = StrBytes::from_string(k.clone());
            c.value = Some(StrBytes::from_string(v.clone()));
            c
        })
        .collect();
    let mut req = AlterConfigsRequest::default();
    req.resources = vec![resource];
    let resp: AlterConfigsResponse = raw::call(bootstrap, ApiKey::AlterConfigs, 1, &req)?;
    for r in &resp.responses {
        if r.error_code != 0 {
            return Err(raw::failed(
                &format!("alter configs of {name}"),
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
    }
    Ok(())
}

/// The cluster-wide dynamic broker defaults (DescribeConfigs of BROKER resource "") as (name,
/// value, source), sorted by name.
pub fn describe_broker_defaults(
    bootstrap: &str,
) -> Result<Vec<(String, String, &'static str)>, String> {
    let mut resource = DescribeConfigsResource::default();
    resource.resource_type = RESOURCE_TYPE_BROKER;
    resource.resource_name = StrBytes::from_static_str("");
    resource.configuration_keys = None;
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![resource];
    let resp: DescribeConfigsResponse = raw::call(bootstrap, ApiKey::DescribeConfigs, 4, &req)?;
    let mut out = Vec::new();
    for r in resp.results {
        if r.error_code != 0 {
            return Err(raw::failed(
                "describe the broker defaults",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
        for c in r.configs {
            let source = match c.config_source {
                2 => "DYNAMIC_BROKER_CONFIG",
                3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
                4 => "STATIC_BROKER_CONFIG",
                5 => "DEFAULT_CONFIG",
                _ => "UNKNOWN",
            };
            let value = c.value.map(|v| v.to_string()).unwrap_or_default();
            out.push((c.name.to_string(), value, source));
        }
    }
    out.sort();
    Ok(out)
}

/// Set and delete dynamic configs of BROKER resource `name` ("N" or "" for the cluster-wide
/// default) with IncrementalAlterConfigs; the others are kept.
pub fn alter_broker(
    bootstrap: &str,
    name: &str,
    set: &[(String, String)],
    delete: &[String],
) -> Result<(), String> {
    let op = |k: &str, op: i8, v: Option<&str>| {
        let mut c = IncrementalConfig::default();
        c.name = StrBytes::from_string(k.to_string());
        c.config_operation = op;
        c.value = v.map(|v| StrBytes::from_string(v.to_string()));
        c
    };
    let mut resource = IncrementalResource::default();
    resource.resource_type = RESOURCE_TYPE_BROKER;
    resource.resource_name = StrBytes::from_string(name.to_string());
    resource.configs = set
        .iter()
        .map(|(k, v)| op(k, 0, Some(v)))
        .chain(delete.iter().map(|k| op(k, 1, None)))
        .collect();
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![resource];
    let resp: IncrementalAlterConfigsResponse =
        raw::call(bootstrap, ApiKey::IncrementalAlterConfigs, 1, &req)?;
    let what = if name.is_empty() {
        "alter the broker defaults".to_string()
    } else {
        format!("alter configs of broker {name}")
    };
    for r in &resp.responses {
        if r.error_code != 0 {
            return Err(raw::failed(&what, r.error_code, r.error_message.as_ref()));
        }
    }
    Ok(())
}

/// Run `weir configs ...`.
pub fn run(args: ConfigsArgs) -> Result<(), String> {
    super::admin::ensure_reachable(&args.bootstrap)?;
    match args.command {
        ConfigsCommand::Describe {
            topic,
            broker,
            broker_defaults,
        } => {
            let entries = match (&topic, broker) {
                (Some(t), _) => describe(&args.bootstrap, ResourceSpecifier::Topic(t))?,
                (None, Some(b)) => describe(&args.bootstrap, ResourceSpecifier::Broker(b))?,
                (None, None) if broker_defaults => describe_broker_defaults(&args.bootstrap)?,
                (None, None) => {
                    return Err(
                        "configs describe: give --topic NAME, --broker ID or --broker-defaults"
                            .into(),
                    )
                }
            };
            if args.json {
                let v: Vec<_> = entries
                    .iter()
                    .map(|(k, v, s)| serde_json::json!({"name": k, "value": v, "source": s}))
                    .collect();
                println!("{}", serde_json::json!(v));
            } else {
                for (k, v, s) in entries {
                    println!("{k}={v}  ({s})");
                }
            }
        }
        ConfigsCommand::Alter {
            topic,
            broker,
            broker_defaults,
            set,
            delete,
        } => {
            let set = parse_pairs(&set)?;
            match (topic, broker) {
                (Some(topic), _) => {
                    alter_topic(&args.bootstrap, &topic, &set, &delete)?;
                    println!("altered configs of topic {topic}");
                }
                (None, Some(b)) => {
                    alter_broker(&args.bootstrap, &b.to_string(), &set, &delete)?;
                    println!("altered dynamic configs of broker {b}");
                }
                (None, None) if broker_defaults => {
                    alter_broker(&args.bootstrap, "", &set, &delete)?;
                    println!("altered the cluster-wide dynamic broker defaults");
                }
                (None, None) => {
                    return Err(
                        "configs alter: give --topic NAME, --broker ID or --broker-defaults".into(),
                    )
                }
            }
        }
    }
    Ok(())
}
