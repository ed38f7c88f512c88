//! The checks of the share-group offset APIs (KIP-932 / KIP-1226): DescribeShareGroupOffsets
//! needs DESCRIBE on each group and topic (all topics asked for → only the visible ones),
//! AlterShareGroupOffsets READ on the group and each topic, DeleteShareGroupOffsets DELETE on the
//! group and READ on each topic.

use std::collections::{HashMap, HashSet};

use kafka_protocol::messages::*;
use weir_meta::acl::AclOperation as Op;

use super::merge::{merge, refuse_top, split, Gate, GROUP, TOPIC};
use super::Authz;
use crate::metadata::view::MetadataView;

/// A topic taken out of a DescribeShareGroupOffsets group, with its partitions.
type Refused = (TopicName, Vec<i32>);

/// DescribeShareGroupOffsets.
fn describe(a: &Authz, view: &MetadataView, mut r: DescribeShareGroupOffsetsRequest) -> Gate {
    use describe_share_group_offsets_response as resp_m;
    let refused_groups = split(&mut r.groups, |g| {
        a.group(Op::Describe, g.group_id.0.as_str())
    });
    let visible: HashSet<String> = view
        .topics()
        .into_iter()
        .map(|m| m.name)
        .filter(|n| a.topic(Op::Describe, n))
        .collect();
    // Per group: None = all topics (filter the answer), else the refused topics' partitions.
    let mut refused_topics: HashMap<String, Option<Vec<Refused>>> = HashMap::new();
    for g in &mut r.groups {
        let entry = g.topics.as_mut().map(|ts| {
            split(ts, |t| a.topic(Op::Describe, t.topic_name.0.as_str()))
                .into_iter()
                .map(|t| (t.topic_name, t.partitions))
                .collect()
        });
        refused_topics.insert(g.group_id.0.to_string(), entry);
    }
    Gate::Pass(
        RequestKind::DescribeShareGroupOffsets(r),
        merge!(DescribeShareGroupOffsets, |resp| {
            for g in resp.groups.iter_mut() {
                match refused_topics.get(g.group_id.0.as_str()) {
                    Some(None) => g
                        .topics
                        .retain(|t| visible.contains(t.topic_name.0.as_str())),
                    Some(Some(refused)) => {
                        for (name, parts) in refused {
                            let mut t = resp_m::DescribeShareGroupOffsetsResponseTopic::default();
                            t.topic_name = name.clone();
                            t.partitions = parts
                                .iter()
                                .map(|p| {
                                    let mut e =
                                        resp_m::DescribeShareGroupOffsetsResponsePartition::default(
                                        );
                                    e.partition_index = *p;
                                    e.error_code = TOPIC;
                                    e.start_offset = -1;
                                    e.leader_epoch = -1;
                                    e.lag = -1;
                                    e
                                })
                                .collect();
                            g.topics.push(t);
                        }
                    }
                    None => {}
                }
            }
            for g in refused_groups {
                let mut e = resp_m::DescribeShareGroupOffsetsResponseGroup::default();
                e.group_id = g.group_id;
                e.error_code = GROUP;
                resp.groups.push(e);
            }
        }),
    )
}

/// AlterShareGroupOffsets.
fn alter(a: &Authz, mut r: AlterShareGroupOffsetsRequest) -> Gate {
    use alter_share_group_offsets_response as resp_m;
    if !a.group(Op::Read, r.group_id.0.as_str()) {
        return refuse_top!(
            AlterShareGroupOffsets,
            AlterShareGroupOffsetsResponse,
            GROUP
        );
    }
    let denied = split(&mut r.topics, |t| {
        a.topic(Op::Read, t.topic_name.0.as_str())
    });
    if denied.is_empty() {
        return Gate::Pass(RequestKind::AlterShareGroupOffsets(r), None);
    }
    let errors: Vec<resp_m::AlterShareGroupOffsetsResponseTopic> = denied
        .into_iter()
        .map(|t| {
            let mut out = resp_m::AlterShareGroupOffsetsResponseTopic::default();
            out.topic_name = t.topic_name;
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e = resp_m::AlterShareGroupOffsetsResponsePartition::default();
                    e.partition_index = p.partition_index;
                    e.error_code = TOPIC;
                    e
                })
                .collect();
            out
        })
        .collect();
    Gate::Pass(
        RequestKind::AlterShareGroupOffsets(r),
        merge!(AlterShareGroupOffsets, |resp| {
            resp.responses.extend(errors)
        }),
    )
}

/// DeleteShareGroupOffsets.
fn delete(a: &Authz, mut r: DeleteShareGroupOffsetsRequest) -> Gate {
    use delete_share_group_offsets_response as resp_m;
    if !a.group(Op::Delete, r.group_id.0.as_str()) {
        return refuse_top!(
            DeleteShareGroupOffsets,
            DeleteShareGroupOffsetsResponse,
            GROUP
        );
    }
    let denied = split(&mut r.topics, |t| {
        a.topic(Op::Read, t.topic_name.0.as_str())
    });
    if denied.is_empty() {
        return Gate::Pass(RequestKind::DeleteShareGroupOffsets(r), None);
    }
    let errors: Vec<resp_m::DeleteShareGroupOffsetsResponseTopic> = denied
        .into_iter()
        .map(|t| {
            let mut e = resp_m::DeleteShareGroupOffsetsResponseTopic::default();
            e.topic_name = t.topic_name;
            e.error_code = TOPIC;
            e
        })
        .collect();
    Gate::Pass(
        RequestKind::DeleteShareGroupOffsets(r),
        merge!(DeleteShareGroupOffsets, |resp| {
            resp.responses.extend(errors)
        }),
    )
}

/// DescribeShareGroupOffsets, AlterShareGroupOffsets, DeleteShareGroupOffsets.
pub(super) fn share_offsets(a: &Authz, view: &MetadataView, body: RequestKind) -> Gate {
    match body {
        RequestKind::DescribeShareGroupOffsets(r) => describe(a, view, r),
        RequestKind::AlterShareGroupOffsets(r) => alter(a, r),
        RequestKind::DeleteShareGroupOffsets(r) => delete(a, r),
        other => Gate::Pass(other, None),
    }
}
