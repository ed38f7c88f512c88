//! The checks of the group APIs (as Kafka's `KafkaApis`): membership and offsets need READ on
//! the group (OffsetCommit / OffsetDelete also READ on each topic, OffsetFetch DESCRIBE on each
//! topic), describing a group DESCRIBE, deleting it DELETE; ListGroups lists the groups the
//! principal may DESCRIBE (all with DESCRIBE on the cluster); KIP-848 / KIP-932 heartbeats need
//! READ on the group and DESCRIBE on the subscribed topics; share fetches and acknowledgements
//! READ on the group and the topics.

use std::collections::HashSet;

use kafka_protocol::messages::*;
use weir_meta::acl::{AclOperation as Op, ResourceType};

use super::merge::{merge, refuse_top, split, topic_name, Gate, GROUP, TOPIC};
use super::Authz;
use crate::metadata::view::MetadataView;

/// JoinGroup, SyncGroup, Heartbeat, LeaveGroup: READ on the group or a top-level error.
pub(super) fn membership(a: &Authz, body: RequestKind) -> Gate {
    let group = match &body {
        RequestKind::JoinGroup(r) => r.group_id.0.as_str(),
        RequestKind::SyncGroup(r) => r.group_id.0.as_str(),
        RequestKind::Heartbeat(r) => r.group_id.0.as_str(),
        RequestKind::LeaveGroup(r) => r.group_id.0.as_str(),
        _ => return Gate::Pass(body, None),
    };
    if a.group(Op::Read, group) {
        return Gate::Pass(body, None);
    }
    match body {
        RequestKind::JoinGroup(_) => refuse_top!(JoinGroup, JoinGroupResponse, GROUP),
        RequestKind::SyncGroup(_) => refuse_top!(SyncGroup, SyncGroupResponse, GROUP),
        RequestKind::Heartbeat(_) => refuse_top!(Heartbeat, HeartbeatResponse, GROUP),
        _ => refuse_top!(LeaveGroup, LeaveGroupResponse, GROUP),
    }
}

/// OffsetCommit: every partition GROUP_AUTHORIZATION_FAILED without READ on the group; topics
/// without READ TOPIC_AUTHORIZATION_FAILED.
pub(super) fn offset_commit(a: &Authz, view: &MetadataView, mut r: OffsetCommitRequest) -> Gate {
    let group_ok = a.group(Op::Read, r.group_id.0.as_str());
    let denied = split(&mut r.topics, |t| {
        group_ok && topic_name(view, &t.name, t.topic_id).is_none_or(|n| a.topic(Op::Read, &n))
    });
    if denied.is_empty() {
        return Gate::Pass(RequestKind::OffsetCommit(r), None);
    }
    let code = if group_ok { TOPIC } else { GROUP };
    let errors: Vec<offset_commit_response::OffsetCommitResponseTopic> = denied
        .iter()
        .map(|t| {
            let mut out = offset_commit_response::OffsetCommitResponseTopic::default();
            out.name = t.name.clone();
            out.topic_id = t.topic_id;
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e = offset_commit_response::OffsetCommitResponsePartition::default();
                    e.partition_index = p.partition_index;
                    e.error_code = code;
                    e
                })
                .collect();
            out
        })
        .collect();
    if !group_ok {
        let mut resp = OffsetCommitResponse::default();
        resp.topics = errors;
        return Gate::Refuse(ResponseKind::OffsetCommit(resp));
    }
    Gate::Pass(
        RequestKind::OffsetCommit(r),
        merge!(OffsetCommit, |resp| { resp.topics.extend(errors) }),
    )
}

/// A topic taken out of an OffsetFetch group: name, id, partitions.
type RefusedTopic = (String, uuid::Uuid, Vec<i32>);

