//! The effective value of a broker config and where it came from, as Kafka resolves it: the
//! per-broker dynamic config (metadata log, BROKER resource "N") > the cluster-wide dynamic
//! default (BROKER resource "") > the static config (file, `WEIR_*`, flags) > Kafka's default.
//! Within a synonym chain (`log.retention.ms` > `log.retention.minutes` > `log.retention.hours`,
//! `log.roll.ms` > `log.roll.hours`) the name comes first: a `log.retention.hours` set
//! dynamically does not beat a static `log.retention.ms`, as in Kafka.
//!
//! The same code turns a set of layers into the broker's topic defaults ([`LogConfig`]), so the
//! start-up config and every later dynamic change resolve alike.

use std::collections::BTreeMap;

use weir_log::LogConfig;
use weir_meta::image::MetadataImage;

use super::defaults::{all_defaults, LOG_KEY_MAP, SAME_NAME_TOPIC_KEYS};
use super::entries::ConfigSource;
use super::log_defaults::log_config_from;
use super::BrokerConfig;

/// Where a broker config value comes from, highest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    /// Set for this broker in the metadata log (`DYNAMIC_BROKER_CONFIG`).
    DynamicBroker,
    /// Set as the cluster-wide default in the metadata log (`DYNAMIC_DEFAULT_BROKER_CONFIG`).
    DynamicDefault,
    /// Set at start-up (`STATIC_BROKER_CONFIG`).
    Static,
    /// Kafka's default (`DEFAULT_CONFIG`).
    Default,
}

impl Layer {
    /// Kafka's DescribeConfigs `config_source` number (`DescribeConfigsResponse.ConfigSource`:
    /// 1 is the topic's own config, `DYNAMIC_TOPIC_CONFIG`).
    pub fn kafka_source(self) -> i8 {
        match self {
            Layer::DynamicBroker => 2,
            Layer::DynamicDefault => 3,
            Layer::Static => 4,
            Layer::Default => 5,
        }
    }
}

/// One synonym of a config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonym {
    /// The broker config's name.
    pub name: String,
    /// Its value in that layer (None: Kafka's default is null).
    pub value: Option<String>,
    /// The layer.
    pub layer: Layer,
}

/// Synonym chains, highest priority first.
const CHAINS: &[&[&str]] = &[
    &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ],
    &["log.roll.ms", "log.roll.hours"],
];

/// Broker configs that exist with a null default (Kafka lists them with no value).
pub(crate) const NULL_DEFAULT_KEYS: &[&str] =
    &["log.retention.ms", "log.retention.minutes", "log.roll.ms"];

/// The synonyms of broker config `key` in priority order (the key alone when it has none).
pub fn broker_synonym_names(key: &str) -> Vec<&str> {
    CHAINS
        .iter()
        .find(|c| c.contains(&key))
        .map(|c| c.to_vec())
        .unwrap_or_else(|| vec![key])
}

/// The broker configs that give topic config `topic_key` its default, in priority order
/// (empty when the broker has none).
pub fn broker_keys_of_topic(topic_key: &str) -> Vec<&'static str> {
    match topic_key {
        "retention.ms" => CHAINS[0].to_vec(),
        "segment.ms" => CHAINS[1].to_vec(),
        _ => LOG_KEY_MAP
            .iter()
            .find(|(_, t)| *t == topic_key)
            .map(|(b, _)| vec![*b])
            .or_else(|| {
                SAME_NAME_TOPIC_KEYS
                    .iter()
                    .find(|k| **k == topic_key)
                    .map(|k| vec![*k])
            })
            .unwrap_or_default(),
    }
}

/// The dynamic value of broker config `key` for node `node_id` in `image` (its own, else the
/// cluster-wide default), if one is set.
pub fn dynamic_value<'a>(image: &'a MetadataImage, node_id: i32, key: &str) -> Option<&'a str> {
    image
        .broker_configs
        .get(&node_id)
        .and_then(|m| m.get(key))
        .or_else(|| image.broker_default_configs.get(key))
        .map(String::as_str)
}

