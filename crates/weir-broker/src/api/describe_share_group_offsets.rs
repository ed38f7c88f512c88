//! DescribeShareGroupOffsets (key 90, v0–v1): the share-partition start offsets of share
//! groups this broker coordinates, and (v1, KIP-1226) their lag. A partition whose state was
//! never initialized answers start offset -1; with no topics given (null), every partition
//! with state is described. For a group id no group has, only
//! partitions with state are listed (as Kafka: none). Group errors: INVALID_GROUP_ID (empty),
//! NOT_COORDINATOR,
//! COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS; partition errors:
//! UNKNOWN_TOPIC_OR_PARTITION and the share coordinator's.

use kafka_protocol::messages::describe_share_group_offsets_response::{
    DescribeShareGroupOffsetsResponseGroup as Group,
    DescribeShareGroupOffsetsResponsePartition as Partition,
    DescribeShareGroupOffsetsResponseTopic as Topic,
};
use kafka_protocol::messages::{
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::BrokerError;
use crate::metadata::topic_meta::TopicMeta;
use crate::metadata::view::MetadataView;
use crate::share::groups::ShareGroupCoordinator;
use crate::share::manager::{share_key, SharePartitionManager};
use crate::share::offsets::{check_partition, require_group};

/// One result per requested group (see the module docs).
pub async fn handle(
    groups: &ShareGroupCoordinator,
    share: &SharePartitionManager,
    view: &MetadataView,
    version: i16,
    req: DescribeShareGroupOffsetsRequest,
) -> DescribeShareGroupOffsetsResponse {
    let mut resp = DescribeShareGroupOffsetsResponse::default();
    for g in req.groups {
        let mut out = Group::default();
        out.group_id = g.group_id.clone();
        let group = g.group_id.as_str();
        let known = match require_group(groups, group, false).await {
            Ok(known) => known,
            Err(e) => {
                out.error_code = e.code();
                out.error_message = Some(StrBytes::from_string(e.message()));
                resp.groups.push(out);
                continue;
            }
        };
        match g.topics {
            Some(topics) => {
                for t in topics {
                    let meta = view.topic(t.topic_name.as_str());
                    let mut topic = topic_result(t.topic_name.as_str(), meta.as_ref());
                    for p in t.partitions {
                        let r = match check_partition(meta.as_ref(), t.topic_name.as_str(), p) {
                            Ok(()) => {
                                let id = meta.as_ref().map(|m| m.id).unwrap_or_default();
                                let key = share_key(group, id, p);
                                share.describe_offset(&key, t.topic_name.as_str()).await
                            }
                            Err(e) => Err(e),
                        };
                        // A group no group has: only the state that exists (Kafka lists none).
                        if !known && !matches!(&r, Ok(o) if o.start_offset >= 0) {
                            continue;
                        }
                        topic.partitions.push(partition_result(p, r, version));
                    }
                    if known || !topic.partitions.is_empty() {
                        out.topics.push(topic);
                    }
                }
            }
            None => {
                for meta in view.topics() {
                    if meta.name.starts_with("__") {
                        continue;
                    }
                    let mut topic = topic_result(&meta.name, Some(&meta));
                    for p in 0..meta.partitions {
                        let key = share_key(group, meta.id, p);
                        let r = share.describe_offset(&key, &meta.name).await;
                        if matches!(&r, Ok(o) if o.start_offset < 0) {
                            continue;
                        }
                        topic.partitions.push(partition_result(p, r, version));
                    }
                    if !topic.partitions.is_empty() {
                        out.topics.push(topic);
                    }
                }
            }
        }
        resp.groups.push(out);
    }
    resp
}

fn topic_result(name: &str, meta: Option<&TopicMeta>) -> Topic {
    let mut t = Topic::default();
    t.topic_name = TopicName(StrBytes::from_string(name.to_string()));
    t.topic_id = meta.map(|m| m.id).unwrap_or_default();
    t
}

fn partition_result(
    index: i32,
    r: Result<crate::share::offsets::ShareOffset, BrokerError>,
    version: i16,
) -> Partition {
    let mut p = Partition::default();
    p.partition_index = index;
    match r {
        Ok(o) => {
            p.start_offset = o.start_offset;
            p.leader_epoch = o.leader_epoch;
            // Lag is a v1 field; v0 answers carry none.
            p.lag = if version >= 1 { o.lag } else { -1 };
        }
        Err(e) => {
            p.start_offset = -1;
            p.leader_epoch = -1;
            p.error_code = e.code();
            p.error_message = Some(StrBytes::from_string(e.message()));
        }
    }
    p
}
