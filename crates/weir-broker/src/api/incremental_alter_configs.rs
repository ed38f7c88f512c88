//! IncrementalAlterConfigs (key 44): SET (0), DELETE (1), APPEND (2) and SUBTRACT (3) on
//! individual topic configs; list configs (cleanup.policy) support APPEND/SUBTRACT.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::alter_configs::apply;
use super::describe_configs::{topic_config_entries, RESOURCE_TOPIC};
use crate::admin::topics::TopicAdmin;
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
        let outcome = match changes(view, config, &res) {
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
        };
        if let Err(e) = outcome {
            r.error_code = e.code();
            r.error_message = Some(StrBytes::from_string(e.message()));
        }
        resp.responses.push(r);
    }
    resp
}

fn current_list(view: &MetadataView, config: &BrokerConfig, topic: &str, key: &str) -> Vec<String> {
    view.topic(topic)
        .and_then(|m| {
            topic_config_entries(config, &m)
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
