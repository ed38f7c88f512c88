//! IncrementalAlterConfigs (key 44): SET (0), DELETE (1), APPEND (2) and SUBTRACT (3) on
//! individual topic, broker (dynamic broker configs, `broker_config_common`) and group configs;
//! list configs (cleanup.policy) support APPEND/SUBTRACT.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::alter_configs::apply;
use super::broker_config_common;
use super::describe_configs::{
    topic_config_entries, RESOURCE_BROKER, RESOURCE_GROUP, RESOURCE_TOPIC,
};
use crate::admin::topics::TopicAdmin;
use crate::config::layers::Layers;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;

/// Apply each resource's incremental operations.
pub async fn handle(
    admin: &TopicAdmin,
    view: &MetadataView,
    config: &BrokerConfig,
    _version: i16,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut resp = IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let mut r = AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let outcome = if res.resource_type == RESOURCE_GROUP {
            alter_group(admin, config, &res, req.validate_only).await
        } else if res.resource_type == RESOURCE_BROKER {
            let ops: Vec<(String, i8, Option<String>)> = res
                .configs
                .iter()
                .map(|c| {
                    (
                        c.name.to_string(),
                        c.config_operation,
                        c.value.as_ref().map(|v| v.to_string()),
                    )
                })
                .collect();
            broker_config_common::alter_incremental(
                admin,
                config,
                view.node_id(),
                res.resource_name.as_str(),
                &ops,
                req.validate_only,
            )
            .await
        } else {
            match changes(view, config, &res) {
                Ok(c) => {
                    apply(
                        admin,
                        res.resource_type,
                        res.resource_name.as_str(),
                        c,
                        true,
                        req.validate_only,
                    )
                    .await
                }
                Err(e) => Err(e),
            }
        };
        if let Err(e) = outcome {
            r.error_code = e.code();
            r.error_message = Some(StrBytes::from_string(e.message()));
        }
        resp.responses.push(r);
    }
    resp
}

/// SET / DELETE of a share group's configs (resource type GROUP): the resulting overrides are
/// validated against the broker's `group.share.*` bounds (INVALID_CONFIG) and committed to the
/// metadata log. APPEND / SUBTRACT are INVALID_CONFIG (no group config is a list).
async fn alter_group(
    admin: &TopicAdmin,
    config: &BrokerConfig,
    res: &kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource,
    validate_only: bool,
) -> Result<(), BrokerError> {
    let group = res.resource_name.as_str();
    if group.is_empty() {
        return Err(BrokerError::kafka(
            ResponseError::InvalidRequest,
            "the group name is empty",
        ));
    }
    let mut next = admin.group_configs(group);
    for c in &res.configs {
        let key = c.name.to_string();
        match (c.config_operation, &c.value) {
            (0, Some(v)) => {
                next.insert(key, v.to_string());
            }
            (1, _) => {
                next.remove(&key);
            }
            (0, None) => {
                return Err(BrokerError::kafka(
                    ResponseError::InvalidRequest,
                    format!("SET {key} needs a value"),
                ))
            }
            _ => {
                return Err(BrokerError::kafka(
                    ResponseError::InvalidConfig,
                    format!("{key}: only SET and DELETE apply to group configs"),
                ))
            }
        }
    }
    crate::share::configs::validate(&config.share, &next)?;
    if validate_only {
        return Ok(());
    }
    admin
        .set_group_configs(
            group,
            next,
            tokio::time::Instant::now() + crate::admin::proposal::CONFIG_CHANGE_TIMEOUT,
        )
        .await
}

fn current_list(view: &MetadataView, config: &BrokerConfig, topic: &str, key: &str) -> Vec<String> {
    let image = view.image();
    let layers = Layers::new(config, &image, view.node_id());
    view.topic(topic)
        .and_then(|m| {
            topic_config_entries(&layers, &m)
                .into_iter()
                .find(|e| e.name == key)
        })
        .map(|e| {
            e.value
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn changes(
    view: &MetadataView,
    config: &BrokerConfig,
    res: &kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource,
) -> Result<BTreeMap<String, Option<String>>, BrokerError> {
    let mut out = BTreeMap::new();
    for c in &res.configs {
        let key = c.name.to_string();
        if out.contains_key(&key) {
            return Err(BrokerError::kafka(
                ResponseError::InvalidRequest,
                format!("config {key} appears more than once"),
            ));
        }
        let value = c.value.as_ref().map(|v| v.to_string());
        let new = match c.config_operation {
            0 => Some(value.ok_or_else(|| {
                BrokerError::kafka(
                    ResponseError::InvalidRequest,
                    format!("SET {key} needs a value"),
                )
            })?),
            1 => None,
            2 | 3 => {
                if key != "cleanup.policy" || res.resource_type != RESOURCE_TOPIC {
                    return Err(BrokerError::kafka(
                        ResponseError::InvalidConfig,
                        format!("{key} is not a list config"),
                    ));
                }
                let mut list = current_list(view, config, res.resource_name.as_str(), &key);
                let items: Vec<String> = value
                    .unwrap_or_default()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if c.config_operation == 2 {
                    for i in items {
                        if !list.contains(&i) {
                            list.push(i);
                        }
                    }
                } else {
                    list.retain(|x| !items.contains(x));
                }
                Some(list.join(","))
            }
            op => {
                return Err(BrokerError::kafka(
                    ResponseError::InvalidRequest,
                    format!("unknown config operation {op}"),
                ))
            }
        };
        out.insert(key, new);
    }
    Ok(out)
}
