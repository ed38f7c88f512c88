//! The checks of the topic APIs (as Kafka's `KafkaApis`): Produce → WRITE (and WRITE on the
//! transactional id of a transactional produce), Fetch → READ (a follower's fetch:
//! CLUSTER_ACTION), ListOffsets / OffsetForLeaderEpoch → DESCRIBE, Metadata → DESCRIBE (others
//! are hidden; auto-creation needs CREATE), CreateTopics → CREATE on the cluster or the topic,
//! DeleteTopics / DeleteRecords → DELETE, CreatePartitions → ALTER, DescribeProducers → READ.

use std::collections::HashSet;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_meta::acl::{AclOperation as Op, ResourceType, CLUSTER_NAME};

use super::merge::{merge, refuse_top, split, topic_name, Gate, CLUSTER, TOPIC, TXN};
use super::Authz;
use crate::metadata::view::MetadataView;

fn produce_errors(
    topics: &[produce_request::TopicProduceData],
    code: i16,
) -> Vec<produce_response::TopicProduceResponse> {
    topics
        .iter()
        .map(|t| {
            let mut out = produce_response::TopicProduceResponse::default();
            out.name = t.name.clone();
            out.topic_id = t.topic_id;
            out.partition_responses = t
                .partition_data
                .iter()
                .map(|p| {
                    let mut e = produce_response::PartitionProduceResponse::default();
                    e.index = p.index;
                    e.error_code = code;
                    e.base_offset = -1;
                    e.log_append_time_ms = -1;
                    e.log_start_offset = -1;
                    e
                })
                .collect();
            out
        })
        .collect()
}

/// Produce.
pub(super) fn produce(a: &Authz, view: &MetadataView, mut r: ProduceRequest) -> Gate {
    if let Some(tid) = &r.transactional_id {
        if !a.txn_id(Op::Write, tid.0.as_str()) {
            let mut resp = ProduceResponse::default();
            resp.responses = produce_errors(&r.topic_data, TXN);
            return Gate::Refuse(ResponseKind::Produce(resp));
        }
    }
    let denied = split(&mut r.topic_data, |t| {
        topic_name(view, &t.name, t.topic_id).is_none_or(|n| a.topic(Op::Write, &n))
    });
    if denied.is_empty() {
        return Gate::Pass(RequestKind::Produce(r), None);
    }
    let errors = produce_errors(&denied, TOPIC);
    Gate::Pass(
        RequestKind::Produce(r),
        merge!(Produce, |resp| { resp.responses.extend(errors) }),
    )
}

/// Fetch.
pub(super) fn fetch(a: &Authz, view: &MetadataView, mut r: FetchRequest) -> Gate {
    if r.replica_id.0 >= 0 || r.replica_state.replica_id.0 >= 0 {
        if a.cluster(Op::ClusterAction) {
            return Gate::Pass(RequestKind::Fetch(r), None);
        }
        return refuse_top!(Fetch, FetchResponse, CLUSTER);
    }
    let denied = split(&mut r.topics, |t| {
        topic_name(view, &t.topic, t.topic_id).is_none_or(|n| a.topic(Op::Read, &n))
    });
    if denied.is_empty() {
        return Gate::Pass(RequestKind::Fetch(r), None);
    }
    let errors: Vec<fetch_response::FetchableTopicResponse> = denied
        .iter()
        .map(|t| {
            let mut out = fetch_response::FetchableTopicResponse::default();
            out.topic = t.topic.clone();
            out.topic_id = t.topic_id;
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e = fetch_response::PartitionData::default();
                    e.partition_index = p.partition;
                    e.error_code = TOPIC;
                    e.high_watermark = -1;
                    e.last_stable_offset = -1;
                    e.log_start_offset = -1;
                    e.records = Some(bytes::Bytes::new());
                    e
                })
                .collect();
            out
        })
        .collect();
    Gate::Pass(
        RequestKind::Fetch(r),
        merge!(Fetch, |resp| { resp.responses.extend(errors) }),
    )
}

/// ListOffsets.
pub(super) fn list_offsets(a: &Authz, mut r: ListOffsetsRequest) -> Gate {
    let denied = split(&mut r.topics, |t| a.topic(Op::Describe, t.name.0.as_str()));
    if denied.is_empty() {
        return Gate::Pass(RequestKind::ListOffsets(r), None);
    }
    let errors: Vec<list_offsets_response::ListOffsetsTopicResponse> = denied
        .iter()
        .map(|t| {
            let mut out = list_offsets_response::ListOffsetsTopicResponse::default();
            out.name = t.name.clone();
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e = list_offsets_response::ListOffsetsPartitionResponse::default();
                    e.partition_index = p.partition_index;
                    e.error_code = TOPIC;
                    e.timestamp = -1;
                    e.offset = -1;
                    e.leader_epoch = -1;
                    e
                })
                .collect();
            out
        })
        .collect();
    Gate::Pass(
        RequestKind::ListOffsets(r),
        merge!(ListOffsets, |resp| { resp.topics.extend(errors) }),
    )
}

