//! Shapes of the admin APIs: ApiVersions, CreateTopics, DeleteTopics, DescribeConfigs,
//! AlterConfigs, IncrementalAlterConfigs, CreatePartitions, the reassignment APIs,
//! DescribeCluster.

use kafka_protocol::messages::*;

use super::shape::{st, topic, Ctx, Shape};
use crate::names::{DATA_TOPIC, MISSING_TOPIC, PARTITIONS_TOPIC};

use RequestKind as R;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

fn create(name: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(topic(name))
            .with_num_partitions(partitions)
            .with_replication_factor(rf)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        create_topics_request::CreatableTopicConfig::default()
                            .with_name(st(k))
                            .with_value(Some(st(v)))
                    })
                    .collect(),
            )])
}

/// A CreateTopics request of one topic (used by the setup too).
pub fn create_topic(name: &str, partitions: i32) -> CreateTopicsRequest {
    create(name, partitions, 1, &[])
}

fn delete(v: i16, name: &str) -> DeleteTopicsRequest {
    let mut r = DeleteTopicsRequest::default().with_timeout_ms(30_000);
    if v >= 6 {
        r.topics =
            vec![delete_topics_request::DeleteTopicState::default().with_name(Some(topic(name)))];
    } else {
        r.topic_names = vec![topic(name)];
    }
    r
}

fn describe_configs(v: i16, kind: i8, name: &str, keys: Option<&[&str]>) -> DescribeConfigsRequest {
    let mut r = DescribeConfigsRequest::default().with_resources(vec![
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(st(name))
            .with_configuration_keys(keys.map(|k| k.iter().map(|s| st(s)).collect())),
    ]);
    r.include_synonyms = v >= 1;
    r.include_documentation = v >= 3;
    r
}

fn alter_configs(name: &str, configs: &[(&str, &str)], validate: bool) -> AlterConfigsRequest {
    AlterConfigsRequest::default()
        .with_validate_only(validate)
        .with_resources(vec![alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(st(name))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        alter_configs_request::AlterableConfig::default()
                            .with_name(st(k))
                            .with_value(Some(st(v)))
                    })
                    .collect(),
            )])
}

fn incremental(name: &str, op: i8, key: &str, value: &str) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(st(name))
            .with_configs(vec![
                incremental_alter_configs_request::AlterableConfig::default()
                    .with_name(st(key))
                    .with_config_operation(op)
                    .with_value(Some(st(value))),
            ]),
    ])
}

fn create_partitions(name: &str, count: i32) -> CreatePartitionsRequest {
    CreatePartitionsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            create_partitions_request::CreatePartitionsTopic::default()
                .with_name(topic(name))
                .with_count(count)
                .with_assignments(None),
        ])
}

fn reassign(name: &str, replicas: Option<Vec<i32>>) -> AlterPartitionReassignmentsRequest {
    AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            alter_partition_reassignments_request::ReassignableTopic::default()
                .with_name(topic(name))
                .with_partitions(vec![
                    alter_partition_reassignments_request::ReassignablePartition::default()
                        .with_partition_index(0)
                        .with_replicas(replicas.map(|r| r.into_iter().map(BrokerId).collect())),
                ]),
        ])
}

fn to_self(c: &Ctx) -> Option<Vec<i32>> {
    Some(vec![c.node_id])
}

