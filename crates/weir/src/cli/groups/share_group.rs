//! `weir groups describe|reset-offsets` of a share group (KIP-932), like
//! `kafka-share-groups.sh --describe` / `--reset-offsets`: members from ShareGroupDescribe,
//! per partition the start offset and lag from DescribeShareGroupOffsets v1, the in-flight and
//! archived record counts from the share coordinator's ReadShareGroupState (when it answers),
//! and resets through AlterShareGroupOffsets (refused while the group has members).

use kafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
use kafka_protocol::messages::read_share_group_state_request::{PartitionData, ReadStateData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::output::print_columns;
use crate::cli::raw::{call, failed};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// One member of a share group.
struct ShareMember {
    id: String,
    client_id: String,
    host: String,
    assignment: Vec<(String, Vec<i32>)>,
}

/// One share-partition of the group.
struct ShareRow {
    topic: String,
    partition: i32,
    start: i64,
    leader_epoch: i32,
    lag: Option<i64>,
    /// (in-flight, archived) records in the persisted state, when the coordinator answered.
    counts: Option<(i64, i64)>,
}

/// A described share group.
struct Described {
    state: String,
    members: Vec<ShareMember>,
}

fn describe_group(coordinator: &str, group: &str) -> Result<Described, String> {
    let mut req = ShareGroupDescribeRequest::default();
    req.group_ids = vec![GroupId(s(group))];
    let resp: ShareGroupDescribeResponse = call(coordinator, ApiKey::ShareGroupDescribe, 1, &req)?;
    let g = resp.groups.into_iter().next().ok_or("empty answer")?;
    if g.error_code != 0 {
        return Err(failed(
            &format!("describe share group {group}"),
            g.error_code,
            g.error_message.as_ref(),
        ));
    }
    let members = g
        .members
        .into_iter()
        .map(|m| ShareMember {
            id: m.member_id.to_string(),
            client_id: m.client_id.to_string(),
            host: m.client_host.to_string(),
            assignment: m
                .assignment
                .topic_partitions
                .into_iter()
                .map(|t| (t.topic_name.to_string(), t.partitions))
                .collect(),
        })
        .collect();
    Ok(Described {
        state: g.group_state.to_string(),
        members,
    })
}

/// Every initialized share-partition of `group` with its start offset and lag.
fn offsets(coordinator: &str, group: &str) -> Result<Vec<ShareRow>, String> {
    let mut g = DescribeShareGroupOffsetsRequestGroup::default();
    g.group_id = GroupId(s(group));
    g.topics = None;
    let mut req = DescribeShareGroupOffsetsRequest::default();
    req.groups = vec![g];
    let resp: DescribeShareGroupOffsetsResponse =
        call(coordinator, ApiKey::DescribeShareGroupOffsets, 1, &req)?;
    let g = resp.groups.into_iter().next().ok_or("empty answer")?;
    if g.error_code != 0 {
        return Err(failed(
            &format!("offsets of share group {group}"),
            g.error_code,
            g.error_message.as_ref(),
        ));
    }
    let mut rows = Vec::new();
    for t in g.topics {
        for p in t.partitions {
            if p.error_code != 0 {
                return Err(failed(
                    &format!("offsets of {}-{}", t.topic_name.as_str(), p.partition_index),
                    p.error_code,
                    p.error_message.as_ref(),
                ));
            }
            rows.push(ShareRow {
                topic: t.topic_name.to_string(),
                partition: p.partition_index,
                start: p.start_offset,
                leader_epoch: p.leader_epoch,
                lag: (p.lag >= 0).then_some(p.lag),
                counts: state_counts(coordinator, group, t.topic_id, p.partition_index),
            });
        }
    }
    rows.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(rows)
}

/// (in-flight, archived) record counts of one share-partition from its share coordinator
/// (FindCoordinator key type 2, then ReadShareGroupState); None when either does not answer.
fn state_counts(bootstrap: &str, group: &str, topic: uuid::Uuid, p: i32) -> Option<(i64, i64)> {
    let mut fc = FindCoordinatorRequest::default();
    fc.key_type = 2;
    fc.coordinator_keys = vec![s(&format!("{group}:{topic}:{p}"))];
    let resp: FindCoordinatorResponse = call(bootstrap, ApiKey::FindCoordinator, 6, &fc).ok()?;
    let c = resp.coordinators.into_iter().next()?;
    if c.error_code != 0 {
        return None;
    }
    let mut pd = PartitionData::default();
    pd.partition = p;
    pd.leader_epoch = -1;
    let mut t = ReadStateData::default();
    t.topic_id = topic;
    t.partitions = vec![pd];
    let mut req = ReadShareGroupStateRequest::default();
    req.group_id = s(group);
    req.topics = vec![t];
    let addr = format!("{}:{}", c.host, c.port);
    let resp: ReadShareGroupStateResponse =
        call(&addr, ApiKey::ReadShareGroupState, 0, &req).ok()?;
    let r = resp.results.into_iter().flat_map(|t| t.partitions).next()?;
    if r.error_code != 0 {
        return None;
    }
    let (mut in_flight, mut archived) = (0, 0);
    for b in r.state_batches {
        let n = b.last_offset - b.first_offset + 1;
        match b.delivery_state {
            // Acknowledged: delivery complete.
            2 => {}
            // Archived, or waiting for its dead-letter copy.
            3 | 4 => archived += n,
            _ => in_flight += n,
        }
    }
    Some((in_flight, archived))
}

/// `weir groups describe` of share group `group` (coordinator at `coordinator`).
pub(super) fn describe(coordinator: &str, group: &str, json: bool) -> Result<(), String> {
    let d = describe_group(coordinator, group)?;
    let rows = offsets(coordinator, group)?;
    if json {
        let members: Vec<_> = d
            .members
            .iter()
            .map(|m| {
                serde_json::json!({"member_id": m.id, "client_id": m.client_id, "host": m.host,
                "assignment": m.assignment.iter().map(|(t, ps)| serde_json::json!({"topic": t, "partitions": ps})).collect::<Vec<_>>()})
            })
            .collect();
        let offsets: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({"topic": r.topic, "partition": r.partition,
                "start_offset": r.start, "leader_epoch": r.leader_epoch, "lag": r.lag,
                "in_flight": r.counts.map(|c| c.0), "archived": r.counts.map(|c| c.1)})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"group": group, "type": "share", "state": d.state,
                "members": members, "offsets": offsets})
        );
        return Ok(());
    }
    println!(
        "Group: {group}  Type: share  State: {}  Members: {}",
        d.state,
        d.members.len()
    );
    let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
    let mut table: Vec<[String; 7]> = vec![[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "START-OFFSET",
        "LAG",
        "IN-FLIGHT",
        "ARCHIVED",
    ]
    .map(String::from)];
    for r in &rows {
        table.push([
            group.to_string(),
            r.topic.clone(),
            r.partition.to_string(),
            r.start.to_string(),
            opt(r.lag),
            opt(r.counts.map(|c| c.0)),
            opt(r.counts.map(|c| c.1)),
        ]);
    }
    print_columns(&table);
    if d.members.is_empty() {
        println!("Share group '{group}' has no active members.");
        return Ok(());
    }
    println!();
    let mut table: Vec<[String; 4]> =
        vec![["MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"].map(String::from)];
    for m in &d.members {
        let assignment: Vec<String> = m
            .assignment
            .iter()
            .map(|(t, ps)| {
                let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
                format!("{t}:{}", ps.join(","))
            })
            .collect();
        let dash = |v: &str| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.to_string()
            }
        };
        table.push([
            m.id.clone(),
            dash(&m.client_id),
            dash(&m.host),
            dash(&assignment.join(";")),
        ]);
    }
    print_columns(&table);
    Ok(())
}

