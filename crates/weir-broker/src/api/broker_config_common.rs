//! BROKER resources in IncrementalAlterConfigs and AlterConfigs (DescribeConfigs:
//! `describe_configs::broker_entries`): resource "N" is one node, "" the cluster-wide dynamic
//! default (Kafka's semantics; the values live in the
//! metadata log, see `config::dynamic` and `config::layers`).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;

use crate::admin::topics::TopicAdmin;
use crate::config::dynamic::{self, BrokerTarget, LIST_CONFIGS};
use crate::config::layers::Layers;
use crate::config::BrokerConfig;
use crate::error::BrokerError;

/// IncrementalAlterConfigs on a BROKER resource: SET / DELETE any dynamic config, APPEND /
/// SUBTRACT on list configs (`log.cleanup.policy`, starting from the value in effect at that
/// level); the resulting set is validated whole and committed at once, or refused unchanged.
pub async fn alter_incremental(
    admin: &TopicAdmin,
    config: &BrokerConfig,
    node_id: i32,
    name: &str,
    ops: &[(String, i8, Option<String>)],
    validate_only: bool,
) -> Result<(), BrokerError> {
    let target = BrokerTarget::parse(name)?;
    let image = admin.image();
    let mut next = target.current(&image);
    let mut seen = Vec::new();
    for (key, op, value) in ops {
        if seen.contains(&key) {
            return Err(BrokerError::kafka(
                ResponseError::InvalidRequest,
                format!("config {key} appears more than once"),
            ));
        }
        seen.push(key);
        match (op, value) {
            (0, Some(v)) => {
                dynamic::check_key(key)?;
                next.insert(key.clone(), v.clone());
            }
            (0, None) => {
                return Err(BrokerError::kafka(
                    ResponseError::InvalidRequest,
                    format!("SET {key} needs a value"),
                ))
            }
            (1, _) => {
                if !dynamic::is_known(key) {
                    dynamic::check_key(key)?;
                }
                next.remove(key);
            }
            (2 | 3, _) => {
                dynamic::check_key(key)?;
                if !LIST_CONFIGS.contains(&key.as_str()) {
                    return Err(BrokerError::kafka(
                        ResponseError::InvalidConfig,
                        format!("{key} is not a list config"),
                    ));
                }
                let node = match target {
                    BrokerTarget::Node(id) => id,
                    BrokerTarget::Default => node_id,
                };
                let current = next.get(key).cloned().or_else(|| {
                    let layers = Layers::new(config, &image, node);
                    let empty = BTreeMap::new();
                    let layers = match target {
                        BrokerTarget::Node(_) => layers,
                        BrokerTarget::Default => layers.with_node(&empty),
                    };
                    layers.value(key).and_then(|(_, v)| v)
                });
                let mut list = split(current.as_deref().unwrap_or(""));
                let items = split(value.as_deref().unwrap_or(""));
                if *op == 2 {
                    for i in items {
                        if !list.contains(&i) {
                            list.push(i);
                        }
                    }
                } else {
                    list.retain(|x| !items.contains(x));
                }
                next.insert(key.clone(), list.join(","));
            }
            (op, _) => {
                return Err(BrokerError::kafka(
                    ResponseError::InvalidRequest,
                    format!("unknown config operation {op}"),
                ))
            }
        }
    }
    admin
        .set_broker_configs(config, target, next, validate_only, change_deadline())
        .await
}

/// AlterConfigs (legacy) on a BROKER resource: the given configs replace the resource's whole
/// dynamic set (a null value is left out), validated and committed at once.
pub async fn alter_legacy(
    admin: &TopicAdmin,
    config: &BrokerConfig,
    name: &str,
    configs: BTreeMap<String, Option<String>>,
    validate_only: bool,
) -> Result<(), BrokerError> {
    let target = BrokerTarget::parse(name)?;
    let next: BTreeMap<String, String> = configs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    admin
        .set_broker_configs(config, target, next, validate_only, change_deadline())
        .await
}

fn change_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + crate::admin::proposal::CONFIG_CHANGE_TIMEOUT
}

fn split(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}