/// OffsetFetch (as Kafka's `handleOffsetFetchRequest`): a group without DESCRIBE is
/// GROUP_AUTHORIZATION_FAILED; the offsets of topics without DESCRIBE are
/// TOPIC_AUTHORIZATION_FAILED (topics named) or left out (all topics asked for).
pub(super) fn offset_fetch(
    a: &Authz,
    view: &MetadataView,
    version: i16,
    mut r: OffsetFetchRequest,
) -> Gate {
    let metas = view.topics();
    let visible: HashSet<String> = metas
        .iter()
        .filter(|m| a.topic(Op::Describe, &m.name))
        .map(|m| m.name.clone())
        .collect();
    let visible_ids: HashSet<uuid::Uuid> = metas
        .iter()
        .filter(|m| visible.contains(&m.name))
        .map(|m| m.id)
        .collect();
    if version < 8 {
        if !a.group(Op::Describe, r.group_id.0.as_str()) {
            return refuse_top!(OffsetFetch, OffsetFetchResponse, GROUP);
        }
        let denied: Vec<(String, Vec<i32>)> = match r.topics.as_mut() {
            Some(ts) => split(ts, |t| a.topic(Op::Describe, t.name.0.as_str()))
                .into_iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes))
                .collect(),
            None => Vec::new(),
        };
        let all = r.topics.is_none();
        return Gate::Pass(
            RequestKind::OffsetFetch(r),
            merge!(OffsetFetch, |resp| {
                if all {
                    resp.topics.retain(|t| visible.contains(t.name.0.as_str()));
                }
                for (n, parts) in denied {
                    let mut t = offset_fetch_response::OffsetFetchResponseTopic::default();
                    t.name = super::merge::tn(&n);
                    t.partitions = parts
                        .into_iter()
                        .map(|i| {
                            let mut p =
                                offset_fetch_response::OffsetFetchResponsePartition::default();
                            p.partition_index = i;
                            p.error_code = TOPIC;
                            p.committed_offset = -1;
                            p.committed_leader_epoch = -1;
                            p
                        })
                        .collect();
                    resp.topics.push(t);
                }
            }),
        );
    }
    let refused_groups: HashSet<String> = split(&mut r.groups, |g| {
        a.group(Op::Describe, g.group_id.0.as_str())
    })
    .into_iter()
    .map(|g| g.group_id.0.to_string())
    .collect();
    let mut denied_topics: Vec<(String, Vec<RefusedTopic>)> = Vec::new();
    let mut all_topics: HashSet<String> = HashSet::new();
    for g in &mut r.groups {
        match g.topics.as_mut() {
            None => {
                all_topics.insert(g.group_id.0.to_string());
            }
            Some(ts) => {
                let d = split(ts, |t| {
                    topic_name(view, &t.name, t.topic_id).is_none_or(|n| a.topic(Op::Describe, &n))
                });
                if !d.is_empty() {
                    denied_topics.push((
                        g.group_id.0.to_string(),
                        d.into_iter()
                            .map(|t| (t.name.0.to_string(), t.topic_id, t.partition_indexes))
                            .collect(),
                    ));
                }
            }
        }
    }
    Gate::Pass(
        RequestKind::OffsetFetch(r),
        merge!(OffsetFetch, |resp| {
            for g in &mut resp.groups {
                if all_topics.contains(g.group_id.0.as_str()) {
                    g.topics.retain(|t| {
                        if t.topic_id.is_nil() {
                            visible.contains(t.name.0.as_str())
                        } else {
                            visible_ids.contains(&t.topic_id)
                        }
                    });
                }
                if let Some((_, ts)) = denied_topics
                    .iter()
                    .find(|(id, _)| id == g.group_id.0.as_str())
                {
                    for (name, id, parts) in ts {
                        let mut t = offset_fetch_response::OffsetFetchResponseTopics::default();
                        t.name = super::merge::tn(name);
                        t.topic_id = *id;
                        t.partitions = parts
                            .iter()
                            .map(|p| {
                                let mut e =
                                    offset_fetch_response::OffsetFetchResponsePartitions::default();
                                e.partition_index = *p;
                                e.error_code = TOPIC;
                                e.committed_offset = -1;
                                e.committed_leader_epoch = -1;
                                e
                            })
                            .collect();
                        g.topics.push(t);
                    }
                }
            }
            for id in refused_groups {
                let mut g = offset_fetch_response::OffsetFetchResponseGroup::default();
                g.group_id = GroupId(kafka_protocol::protocol::StrBytes::from_string(id));
                g.error_code = GROUP;
                resp.groups.push(g);
            }
        }),
    )
}