/// Refuse (with a clear message) unless share group `group` is empty: Kafka's tool resets
/// only groups without members, and the broker answers NON_EMPTY_GROUP anyway.
pub(super) fn require_empty(coordinator: &str, group: &str) -> Result<(), String> {
    let d = describe_group(coordinator, group)?;
    if !d.members.is_empty() {
        return Err(format!(
            "reset offsets of share group {group}: offsets can only be reset while the group is \
             empty, but it is {} with {} member(s); stop its share consumers first",
            d.state,
            d.members.len()
        ));
    }
    Ok(())
}

/// AlterShareGroupOffsets of share group `group` to `plan` (topic, partition, new start
/// offset).
pub(super) fn alter(
    coordinator: &str,
    group: &str,
    plan: &[(String, i32, i64)],
) -> Result<(), String> {
    let mut req = AlterShareGroupOffsetsRequest::default();
    req.group_id = GroupId(s(group));
    for (topic, p, offset) in plan {
        let mut part = AlterShareGroupOffsetsRequestPartition::default();
        part.partition_index = *p;
        part.start_offset = *offset;
        match req
            .topics
            .iter_mut()
            .find(|t| t.topic_name.as_str() == topic)
        {
            Some(t) => t.partitions.push(part),
            None => {
                let mut t = AlterShareGroupOffsetsRequestTopic::default();
                t.topic_name = TopicName(s(topic));
                t.partitions = vec![part];
                req.topics.push(t);
            }
        }
    }
    let resp: AlterShareGroupOffsetsResponse =
        call(coordinator, ApiKey::AlterShareGroupOffsets, 0, &req)?;
    if resp.error_code != 0 {
        return Err(failed(
            &format!("reset offsets of share group {group}"),
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    for t in &resp.responses {
        for p in &t.partitions {
            if p.error_code != 0 {
                return Err(failed(
                    &format!(
                        "reset offsets of share group {group} on {}-{}",
                        t.topic_name.as_str(),
                        p.partition_index
                    ),
                    p.error_code,
                    p.error_message.as_ref(),
                ));
            }
        }
    }
    Ok(())
}
