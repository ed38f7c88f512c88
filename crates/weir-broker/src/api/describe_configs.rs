//! DescribeConfigs (key 32): topic, broker and group configs with value, source and (when asked)
//! synonyms, as Kafka answers them.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use weir_log::LogConfig;

use crate::config::dynamic::{self, BrokerTarget};
use crate::config::layers::{broker_synonym_names, Layer, Layers, Synonym, NULL_DEFAULT_KEYS};
use crate::config::topic::{NON_LOG_TOPIC_CONFIGS, TOPIC_ONLY_DEFAULTS};
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::metadata::topic_meta::TopicMeta;
use crate::metadata::view::MetadataView;
use weir_meta::image::MetadataImage;

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
    /// Kafka's synonyms, highest priority first: (name, value, source).
    pub synonyms: Vec<(String, Option<String>, i8)>,
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

/// Every topic config of `meta` with its effective value, source and synonyms: the topic's
/// override, else the broker default of `layers` (dynamic per-broker, dynamic cluster default,
/// static or Kafka's default, as [`Layers::topic_default`] resolves it).
pub fn topic_config_entries(layers: &Layers<'_>, meta: &TopicMeta) -> Vec<TopicConfigEntry> {
    let defaults = LogConfig::default();
    let mut names: Vec<&str> = defaults.entries().iter().map(|(k, _)| *k).collect();
    names.extend_from_slice(NON_LOG_TOPIC_CONFIGS);
    names
        .into_iter()
        .map(|name| {
            let mut synonyms = layers.topic_synonyms(name);
            if let Some(v) = meta.configs.get(name) {
                synonyms.insert(
                    0,
                    Synonym {
                        name: name.into(),
                        value: Some(v.clone()),
                        layer: Layer::DynamicBroker,
                    },
                );
                return TopicConfigEntry {
                    name: name.into(),
                    value: v.clone(),
                    source: SOURCE_DYNAMIC_TOPIC,
                    synonyms: synonyms
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let src = if i == 0 {
                                SOURCE_DYNAMIC_TOPIC
                            } else {
                                s.layer.kafka_source()
                            };
                            (s.name, s.value, src)
                        })
                        .collect(),
                };
            }
            let (value, source) = match layers.topic_default(name) {
                Some((v, layer)) => (v, layer.kafka_source()),
                None => (
                    TOPIC_ONLY_DEFAULTS
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| (*v).to_string())
                        .unwrap_or_default(),
                    SOURCE_DEFAULT,
                ),
            };
            TopicConfigEntry {
                name: name.into(),
                value,
                source,
                synonyms: synonyms
                    .into_iter()
                    .map(|s| (s.name, s.value, s.layer.kafka_source()))
                    .collect(),
            }
        })
        .collect()
}

/// One config as DescribeConfigs answers it.
#[derive(Debug, Clone)]
pub struct Described {
    /// Kafka name.
    pub name: String,
    /// Value (None: null, as Kafka's configs without a default).
    pub value: Option<String>,
    /// Kafka source number.
    pub source: i8,
    /// Not changeable at run time.
    pub read_only: bool,
    /// Synonyms, highest priority first: (name, value, source).
    pub synonyms: Vec<(String, Option<String>, i8)>,
}

/// Describe each resource; unknown topics get UNKNOWN_TOPIC_OR_PARTITION. BROKER resources:
/// see [`broker_entries`].
pub async fn handle(
    view: &MetadataView,
    config: &BrokerConfig,
    version: i16,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    let image = view.image();
    let layers = Layers::new(config, &image, view.node_id());
    for res in req.resources {
        let mut r = DescribeConfigsResult::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let wanted = |n: &str| {
            res.configuration_keys
                .as_ref()
                .is_none_or(|ks| ks.iter().any(|k| k.as_str() == n))
        };
        let entries: Vec<Described> = match res.resource_type {
            RESOURCE_TOPIC => match view.topic(res.resource_name.as_str()) {
                Some(meta) => topic_config_entries(&layers, &meta)
                    .into_iter()
                    .map(|e| Described {
                        name: e.name,
                        value: Some(e.value),
                        source: e.source,
                        read_only: false,
                        synonyms: e.synonyms,
                    })
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
                match broker_entries(config, &image, view.node_id(), &res.resource_name) {
                    Ok(entries) => entries,
                    Err(e) => {
                        r.error_code = e.code();
                        r.error_message = Some(StrBytes::from_string(e.message()));
                        Vec::new()
                    }
                }
            }
            RESOURCE_GROUP => {
                crate::share::configs::describe(&image, &config.share, res.resource_name.as_str())
                    .into_iter()
                    .map(|(k, v, default)| {
                        let src = if default {
                            SOURCE_DEFAULT
                        } else {
                            SOURCE_GROUP
                        };
                        Described {
                            name: k.to_string(),
                            value: Some(v.clone()),
                            source: src,
                            read_only: false,
                            synonyms: vec![(k.to_string(), Some(v), src)],
                        }
                    })
                    .collect()
            }
            other => {
                r.error_code = ResponseError::InvalidRequest.code();
                r.error_message = Some(StrBytes::from_string(format!(
                    "unsupported resource type {other}"
                )));
                Vec::new()
            }
        };
        for d in entries.into_iter().filter(|d| wanted(&d.name)) {
            let mut c = DescribeConfigsResourceResult::default();
            c.name = StrBytes::from_string(d.name.clone());
            c.value = d.value.map(StrBytes::from_string);
            c.read_only = d.read_only;
            c.config_source = d.source;
            // Secrets are answered as Kafka does: no value, is_sensitive.
            let sensitive = crate::config::security::is_sensitive(&d.name);
            c.is_sensitive = sensitive;
            if sensitive {
                c.value = None;
            }
            if version >= 3 {
                c.config_type = config_type(&d.name);
            }
            if req.include_synonyms && version >= 1 {
                for (name, value, source) in d.synonyms {
                    let mut s = DescribeConfigsSynonym::default();
                    s.name = StrBytes::from_string(name);
                    s.value = value.filter(|_| !sensitive).map(StrBytes::from_string);
                    s.source = source;
                    c.synonyms.push(s);
                }
            }
            r.configs.push(c);
        }
        resp.results.push(r);
    }
    resp
}