/// The scenario shapes of `key` at `v`, or None when `key` is not an admin API.
pub fn shapes(key: ApiKey, v: i16) -> Option<Vec<Shape>> {
    Some(match key {
        ApiKey::ApiVersions => {
            let mut s = Vec::new();
            if v >= 3 {
                s.push(Shape::fixed(
                    "client-software",
                    R::ApiVersions(
                        ApiVersionsRequest::default()
                            .with_client_software_name(st("weir-conformance"))
                            .with_client_software_version(st("1.0")),
                    ),
                ));
            }
            s
        }
        ApiKey::CreateTopics => {
            let name = |s: &str| format!("ct-v{v}-{s}");
            vec![
                Shape::fixed("new-topic", R::CreateTopics(create_topic(&name("new"), 2))),
                Shape::fixed(
                    "validate-only",
                    R::CreateTopics(create_topic(&name("validate"), 1).with_validate_only(true)),
                ),
                Shape::fixed("existing-topic", R::CreateTopics(create_topic(DATA_TOPIC, 1))),
                Shape::fixed(
                    "with-configs",
                    R::CreateTopics(create(
                        &name("configs"),
                        1,
                        1,
                        &[("cleanup.policy", "compact"), ("retention.ms", "12345")],
                    )),
                ),
                Shape::fixed(
                    "invalid-config-value",
                    R::CreateTopics(create(&name("bad"), 1, 1, &[("cleanup.policy", "bogus")])),
                ),
                Shape::fixed(
                    "unknown-config",
                    R::CreateTopics(create(&name("unknown"), 1, 1, &[("no.such.config", "1")])),
                ),
                Shape::fixed(
                    "replication-factor-too-large",
                    R::CreateTopics(create(&name("rf"), 1, 3, &[])),
                ),
                Shape::fixed(
                    "zero-partitions",
                    R::CreateTopics(create(&name("zero"), 0, 1, &[])),
                ),
                Shape::fixed(
                    "invalid-name",
                    R::CreateTopics(create_topic("bad/name", 1)),
                ),
                Shape::fixed(
                    "defaults",
                    R::CreateTopics(create(&name("defaults"), -1, -1, &[])),
                ),
            ]
        }
        ApiKey::DeleteTopics => vec![
            Shape::fixed("existing-topic", R::DeleteTopics(delete(v, &format!("dt-v{v}")))),
            Shape::fixed("unknown-topic", R::DeleteTopics(delete(v, MISSING_TOPIC))),
        ],
        ApiKey::DescribeConfigs => vec![
            Shape::fixed(
                "topic-all",
                R::DescribeConfigs(describe_configs(v, TOPIC, DATA_TOPIC, None)),
            ),
            Shape::fixed(
                "topic-some-keys",
                R::DescribeConfigs(describe_configs(
                    v,
                    TOPIC,
                    DATA_TOPIC,
                    Some(&["cleanup.policy", "retention.ms", "max.message.bytes"]),
                )),
            ),
            Shape::fixed(
                "unknown-topic",
                R::DescribeConfigs(describe_configs(v, TOPIC, MISSING_TOPIC, None)),
            ),
            Shape::new("broker-some-keys", move |c| {
                R::DescribeConfigs(describe_configs(
                    v,
                    BROKER,
                    &c.node_id.to_string(),
                    Some(&["log.retention.hours", "num.partitions", "message.max.bytes"]),
                ))
            })
            .masking(&["resource_name"]),
        ],
        ApiKey::AlterConfigs => vec![
            Shape::fixed(
                "topic-set",
                R::AlterConfigs(alter_configs(DATA_TOPIC, &[("retention.ms", "86400000")], false)),
            ),
            Shape::fixed(
                "validate-only",
                R::AlterConfigs(alter_configs(DATA_TOPIC, &[("retention.ms", "1000")], true)),
            ),
            Shape::fixed(
                "invalid-value",
                R::AlterConfigs(alter_configs(DATA_TOPIC, &[("cleanup.policy", "bogus")], false)),
            ),
            Shape::fixed(
                "unknown-topic",
                R::AlterConfigs(alter_configs(MISSING_TOPIC, &[("retention.ms", "1")], false)),
            ),
        ],
        ApiKey::IncrementalAlterConfigs => vec![
            Shape::fixed(
                "set",
                R::IncrementalAlterConfigs(incremental(DATA_TOPIC, 0, "retention.ms", "7200000")),
            ),
            Shape::fixed(
                "delete",
                R::IncrementalAlterConfigs(incremental(DATA_TOPIC, 1, "retention.ms", "")),
            ),
            Shape::fixed(
                "invalid-value",
                R::IncrementalAlterConfigs(incremental(DATA_TOPIC, 0, "cleanup.policy", "bogus")),
            ),
            Shape::fixed(
                "unknown-topic",
                R::IncrementalAlterConfigs(incremental(MISSING_TOPIC, 0, "retention.ms", "1")),
            ),
        ],
        ApiKey::CreatePartitions => vec![
            Shape::fixed(
                "grow",
                R::CreatePartitions(create_partitions(PARTITIONS_TOPIC, i32::from(v) + 2)),
            ),
            Shape::fixed(
                "same-count",
                R::CreatePartitions(create_partitions(PARTITIONS_TOPIC, i32::from(v) + 2)),
            ),
            Shape::fixed(
                "validate-only",
                R::CreatePartitions(
                    create_partitions(PARTITIONS_TOPIC, 40).with_validate_only(true),
                ),
            ),
            Shape::fixed(
                "unknown-topic",
                R::CreatePartitions(create_partitions(MISSING_TOPIC, 3)),
            ),
        ],
        ApiKey::AlterPartitionReassignments => vec![
            Shape::new("to-itself", |c| {
                R::AlterPartitionReassignments(reassign(DATA_TOPIC, to_self(c)))
            }),
            Shape::fixed(
                "cancel-none",
                R::AlterPartitionReassignments(reassign(DATA_TOPIC, None)),
            ),
            Shape::fixed(
                "unknown-broker",
                R::AlterPartitionReassignments(reassign(DATA_TOPIC, Some(vec![9999]))),
            ),
            Shape::new("unknown-topic", |c| {
                R::AlterPartitionReassignments(reassign(MISSING_TOPIC, to_self(c)))
            }),
        ],
        ApiKey::ListPartitionReassignments => vec![Shape::fixed(
            "existing-topic",
            R::ListPartitionReassignments(ListPartitionReassignmentsRequest::default().with_topics(
                Some(vec![
                    list_partition_reassignments_request::ListPartitionReassignmentsTopics::default()
                        .with_name(topic(DATA_TOPIC))
                        .with_partition_indexes(vec![0]),
                ]),
            )),
        )],
        ApiKey::DescribeCluster => vec![Shape::fixed(
            "authorized-operations",
            R::DescribeCluster(
                DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
            ),
        )],
        _ => return None,
    })
}
