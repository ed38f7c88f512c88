//! OffsetFetch (key 9): read committed offsets (v8+: several groups per request).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopics;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use weir_group_coordinator::offsets::Committer;
use weir_group_coordinator::records::OffsetValue;
use weir_group_coordinator::{FetchedOffset, GroupCoordinator};

use crate::metadata::view::MetadataView;

type Fetched = Vec<FetchedOffset>;
type ByTopic = Vec<(String, Vec<(i32, Option<OffsetValue>, i16)>)>;
/// Asked topics and their partitions, by name or (v10, unknown) by id.
type Asked<T> = Vec<(T, Vec<i32>)>;

/// Partitions without a committed offset answer offset -1 with no error; `topics` = null means
/// every committed partition of the group. v9 with a member id checks the KIP-848 member epoch
/// (STALE_MEMBER_EPOCH 113, UNKNOWN_MEMBER_ID 25) at the group level. NOT_COORDINATOR (16) when
/// another broker coordinates the group, COORDINATOR_LOAD_IN_PROGRESS (14) while its state
/// loads. Group-level errors go per group (v8+), at the top level (v2–v7) or, in v1, which has
/// no top-level error code, to every asked partition (offset -1). With `require_stable` (v7+,
/// KIP-447) a partition with a pending transactional offset answers UNSTABLE_OFFSET_COMMIT
/// (88) and offset -1. v10 (KIP-848) names topics by id, resolved through the metadata image:
/// an unknown id answers UNKNOWN_TOPIC_ID (100) for each asked partition (offset -1), after the
/// group's other topics; with `topics` = null, committed topics that no longer exist are left
/// out (they have no id), as Kafka does.
pub async fn handle(
    groups: &GroupCoordinator,
    view: &MetadataView,
    version: i16,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let mut resp = OffsetFetchResponse::default();
    let require_stable = version >= 7 && req.require_stable;
    if version >= 8 {
        resp.groups = req
            .groups
            .into_iter()
            .map(|g| {
                let who = g.member_id.as_ref().map(|m| Committer {
                    member_id: m.to_string(),
                    instance_id: None,
                    generation_or_epoch: g.member_epoch,
                });
                let (topics, unknown_ids) = match g.topics {
                    Some(ts) => {
                        let (known, unknown) = resolve(view, version, ts);
                        (Some(known), unknown)
                    }
                    None => (None, Vec::new()),
                };
                let mut rg = OffsetFetchResponseGroup::default();
                let fetched = groups
                    .check_coordinator(&g.group_id)
                    .map_err(|e| e.code())
                    .and_then(|()| {
                        groups
                            .fetch_offsets(&g.group_id, who.as_ref(), topics, require_stable)
                            .map_err(|e| e.code())
                    });
                match fetched {
                    Ok(rows) => {
                        rg.topics = group_topics(rows);
                        if version >= 10 {
                            with_topic_ids(view, &mut rg.topics);
                            rg.topics
                                .extend(unknown_ids.into_iter().map(unknown_topic_id));
                        }
                    }
                    Err(code) => rg.error_code = code,
                }
                rg.group_id = g.group_id;
                rg
            })
            .collect();
        return resp;
    }
    let topics: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.to_string(), t.partition_indexes))
            .collect()
    });
    let fetched = groups
        .check_coordinator(&req.group_id)
        .map_err(|e| e.code())
        .and_then(|()| {
            groups
                .fetch_offsets(&req.group_id, None, topics.clone(), require_stable)
                .map_err(|e| e.code())
        });
    match fetched {
        Ok(rows) => resp.topics = legacy_topics(rows),
        // v1 has no top-level error code: every asked partition carries it (as Kafka).
        Err(code) if version < 2 => {
            // Every asked partition carries the code (set in each row).
            resp.topics = legacy_topics(
                topics
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|(t, ps)| {
                        ps.into_iter().map(move |partition| FetchedOffset {
                            topic: t.clone(),
                            partition,
                            offset: None,
                            error_code: code,
                        })
                    })
                    .collect(),
            );
        }
        Err(code) => resp.error_code = code,
    }
    resp
}