/// The layers of broker configs seen by one node.
#[derive(Debug, Clone)]
pub struct Layers<'a> {
    config: &'a BrokerConfig,
    node: Option<&'a BTreeMap<String, String>>,
    cluster: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Layers<'a> {
    /// The layers of node `node_id`: its dynamic configs and the cluster default from `image`
    /// over the static `config`.
    pub fn new(config: &'a BrokerConfig, image: &'a MetadataImage, node_id: i32) -> Self {
        Layers {
            config,
            node: image.broker_configs.get(&node_id),
            cluster: Some(&image.broker_default_configs),
        }
    }

    /// The static config alone (no dynamic layer).
    pub fn static_only(config: &'a BrokerConfig) -> Self {
        Layers {
            config,
            node: None,
            cluster: None,
        }
    }

    /// These layers with the per-broker dynamic configs replaced by `node`.
    pub fn with_node(mut self, node: &'a BTreeMap<String, String>) -> Self {
        self.node = Some(node);
        self
    }

    /// These layers with the cluster default replaced by `cluster`.
    pub fn with_cluster(mut self, cluster: &'a BTreeMap<String, String>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// Every value `key` has, highest layer first (the default last, when it has one).
    pub fn values(&self, key: &str) -> Vec<(Layer, Option<String>)> {
        let mut out = Vec::new();
        if let Some(v) = self.node.and_then(|m| m.get(key)) {
            out.push((Layer::DynamicBroker, Some(v.clone())));
        }
        if let Some(v) = self.cluster.and_then(|m| m.get(key)) {
            out.push((Layer::DynamicDefault, Some(v.clone())));
        }
        let entry = self.config.entries.iter().find(|e| e.name == key);
        match entry {
            Some(e) if e.source == ConfigSource::StaticBroker => {
                out.push((Layer::Static, e.value.clone()));
            }
            _ => {}
        }
        if let Some((_, d)) = all_defaults().find(|(k, _)| *k == key) {
            out.push((Layer::Default, Some((*d).to_string())));
        } else if NULL_DEFAULT_KEYS.contains(&key) {
            out.push((Layer::Default, None));
        }
        out
    }

    /// The effective value of `key` (its own, not its synonyms') and its layer.
    pub fn value(&self, key: &str) -> Option<(Layer, Option<String>)> {
        self.values(key).into_iter().next()
    }

    /// The value of `key` set in a layer above the default, if any.
    fn explicit(&self, key: &str) -> Option<String> {
        self.values(key)
            .into_iter()
            .find(|(l, _)| *l != Layer::Default)
            .and_then(|(_, v)| v)
    }

    /// The value of `key` set anywhere, the default included.
    fn effective(&self, key: &str) -> Option<String> {
        self.value(key).and_then(|(_, v)| v)
    }

    /// Every (name, layer, value) of broker configs `names`, in priority order: the first is
    /// the value in effect for the chain.
    pub fn synonyms(&self, names: &[&str]) -> Vec<Synonym> {
        let mut out = Vec::new();
        for n in names {
            for (layer, value) in self.values(n) {
                if value.is_none() && layer == Layer::Default {
                    continue;
                }
                out.push(Synonym {
                    name: (*n).to_string(),
                    value,
                    layer,
                });
            }
        }
        out
    }

    /// The broker's synonyms of topic config `topic_key`, in priority order (the first is the
    /// broker default topics without an override get).
    pub fn topic_synonyms(&self, topic_key: &str) -> Vec<Synonym> {
        self.synonyms(&broker_keys_of_topic(topic_key))
    }

    /// The broker's default for topic config `topic_key` (in the topic config's unit: a
    /// `log.retention.minutes` default is reported in ms as `retention.ms`) with the layer of
    /// the synonym it came from; None when the broker gives it no default.
    pub fn topic_default(&self, topic_key: &str) -> Option<(String, Layer)> {
        let first = self.topic_synonyms(topic_key).into_iter().next()?;
        let from_log = || {
            let cfg = self.log_defaults().ok()?;
            cfg.entries()
                .into_iter()
                .find(|(k, _)| *k == topic_key)
                .map(|(_, v)| v)
        };
        let value = if LogConfig::is_log_config(topic_key) {
            from_log()
        } else {
            None
        };
        Some((value.or(first.value).unwrap_or_default(), first.layer))
    }

    /// The topic storage defaults these layers give (`log.*` broker configs, `message.max.bytes`);
    /// Err((broker key, value, why)) when one does not parse or is out of range.
    pub fn log_defaults(&self) -> Result<LogConfig, (String, String, String)> {
        log_config_from(&|k| self.explicit(k), &|k| self.effective(k))
    }

    /// The default `min.insync.replicas` of topics without an override.
    pub fn min_insync_replicas(&self) -> Option<i32> {
        self.effective("min.insync.replicas")?.trim().parse().ok()
    }
}

#[cfg(test)]
#[path = "layers_tests.rs"]
mod tests;
