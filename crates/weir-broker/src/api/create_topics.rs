//! CreateTopics (key 19): validate_only, broker defaults for -1, per-topic configs, manual
//! replica assignments (checked as Kafka checks them), Kafka's error codes per topic; answered within the
//! request's `timeout_ms` (REQUEST_TIMED_OUT / NOT_CONTROLLER for topics not created by then).

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;

use super::describe_configs::topic_config_entries;
use crate::admin::proposal::deadline_of;
use crate::admin::topics::TopicAdmin;
use crate::config::layers::Layers;
use crate::config::BrokerConfig;
use crate::error::BrokerError;

/// Create each requested topic independently; one topic's failure does not affect others.
pub async fn handle(
    admin: &TopicAdmin,
    config: &BrokerConfig,
    version: i16,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.0.to_string()).or_default() += 1;
    }
    let deadline = deadline_of(req.timeout_ms);
    let mut resp = CreateTopicsResponse::default();
    for t in req.topics {
        let name = t.name.0.to_string();
        let mut r = CreatableTopicResult::default();
        r.name = t.name.clone();
        r.num_partitions = -1;
        r.replication_factor = -1;
        let outcome = if counts.get(&name).copied().unwrap_or(0) > 1 {
            Err(BrokerError::kafka(
                ResponseError::InvalidRequest,
                format!("topic {name} appears more than once in the request"),
            ))
        } else {
            create_one(admin, &t, req.validate_only, deadline).await
        };
        match outcome {
            Ok(meta) => {
                r.topic_id = meta.id;
                r.num_partitions = meta.partitions;
                r.replication_factor = meta.replication_factor;
                if version >= 5 {
                    r.configs = Some(
                        topic_config_entries(
                            &Layers::new(config, &admin.image(), config.node_id),
                            &meta,
                        )
                        .into_iter()
                        .map(|e| {
                            let mut c = CreatableTopicConfigs::default();
                            c.name = StrBytes::from_string(e.name);
                            c.value = Some(StrBytes::from_string(e.value));
                            c.config_source = e.source;
                            c.read_only = false;
                            c.is_sensitive = false;
                            c
                        })
                        .collect(),
                    );
                }
            }
            Err(e) => {
                r.error_code = e.code();
                r.error_message = Some(StrBytes::from_string(e.message()));
            }
        }
        resp.topics.push(r);
    }
    resp
}

async fn create_one(
    admin: &TopicAdmin,
    t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
    validate_only: bool,
    deadline: tokio::time::Instant,
) -> Result<crate::metadata::topic_meta::TopicMeta, BrokerError> {
    let (partitions, rf) = (t.num_partitions, t.replication_factor);
    if !t.assignments.is_empty() {
        if partitions != -1 || rf != -1 {
            return Err(BrokerError::kafka(
                ResponseError::InvalidRequest,
                "both manual assignments and num_partitions/replication_factor were given",
            ));
        }
        let mut assignment: Vec<(i32, Vec<i32>)> = t
            .assignments
            .iter()
            .map(|a| {
                (
                    a.partition_index,
                    a.broker_ids.iter().map(|b| b.0).collect(),
                )
            })
            .collect();
        assignment.sort_by_key(|(p, _)| *p);
        if assignment
            .iter()
            .enumerate()
            .any(|(i, (p, _))| *p != i as i32)
        {
            return Err(BrokerError::kafka(
                ResponseError::InvalidReplicaAssignment,
                "the assignment's partitions must be numbered 0, 1, 2, ... without gaps",
            ));
        }
        let replicas: Vec<Vec<i32>> = assignment.into_iter().map(|(_, r)| r).collect();
        return admin
            .create_topic_assigned(&t.name.0, &replicas, configs(t)?, validate_only, deadline)
            .await;
    }
    admin
        .create_topic(
            &t.name.0,
            partitions,
            rf,
            configs(t)?,
            validate_only,
            deadline,
        )
        .await
}

/// The topic's configs; a null value is INVALID_CONFIG.
fn configs(
    t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<BTreeMap<String, String>, BrokerError> {
    let mut configs = BTreeMap::new();
    for c in &t.configs {
        let Some(v) = &c.value else {
            return Err(BrokerError::kafka(
                ResponseError::InvalidConfig,
                format!("config {} has a null value", c.name),
            ));
        };
        configs.insert(c.name.to_string(), v.to_string());
    }
    Ok(configs)
}