/// Metadata: all topics → only those the principal may DESCRIBE; named topics it may not
/// DESCRIBE, or that do not exist and would be auto-created without CREATE, are
/// TOPIC_AUTHORIZATION_FAILED (a topic asked for by id answers without its name). Authorized
/// operations, when asked for, are the requester's.
pub(super) fn metadata(
    a: &Authz,
    view: &MetadataView,
    auto_create: bool,
    mut r: MetadataRequest,
) -> Gate {
    let creating = auto_create && r.allow_auto_topic_creation;
    let (topic_ops, cluster_ops) = (
        r.include_topic_authorized_operations,
        r.include_cluster_authorized_operations,
    );
    let mut visible: Option<HashSet<String>> = None;
    let mut errors: Vec<metadata_response::MetadataResponseTopic> = Vec::new();
    match r.topics.as_mut() {
        None => {
            visible = Some(
                view.topics()
                    .into_iter()
                    .map(|m| m.name)
                    .filter(|n| a.topic(Op::Describe, n))
                    .collect(),
            );
        }
        Some(topics) => {
            let denied = split(topics, |t| {
                let name = match (&t.name, t.topic_id.is_nil()) {
                    (_, false) => match view.topic_by_id(t.topic_id) {
                        Some(m) => m.name,
                        None => return true,
                    },
                    (Some(n), true) => n.0.to_string(),
                    (None, true) => return true,
                };
                a.topic(Op::Describe, &name)
                    && (!creating || view.topic(&name).is_some() || a.create_topic(&name))
            });
            errors = denied
                .iter()
                .map(|t| {
                    let mut out = metadata_response::MetadataResponseTopic::default();
                    out.error_code = TOPIC;
                    out.name = if t.topic_id.is_nil() {
                        t.name.clone()
                    } else {
                        None
                    };
                    out.topic_id = t.topic_id;
                    out.topic_authorized_operations = i32::MIN;
                    out
                })
                .collect();
        }
    }
    if visible.is_none() && errors.is_empty() && !topic_ops && !cluster_ops {
        return Gate::Pass(RequestKind::Metadata(r), None);
    }
    let a = a.clone();
    Gate::Pass(
        RequestKind::Metadata(r),
        merge!(Metadata, |resp| {
            if let Some(visible) = &visible {
                resp.topics.retain(|t| {
                    t.name
                        .as_ref()
                        .is_some_and(|n| visible.contains(n.0.as_str()))
                });
            }
            if topic_ops {
                for t in resp.topics.iter_mut().filter(|t| t.error_code == 0) {
                    if let Some(n) = &t.name {
                        t.topic_authorized_operations =
                            a.authorized_operations(ResourceType::Topic, n.0.as_str());
                    }
                }
            }
            if cluster_ops {
                resp.cluster_authorized_operations =
                    a.authorized_operations(ResourceType::Cluster, CLUSTER_NAME);
            }
            resp.topics.extend(errors)
        }),
    )
}

/// The requester's authorized operations on each described topic (Kafka reports them always).
fn topic_ops(a: &Authz) -> Option<super::merge::Post> {
    let ops = a.clone();
    merge!(DescribeTopicPartitions, |resp| {
        set_topic_ops(&ops, &mut resp)
    })
}

fn set_topic_ops(a: &Authz, resp: &mut DescribeTopicPartitionsResponse) {
    // Wherever the handler reported operations (existing topics, unknown ones), the requester's.
    for t in resp
        .topics
        .iter_mut()
        .filter(|t| t.error_code == 0 || t.topic_authorized_operations != i32::MIN)
    {
        if let Some(n) = &t.name {
            t.topic_authorized_operations =
                a.authorized_operations(ResourceType::Topic, n.0.as_str());
        }
    }
}

