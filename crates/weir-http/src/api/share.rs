//! Share groups (KIP-932) for the console: the share groups this broker coordinates with their
//! members and assignments, and per share-partition the start offset and lag exactly as
//! DescribeShareGroupOffsets v1 gives them (read from the durable share state: the lag is the
//! high watermark − start offset − records already delivered above it, known where this broker
//! leads the partition); and the console's offset reset for a share group, which is
//! AlterShareGroupOffsets (refused while the group has members).
//!
//! The share state is read through the share-state persister (a local read, or a request to the
//! broker that coordinates it), so this is async and bounded: at most
//! [`MAX_SHARE_PARTITIONS`] share-partitions per group are looked up.

use std::collections::BTreeSet;

use weir_broker::share::manager::share_key;
use weir_broker::share::offsets::require_group;
use weir_broker::Broker;

use super::common::ApiError;
use crate::view::groups::{GroupOffset, GroupRow, MemberRow};

/// The most share-partitions looked up per group (an empty group's lookup goes over every
/// topic's partitions, as DescribeShareGroupOffsets without a topic list).
pub const MAX_SHARE_PARTITIONS: usize = 1000;

/// Every share group this broker coordinates, as console rows (`group_type` "share"; an offset's
/// `committed` is the share-partition start offset, its `lag` Kafka's share-partition lag).
/// Share-partitions without state (never consumed, or deleted) are left out.
pub async fn share_groups(b: &Broker) -> Vec<GroupRow> {
    let mut out = Vec::new();
    for (group, state) in b.share_groups.list() {
        let Ok(d) = b.share_groups.describe(&group).await else {
            continue;
        };
        let name_of = |id: [u8; 16]| {
            b.view
                .topic_by_id(uuid::Uuid::from_bytes(id))
                .map(|t| t.name)
        };
        let members: Vec<MemberRow> = d
            .members
            .iter()
            .map(|m| MemberRow {
                member_id: m.member_id.clone(),
                client_id: m.client_id.clone(),
                host: m.client_host.clone(),
                assigned: m
                    .assignment
                    .iter()
                    .flat_map(|(id, ps)| {
                        let name = name_of(id.0).unwrap_or_else(|| id.to_string());
                        ps.iter().map(move |p| format!("{name}-{p}"))
                    })
                    .collect(),
            })
            .collect();
        // The topics the members subscribe to or are assigned; with no members, every topic
        // (as DescribeShareGroupOffsets without a topic list).
        let mut topics: BTreeSet<String> = d
            .members
            .iter()
            .flat_map(|m| m.subscribed_topic_names.iter().cloned())
            .chain(
                d.members
                    .iter()
                    .flat_map(|m| m.assignment.iter().filter_map(|(id, _)| name_of(id.0))),
            )
            .collect();
        if d.members.is_empty() {
            topics = b
                .view
                .topics()
                .into_iter()
                .map(|t| t.name)
                .filter(|n| !n.starts_with("__"))
                .collect();
        }
        let (mut offsets, mut looked_up) = (Vec::new(), 0);
        'topics: for topic in topics {
            let Some(meta) = b.view.topic(&topic) else {
                continue;
            };
            for p in 0..meta.partitions {
                if looked_up >= MAX_SHARE_PARTITIONS {
                    break 'topics;
                }
                looked_up += 1;
                let key = share_key(&group, meta.id, p);
                match b.share.describe_offset(&key, &topic).await {
                    Ok(o) if o.start_offset >= 0 => offsets.push(GroupOffset {
                        topic: topic.clone(),
                        partition: p,
                        committed: o.start_offset,
                        lag: (o.lag >= 0).then_some(o.lag),
                    }),
                    _ => {}
                }
            }
        }
        out.push(GroupRow {
            total_lag: offsets.iter().filter_map(|o| o.lag).sum(),
            group,
            state: state.to_string(),
            group_type: "share".into(),
            members,
            offsets,
        });
    }
    out
}

/// AlterShareGroupOffsets of `topic`'s partitions to `offsets` (partition, start offset) in the
/// share group `group`: 400 with the reason when the group has members or is not coordinated
/// here, or a share-state write fails.
pub async fn reset(
    b: &Broker,
    group: &str,
    topic: &str,
    offsets: &[(i32, i64)],
) -> Result<(), ApiError> {
    let refused = |e: weir_broker::BrokerError| ApiError::bad_request(e.message());
    require_group(&b.share_groups, group, true)
        .await
        .map_err(refused)?;
    let meta = b
        .view
        .topic(topic)
        .ok_or_else(|| ApiError::not_found(format!("no topic {topic}")))?;
    for (p, offset) in offsets {
        b.share
            .alter_offset(&share_key(group, meta.id, *p), *offset)
            .await
            .map_err(refused)?;
    }
    Ok(())
}