/// OffsetDelete: DELETE on the group (top-level error), READ on each topic.
pub(super) fn offset_delete(a: &Authz, mut r: OffsetDeleteRequest) -> Gate {
    if !a.group(Op::Delete, r.group_id.0.as_str()) {
        return refuse_top!(OffsetDelete, OffsetDeleteResponse, GROUP);
    }
    let denied = split(&mut r.topics, |t| a.topic(Op::Read, t.name.0.as_str()));
    if denied.is_empty() {
        return Gate::Pass(RequestKind::OffsetDelete(r), None);
    }
    let errors: Vec<offset_delete_response::OffsetDeleteResponseTopic> = denied
        .iter()
        .map(|t| {
            let mut out = offset_delete_response::OffsetDeleteResponseTopic::default();
            out.name = t.name.clone();
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e = offset_delete_response::OffsetDeleteResponsePartition::default();
                    e.partition_index = p.partition_index;
                    e.error_code = TOPIC;
                    e
                })
                .collect();
            out
        })
        .collect();
    Gate::Pass(
        RequestKind::OffsetDelete(r),
        merge!(OffsetDelete, |resp| { resp.topics.extend(errors) }),
    )
}

/// The groups of `names` the principal may not do `op` on.
fn by_group<'n>(a: &Authz, op: Op, names: impl Iterator<Item = &'n str>) -> HashSet<String> {
    names
        .filter(|g| !a.group(op, g))
        .map(str::to_string)
        .collect()
}

/// ListGroups: everything with DESCRIBE on the cluster, else the groups with DESCRIBE.
pub(super) fn list_groups(a: &Authz, r: ListGroupsRequest) -> Gate {
    if a.cluster(Op::Describe) {
        return Gate::Pass(RequestKind::ListGroups(r), None);
    }
    // The listed groups are filtered with this request's ACL snapshot.
    let a = a.clone();
    Gate::Pass(
        RequestKind::ListGroups(r),
        merge!(ListGroups, |resp| {
            resp.groups
                .retain(|g| a.group(Op::Describe, g.group_id.0.as_str()))
        }),
    )
}

/// DeleteGroups: DELETE per group.
pub(super) fn delete_groups(a: &Authz, mut r: DeleteGroupsRequest) -> Gate {
    let denied = by_group(a, Op::Delete, r.groups_names.iter().map(|g| g.0.as_str()));
    if denied.is_empty() {
        return Gate::Pass(RequestKind::DeleteGroups(r), None);
    }
    r.groups_names.retain(|g| !denied.contains(g.0.as_str()));
    let errors: Vec<delete_groups_response::DeletableGroupResult> = denied
        .into_iter()
        .map(|g| {
            let mut e = delete_groups_response::DeletableGroupResult::default();
            e.group_id = GroupId(kafka_protocol::protocol::StrBytes::from_string(g));
            e.error_code = GROUP;
            e
        })
        .collect();
    Gate::Pass(
        RequestKind::DeleteGroups(r),
        merge!(DeleteGroups, |resp| { resp.results.extend(errors) }),
    )
}

/// A group description API: groups without DESCRIBE are GROUP_AUTHORIZATION_FAILED; the
/// others' authorized operations, when asked for, are the requester's.
macro_rules! describe_gate {
    ($a:expr, $r:expr, $kind:ident, $ids:ident, $module:ident) => {{
        let mut r = $r;
        let denied = by_group($a, Op::Describe, r.$ids.iter().map(|g| g.0.as_str()));
        r.$ids.retain(|g| !denied.contains(g.0.as_str()));
        let errors: Vec<$module::DescribedGroup> = denied
            .into_iter()
            .map(|g| {
                let mut e = $module::DescribedGroup::default();
                e.group_id = GroupId(kafka_protocol::protocol::StrBytes::from_string(g));
                e.error_code = GROUP;
                e.authorized_operations = i32::MIN;
                e
            })
            .collect();
        let ops = r.include_authorized_operations.then(|| $a.clone());
        Gate::Pass(
            RequestKind::$kind(r),
            merge!($kind, |resp| {
                if let Some(a) = &ops {
                    for g in resp.groups.iter_mut().filter(|g| g.error_code == 0) {
                        g.authorized_operations =
                            a.authorized_operations(ResourceType::Group, g.group_id.0.as_str());
                    }
                }
                resp.groups.extend(errors)
            }),
        )
    }};
}