/// The asked topics by name: as asked (v8–v9), or by id through the image (v10), with the
/// unknown ids and their partitions apart.
fn resolve(
    view: &MetadataView,
    version: i16,
    topics: Vec<OffsetFetchRequestTopics>,
) -> (Asked<String>, Asked<Uuid>) {
    let mut known = Vec::with_capacity(topics.len());
    let mut unknown = Vec::new();
    for t in topics {
        if version < 10 {
            known.push((t.name.to_string(), t.partition_indexes));
        } else if let Some(m) = view.topic_by_id(t.topic_id) {
            known.push((m.name, t.partition_indexes));
        } else {
            unknown.push((t.topic_id, t.partition_indexes));
        }
    }
    (known, unknown)
}

/// v10: each topic named by its id; a committed topic the image no longer has is dropped.
fn with_topic_ids(view: &MetadataView, topics: &mut Vec<OffsetFetchResponseTopics>) {
    topics.retain_mut(|t| match view.topic(t.name.0.as_str()) {
        Some(m) => {
            t.topic_id = m.id;
            true
        }
        None => false,
    });
}

/// v10: an unknown topic id, each asked partition UNKNOWN_TOPIC_ID with offset -1.
fn unknown_topic_id((id, partitions): (Uuid, Vec<i32>)) -> OffsetFetchResponseTopics {
    let mut rt = OffsetFetchResponseTopics::default();
    rt.topic_id = id;
    rt.partitions = partitions
        .into_iter()
        .map(|p| {
            let mut rp = OffsetFetchResponsePartitions::default();
            rp.partition_index = p;
            rp.error_code = ResponseError::UnknownTopicId.code();
            (rp.committed_offset, rp.committed_leader_epoch, rp.metadata) = fields(&None);
            rp
        })
        .collect();
    rt
}

fn grouped(rows: Fetched) -> ByTopic {
    let mut out: ByTopic = Vec::new();
    for f in rows {
        let row = (f.partition, f.offset, f.error_code);
        match out.iter_mut().find(|(name, _)| *name == f.topic) {
            Some((_, ps)) => ps.push(row),
            None => out.push((f.topic, vec![row])),
        }
    }
    out
}

fn fields(v: &Option<OffsetValue>) -> (i64, i32, Option<StrBytes>) {
    match v {
        Some(v) => (
            v.offset,
            v.leader_epoch,
            Some(StrBytes::from_string(v.metadata.clone())),
        ),
        None => (-1, -1, Some(StrBytes::from_static_str(""))),
    }
}

fn legacy_topics(rows: Fetched) -> Vec<OffsetFetchResponseTopic> {
    grouped(rows)
        .into_iter()
        .map(|(t, ps)| {
            let mut rt = OffsetFetchResponseTopic::default();
            rt.name = TopicName(StrBytes::from_string(t));
            rt.partitions = ps
                .into_iter()
                .map(|(p, v, code)| {
                    let mut rp = OffsetFetchResponsePartition::default();
                    rp.partition_index = p;
                    rp.error_code = code;
                    (rp.committed_offset, rp.committed_leader_epoch, rp.metadata) = fields(&v);
                    rp
                })
                .collect();
            rt
        })
        .collect()
}

fn group_topics(rows: Fetched) -> Vec<OffsetFetchResponseTopics> {
    grouped(rows)
        .into_iter()
        .map(|(t, ps)| {
            let mut rt = OffsetFetchResponseTopics::default();
            rt.name = TopicName(StrBytes::from_string(t));
            rt.partitions = ps
                .into_iter()
                .map(|(p, v, code)| {
                    let mut rp = OffsetFetchResponsePartitions::default();
                    rp.partition_index = p;
                    rp.error_code = code;
                    (rp.committed_offset, rp.committed_leader_epoch, rp.metadata) = fields(&v);
                    rp
                })
                .collect();
            rt
        })
        .collect()
}