/// DescribeTopicPartitions (KIP-966): DESCRIBE on each topic. All topics (an empty list)
/// become the list of the visible ones (so pages and cursors never name another); named topics
/// without DESCRIBE are TOPIC_AUTHORIZATION_FAILED, and when none is left the handler is not run
/// (an empty list would mean all topics).
pub(super) fn describe_topic_partitions(
    a: &Authz,
    view: &MetadataView,
    mut r: DescribeTopicPartitionsRequest,
) -> Gate {
    use describe_topic_partitions_request::TopicRequest;
    if r.topics.is_empty() {
        let mut visible: Vec<String> = view
            .topics()
            .into_iter()
            .map(|m| m.name)
            .filter(|n| a.topic(Op::Describe, n))
            .collect();
        if visible.is_empty() {
            return Gate::Refuse(ResponseKind::DescribeTopicPartitions(
                DescribeTopicPartitionsResponse::default(),
            ));
        }
        visible.sort();
        r.topics = visible
            .into_iter()
            .map(|n| {
                let mut t = TopicRequest::default();
                t.name = TopicName(StrBytes::from_string(n));
                t
            })
            .collect();
        return Gate::Pass(RequestKind::DescribeTopicPartitions(r), topic_ops(a));
    }
    let denied = split(&mut r.topics, |t| a.topic(Op::Describe, t.name.0.as_str()));
    let errors: Vec<describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic> =
        denied
            .into_iter()
            .map(|t| {
                let mut e =
                    describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic::default();
                e.error_code = TOPIC;
                e.name = Some(t.name);
                e.topic_authorized_operations = i32::MIN;
                e
            })
            .collect();
    if r.topics.is_empty() {
        let mut resp = DescribeTopicPartitionsResponse::default();
        resp.topics = errors;
        return Gate::Refuse(ResponseKind::DescribeTopicPartitions(resp));
    }
    let ops = a.clone();
    Gate::Pass(
        RequestKind::DescribeTopicPartitions(r),
        merge!(DescribeTopicPartitions, |resp| {
            set_topic_ops(&ops, &mut resp);
            resp.topics.extend(errors)
        }),
    )
}

/// DescribeCluster is not checked (as in Kafka); its authorized operations, when asked for,
/// are the requester's.
pub(super) fn describe_cluster(a: &Authz, r: DescribeClusterRequest) -> Gate {
    if !r.include_cluster_authorized_operations {
        return Gate::Pass(RequestKind::DescribeCluster(r), None);
    }
    let ops = a.authorized_operations(ResourceType::Cluster, CLUSTER_NAME);
    Gate::Pass(
        RequestKind::DescribeCluster(r),
        merge!(DescribeCluster, |resp| {
            resp.cluster_authorized_operations = ops
        }),
    )
}

/// OffsetForLeaderEpoch: a follower's (replica id ≥ 0) needs CLUSTER_ACTION, a client's
/// DESCRIBE on each topic.
pub(super) fn offset_for_leader_epoch(a: &Authz, mut r: OffsetForLeaderEpochRequest) -> Gate {
    let follower = r.replica_id.0 >= 0;
    let cluster_ok = follower && a.cluster(Op::ClusterAction);
    let denied = split(&mut r.topics, |t| {
        if follower {
            cluster_ok
        } else {
            a.topic(Op::Describe, t.topic.0.as_str())
        }
    });
    if denied.is_empty() {
        return Gate::Pass(RequestKind::OffsetForLeaderEpoch(r), None);
    }
    let code = if follower { CLUSTER } else { TOPIC };
    let errors: Vec<offset_for_leader_epoch_response::OffsetForLeaderTopicResult> = denied
        .iter()
        .map(|t| {
            let mut out = offset_for_leader_epoch_response::OffsetForLeaderTopicResult::default();
            out.topic = t.topic.clone();
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e = offset_for_leader_epoch_response::EpochEndOffset::default();
                    e.partition = p.partition;
                    e.error_code = code;
                    e.leader_epoch = -1;
                    e.end_offset = -1;
                    e
                })
                .collect();
            out
        })
        .collect();
    Gate::Pass(
        RequestKind::OffsetForLeaderEpoch(r),
        merge!(OffsetForLeaderEpoch, |resp| { resp.topics.extend(errors) }),
    )
}

/// DeleteRecords.
pub(super) fn delete_records(a: &Authz, mut r: DeleteRecordsRequest) -> Gate {
    let denied = split(&mut r.topics, |t| a.topic(Op::Delete, t.name.0.as_str()));
    if denied.is_empty() {
        return Gate::Pass(RequestKind::DeleteRecords(r), None);
    }
    let errors: Vec<delete_records_response::DeleteRecordsTopicResult> = denied
        .iter()
        .map(|t| {
            let mut out = delete_records_response::DeleteRecordsTopicResult::default();
            out.name = t.name.clone();
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e = delete_records_response::DeleteRecordsPartitionResult::default();
                    e.partition_index = p.partition_index;
                    e.error_code = TOPIC;
                    e.low_watermark = -1;
                    e
                })
                .collect();
            out
        })
        .collect();
    Gate::Pass(
        RequestKind::DeleteRecords(r),
        merge!(DeleteRecords, |resp| { resp.topics.extend(errors) }),
    )
}

