//! DescribeConfigs (key 32): topic configs with value and source, and the (read-only) broker
//! configs of this node.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use weir_log::LogConfig;

use crate::config::entries::ConfigSource;
use crate::config::topic::NON_LOG_TOPIC_CONFIGS;
use crate::config::BrokerConfig;
use crate::metadata::topic_meta::TopicMeta;
use crate::metadata::view::MetadataView;

/// Kafka's resource type for topics.
pub const RESOURCE_TOPIC: i8 = 2;
/// Kafka's resource type for brokers.
pub const RESOURCE_BROKER: i8 = 4;
/// Kafka's resource type for groups (group configs, KIP-848 / KIP-932).
pub const RESOURCE_GROUP: i8 = 32;
/// `GROUP_CONFIG`.
pub const SOURCE_GROUP: i8 = 8;
/// Config sources as Kafka numbers them.
pub const SOURCE_DYNAMIC_TOPIC: i8 = 1;
/// `STATIC_BROKER_CONFIG`.
pub const SOURCE_STATIC_BROKER: i8 = 4;
/// `DEFAULT_CONFIG`.
pub const SOURCE_DEFAULT: i8 = 5;

/// One effective topic config.
#[derive(Debug, Clone)]
pub struct TopicConfigEntry {
    /// Kafka name.
    pub name: String,
    /// Effective value.
    pub value: String,
    /// Kafka source number.
    pub source: i8,
}

fn config_type(name: &str) -> i8 {
    match name {
        "cleanup.policy" => 7,
        "message.timestamp.type" | "compression.type" => 2,
        "unclean.leader.election.enable" | "errors.deadletterqueue.group.enable" => 1,
        "min.insync.replicas"
        | "max.message.bytes"
        | "segment.bytes"
        | "segment.index.bytes"
        | "index.interval.bytes" => 3,
        _ => 5,
    }
}

/// Every topic config of `meta` with its effective value and source.
pub fn topic_config_entries(config: &BrokerConfig, meta: &TopicMeta) -> Vec<TopicConfigEntry> {
    let defaults = LogConfig::default();
    let mut names: Vec<&str> = defaults.entries().iter().map(|(k, _)| *k).collect();
    names.extend_from_slice(NON_LOG_TOPIC_CONFIGS);
    names
        .into_iter()
        .map(|name| {
            if let Some(v) = meta.configs.get(name) {
                return TopicConfigEntry {
                    name: name.into(),
                    value: v.clone(),
                    source: SOURCE_DYNAMIC_TOPIC,
                };
            }
            let value = config.topic_default(name).unwrap_or_default();
            let source = if config.topic_default_is_static(name) {
                SOURCE_STATIC_BROKER
            } else {
                SOURCE_DEFAULT
            };
            TopicConfigEntry {
                name: name.into(),
                value,
                source,
            }
        })
        .collect()
}

/// Describe each resource; unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
pub async fn handle(
    view: &MetadataView,
    config: &BrokerConfig,
    version: i16,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    for res in req.resources {
        let mut r = DescribeConfigsResult::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let wanted = |n: &str| {
            res.configuration_keys
                .as_ref()
                .is_none_or(|ks| ks.iter().any(|k| k.as_str() == n))
        };
        let entries: Vec<(String, String, i8, bool)> = match res.resource_type {
            RESOURCE_TOPIC => match view.topic(res.resource_name.as_str()) {
                Some(meta) => topic_config_entries(config, &meta)
                    .into_iter()
                    .map(|e| (e.name, e.value, e.source, false))
                    .collect(),
                None => {
                    r.error_code = ResponseError::UnknownTopicOrPartition.code();
                    r.error_message = Some(StrBytes::from_string(format!(
                        "topic {} does not exist",
                        res.resource_name
                    )));
                    Vec::new()
                }
            },
            RESOURCE_BROKER => {
                let name = res.resource_name.as_str();
                if name.is_empty() || name == view.node_id().to_string() {
                    config
                        .entries
                        .iter()
                        .map(|e| {
                            let src = match e.source {
                                ConfigSource::Default => SOURCE_DEFAULT,
                                ConfigSource::StaticBroker => SOURCE_STATIC_BROKER,
                            };
                            (
                                e.name.clone(),
                                e.value.clone().unwrap_or_default(),
                                src,
                                true,
                            )
                        })
                        .collect()
                } else {
                    r.error_code = ResponseError::InvalidRequest.code();
                    r.error_message = Some(StrBytes::from_string(format!(
                        "unexpected broker id {name}, this is node {}",
                        view.node_id()
                    )));
                    Vec::new()
                }
            }
            RESOURCE_GROUP => crate::share::configs::describe(
                &view.image(),
                &config.share,
                res.resource_name.as_str(),
            )
            .into_iter()
            .map(|(k, v, default)| {
                let src = if default {
                    SOURCE_DEFAULT
                } else {
                    SOURCE_GROUP
                };
                (k.to_string(), v, src, false)
            })
            .collect(),
            other => {
                r.error_code = ResponseError::InvalidRequest.code();
                r.error_message = Some(StrBytes::from_string(format!(
                    "unsupported resource type {other}"
                )));
                Vec::new()
            }
        };
        for (name, value, source, read_only) in entries.into_iter().filter(|(n, ..)| wanted(n)) {
            let mut c = DescribeConfigsResourceResult::default();
            c.name = StrBytes::from_string(name.clone());
            c.value = Some(StrBytes::from_string(value.clone()));
            c.read_only = read_only;
            c.config_source = source;
            // Secrets are answered as Kafka does: no value, is_sensitive.
            let sensitive = crate::config::security::is_sensitive(&name);
            c.is_sensitive = sensitive;
            if sensitive {
                c.value = None;
            }
            if version >= 3 {
                c.config_type = config_type(&name);
            }
            if req.include_synonyms && version >= 1 {
                let mut s = DescribeConfigsSynonym::default();
                s.name = StrBytes::from_string(name);
                s.value = (!sensitive).then(|| StrBytes::from_string(value));
                s.source = source;
                c.synonyms.push(s);
            }
            r.configs.push(c);
        }
        resp.results.push(r);
    }
    resp
}