/// DescribeGroups, ConsumerGroupDescribe, ShareGroupDescribe: DESCRIBE per group.
pub(super) fn describe_groups(a: &Authz, body: RequestKind) -> Gate {
    match body {
        RequestKind::DescribeGroups(r) => {
            describe_gate!(a, r, DescribeGroups, groups, describe_groups_response)
        }
        RequestKind::ConsumerGroupDescribe(r) => describe_gate!(
            a,
            r,
            ConsumerGroupDescribe,
            group_ids,
            consumer_group_describe_response
        ),
        RequestKind::ShareGroupDescribe(r) => describe_gate!(
            a,
            r,
            ShareGroupDescribe,
            group_ids,
            share_group_describe_response
        ),
        other => Gate::Pass(other, None),
    }
}

/// ConsumerGroupHeartbeat / ShareGroupHeartbeat: READ on the group, DESCRIBE on every
/// subscribed topic (else TOPIC_AUTHORIZATION_FAILED), both top-level errors.
pub(super) fn heartbeat(a: &Authz, body: RequestKind) -> Gate {
    let (group, topics) = match &body {
        RequestKind::ConsumerGroupHeartbeat(r) => {
            (r.group_id.0.as_str(), r.subscribed_topic_names.as_deref())
        }
        RequestKind::ShareGroupHeartbeat(r) => {
            (r.group_id.0.as_str(), r.subscribed_topic_names.as_deref())
        }
        _ => return Gate::Pass(body, None),
    };
    let code = if !a.group(Op::Read, group) {
        GROUP
    } else if topics
        .unwrap_or_default()
        .iter()
        .any(|t| !a.topic(Op::Describe, t.0.as_str()))
    {
        TOPIC
    } else {
        return Gate::Pass(body, None);
    };
    match body {
        RequestKind::ConsumerGroupHeartbeat(_) => {
            refuse_top!(ConsumerGroupHeartbeat, ConsumerGroupHeartbeatResponse, code)
        }
        _ => refuse_top!(ShareGroupHeartbeat, ShareGroupHeartbeatResponse, code),
    }
}

/// ShareFetch / ShareAcknowledge: READ on the group (top-level error), READ on each topic
/// (TOPIC_AUTHORIZATION_FAILED per partition).
pub(super) fn share(a: &Authz, view: &MetadataView, body: RequestKind) -> Gate {
    let read = |id: uuid::Uuid| {
        view.topic_by_id(id)
            .is_none_or(|m| a.topic(Op::Read, &m.name))
    };
    match body {
        RequestKind::ShareFetch(mut r) => {
            if !a.group(Op::Read, r.group_id.as_ref().map_or("", |g| g.0.as_str())) {
                return refuse_top!(ShareFetch, ShareFetchResponse, GROUP);
            }
            let denied = split(&mut r.topics, |t| read(t.topic_id));
            let errors: Vec<share_fetch_response::ShareFetchableTopicResponse> = denied
                .iter()
                .map(|t| {
                    let mut out = share_fetch_response::ShareFetchableTopicResponse::default();
                    out.topic_id = t.topic_id;
                    out.partitions = t
                        .partitions
                        .iter()
                        .map(|p| {
                            let mut e = share_fetch_response::PartitionData::default();
                            e.partition_index = p.partition_index;
                            e.error_code = TOPIC;
                            e.records = Some(bytes::Bytes::new());
                            e
                        })
                        .collect();
                    out
                })
                .collect();
            Gate::Pass(
                RequestKind::ShareFetch(r),
                merge!(ShareFetch, |resp| { resp.responses.extend(errors) }),
            )
        }
        RequestKind::ShareAcknowledge(mut r) => {
            if !a.group(Op::Read, r.group_id.as_ref().map_or("", |g| g.0.as_str())) {
                return refuse_top!(ShareAcknowledge, ShareAcknowledgeResponse, GROUP);
            }
            let denied = split(&mut r.topics, |t| read(t.topic_id));
            let errors: Vec<share_acknowledge_response::ShareAcknowledgeTopicResponse> = denied
                .iter()
                .map(|t| {
                    let mut out =
                        share_acknowledge_response::ShareAcknowledgeTopicResponse::default();
                    out.topic_id = t.topic_id;
                    out.partitions = t
                        .partitions
                        .iter()
                        .map(|p| {
                            let mut e = share_acknowledge_response::PartitionData::default();
                            e.partition_index = p.partition_index;
                            e.error_code = TOPIC;
                            e
                        })
                        .collect();
                    out
                })
                .collect();
            Gate::Pass(
                RequestKind::ShareAcknowledge(r),
                merge!(ShareAcknowledge, |resp| { resp.responses.extend(errors) }),
            )
        }
        other => Gate::Pass(other, None),
    }
}
