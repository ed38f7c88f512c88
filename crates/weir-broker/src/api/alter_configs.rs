//! AlterConfigs (key 33): replace a topic's whole override set, or a BROKER resource's whole
//! dynamic config set ("N" one node, "" the cluster-wide default; `broker_config_common`).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::broker_config_common;
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::admin::topics::TopicAdmin;
use crate::config::BrokerConfig;
use crate::error::BrokerError;

/// Apply each resource's new config set.
pub async fn handle(
    admin: &TopicAdmin,
    config: &BrokerConfig,
    _version: i16,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut resp = AlterConfigsResponse::default();
    for res in req.resources {
        let mut r = AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let configs: BTreeMap<String, Option<String>> = res
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let outcome = if res.resource_type == RESOURCE_BROKER {
            broker_config_common::alter_legacy(
                admin,
                config,
                res.resource_name.as_str(),
                configs,
                req.validate_only,
            )
            .await
        } else {
            apply(
                admin,
                res.resource_type,
                res.resource_name.as_str(),
                configs,
                false,
                req.validate_only,
            )
            .await
        };
        if let Err(e) = outcome {
            r.error_code = e.code();
            r.error_message = Some(StrBytes::from_string(e.message()));
        }
        resp.responses.push(r);
    }
    resp
}

/// Shared by AlterConfigs and IncrementalAlterConfigs: a TOPIC resource's change (the other
/// resource types are routed by each handler).
pub async fn apply(
    admin: &TopicAdmin,
    resource_type: i8,
    name: &str,
    configs: BTreeMap<String, Option<String>>,
    incremental: bool,
    validate_only: bool,
) -> Result<(), BrokerError> {
    match resource_type {
        RESOURCE_TOPIC => {
            admin
                .alter_topic_configs(
                    name,
                    configs,
                    incremental,
                    validate_only,
                    tokio::time::Instant::now() + crate::admin::proposal::CONFIG_CHANGE_TIMEOUT,
                )
                .await
        }
        other => Err(BrokerError::kafka(
            ResponseError::InvalidRequest,
            format!("unsupported resource type {other}"),
        )),
    }
}