/// DescribeProducers.
pub(super) fn describe_producers(a: &Authz, mut r: DescribeProducersRequest) -> Gate {
    let denied = split(&mut r.topics, |t| a.topic(Op::Read, t.name.0.as_str()));
    if denied.is_empty() {
        return Gate::Pass(RequestKind::DescribeProducers(r), None);
    }
    let errors: Vec<describe_producers_response::TopicResponse> = denied
        .iter()
        .map(|t| {
            let mut out = describe_producers_response::TopicResponse::default();
            out.name = t.name.clone();
            out.partitions = t
                .partition_indexes
                .iter()
                .map(|p| {
                    let mut e = describe_producers_response::PartitionResponse::default();
                    e.partition_index = *p;
                    e.error_code = TOPIC;
                    e
                })
                .collect();
            out
        })
        .collect();
    Gate::Pass(
        RequestKind::DescribeProducers(r),
        merge!(DescribeProducers, |resp| { resp.topics.extend(errors) }),
    )
}

/// CreateTopics: CREATE on the cluster or the topic.
pub(super) fn create_topics(a: &Authz, mut r: CreateTopicsRequest) -> Gate {
    let denied = split(&mut r.topics, |t| a.create_topic(t.name.0.as_str()));
    // The configs of a created topic are returned only with DESCRIBE_CONFIGS on it.
    let hide_configs: HashSet<String> = r
        .topics
        .iter()
        .map(|t| t.name.0.to_string())
        .filter(|n| !a.topic(Op::DescribeConfigs, n))
        .collect();
    if denied.is_empty() && hide_configs.is_empty() {
        return Gate::Pass(RequestKind::CreateTopics(r), None);
    }
    let errors: Vec<create_topics_response::CreatableTopicResult> = denied
        .iter()
        .map(|t| {
            let mut e = create_topics_response::CreatableTopicResult::default();
            e.name = t.name.clone();
            e.error_code = TOPIC;
            e.error_message = Some(StrBytes::from_static_str("Authorization failed."));
            e.num_partitions = -1;
            e.replication_factor = -1;
            e
        })
        .collect();
    Gate::Pass(
        RequestKind::CreateTopics(r),
        merge!(CreateTopics, |resp| {
            for t in resp.topics.iter_mut() {
                if t.error_code == 0 && hide_configs.contains(t.name.0.as_str()) {
                    t.configs = None;
                    t.topic_config_error_code = TOPIC;
                }
            }
            resp.topics.extend(errors)
        }),
    )
}

/// DeleteTopics (by name, or by id from v6).
pub(super) fn delete_topics(a: &Authz, view: &MetadataView, mut r: DeleteTopicsRequest) -> Gate {
    let mut errors: Vec<delete_topics_response::DeletableTopicResult> = Vec::new();
    let refuse = |name: Option<TopicName>, id: uuid::Uuid| {
        let mut e = delete_topics_response::DeletableTopicResult::default();
        e.name = name;
        e.topic_id = id;
        e.error_code = TOPIC;
        e.error_message = Some(StrBytes::from_static_str("Authorization failed."));
        e
    };
    for t in split(&mut r.topics, |t| {
        let name = match &t.name {
            Some(n) if t.topic_id.is_nil() => Some(n.0.to_string()),
            _ => view.topic_by_id(t.topic_id).map(|m| m.name),
        };
        name.is_none_or(|n| a.topic(Op::Delete, &n))
    }) {
        // A topic refused by id keeps its name to itself, as in Kafka.
        errors.push(refuse(
            if t.topic_id.is_nil() { t.name } else { None },
            t.topic_id,
        ));
    }
    for n in split(&mut r.topic_names, |n| a.topic(Op::Delete, n.0.as_str())) {
        errors.push(refuse(Some(n), uuid::Uuid::nil()));
    }
    if errors.is_empty() {
        return Gate::Pass(RequestKind::DeleteTopics(r), None);
    }
    Gate::Pass(
        RequestKind::DeleteTopics(r),
        merge!(DeleteTopics, |resp| { resp.responses.extend(errors) }),
    )
}

/// CreatePartitions.
pub(super) fn create_partitions(a: &Authz, mut r: CreatePartitionsRequest) -> Gate {
    let denied = split(&mut r.topics, |t| a.topic(Op::Alter, t.name.0.as_str()));
    if denied.is_empty() {
        return Gate::Pass(RequestKind::CreatePartitions(r), None);
    }
    let errors: Vec<create_partitions_response::CreatePartitionsTopicResult> = denied
        .iter()
        .map(|t| {
            let mut e = create_partitions_response::CreatePartitionsTopicResult::default();
            e.name = t.name.clone();
            e.error_code = TOPIC;
            e.error_message = Some(StrBytes::from_static_str("Authorization failed."));
            e
        })
        .collect();
    Gate::Pass(
        RequestKind::CreatePartitions(r),
        merge!(CreatePartitions, |resp| { resp.results.extend(errors) }),
    )
}