/// DescribeConfigs of BROKER resource `name` on node `node_id`, as Kafka answers it: "" lists
/// the cluster-wide dynamic defaults that are set (source DYNAMIC_DEFAULT_BROKER_CONFIG); this
/// node's id lists every broker config with its effective value and source, read-only unless
/// it can change at run time; another node's id is INVALID_REQUEST (a client asks that node).
pub fn broker_entries(
    config: &BrokerConfig,
    image: &MetadataImage,
    node_id: i32,
    name: &str,
) -> Result<Vec<Described>, BrokerError> {
    let layers = Layers::new(config, image, node_id);
    let names: Vec<String> = match BrokerTarget::parse(name)? {
        BrokerTarget::Default => {
            let empty = BTreeMap::new();
            let layers = layers.with_node(&empty);
            return Ok(image
                .broker_default_configs
                .iter()
                .map(|(k, v)| Described {
                    name: k.clone(),
                    value: Some(v.clone()),
                    source: Layer::DynamicDefault.kafka_source(),
                    read_only: false,
                    synonyms: synonyms(&layers, k),
                })
                .collect());
        }
        BrokerTarget::Node(id) if id == node_id => {
            let mut names: Vec<String> = config.entries.iter().map(|e| e.name.clone()).collect();
            names.extend(NULL_DEFAULT_KEYS.iter().map(|k| k.to_string()));
            names.extend(image.broker_default_configs.keys().cloned());
            names.extend(
                image
                    .broker_configs
                    .get(&node_id)
                    .into_iter()
                    .flat_map(|m| m.keys().cloned()),
            );
            names.sort();
            names.dedup();
            names
        }
        BrokerTarget::Node(id) => {
            return Err(BrokerError::kafka(
                ResponseError::InvalidRequest,
                format!("unexpected broker id {id}, this is node {node_id}"),
            ))
        }
    };
    Ok(names
        .into_iter()
        .map(|k| {
            let (layer, value) = layers.value(&k).unwrap_or((Layer::Default, None));
            Described {
                read_only: !dynamic::is_dynamic(&k),
                synonyms: synonyms(&layers, &k),
                name: k,
                value,
                source: layer.kafka_source(),
            }
        })
        .collect())
}

fn synonyms(layers: &Layers<'_>, key: &str) -> Vec<(String, Option<String>, i8)> {
    layers
        .synonyms(&broker_synonym_names(key))
        .into_iter()
        .map(|s| (s.name, s.value, s.layer.kafka_source()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_meta::records::{ConfigResource, MetadataRecord};

    #[test]
    fn broker_resources_answer_as_kafka() {
        let config = BrokerConfig::default_single_node();
        let mut img = MetadataImage::default();
        img.apply(&MetadataRecord::SetConfig {
            resource: ConfigResource::BrokerDefault,
            key: "log.segment.bytes".into(),
            value: Some("1048576".into()),
        })
        .unwrap();
        // "": only the dynamic defaults that are set.
        let d = broker_entries(&config, &img, 1, "").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].name.as_str(), d[0].source, d[0].read_only),
            ("log.segment.bytes", 3, false)
        );
        // This node: every config, with its source and whether it is read-only.
        let all = broker_entries(&config, &img, 1, "1").unwrap();
        let get = |n: &str| all.iter().find(|e| e.name == n).unwrap();
        assert_eq!(get("log.segment.bytes").source, 3);
        assert_eq!(
            get("log.segment.bytes").synonyms.len(),
            2,
            "dynamic default, default"
        );
        assert!(get("node.id").read_only && !get("log.retention.ms").read_only);
        assert_eq!(get("log.retention.ms").value, None, "a null default");
        // Another node, a name that is no broker id.
        assert_eq!(
            broker_entries(&config, &img, 1, "2").unwrap_err().code(),
            ResponseError::InvalidRequest.code()
        );
        assert!(broker_entries(&config, &img, 1, "x").is_err());
    }
}
