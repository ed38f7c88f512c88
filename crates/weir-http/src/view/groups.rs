//! Consumer groups for the console: the classic and KIP-848 groups this broker coordinates, their
//! members and assignments, committed offsets and lag.

use std::collections::BTreeMap;

use serde::Serialize;
use weir_broker::groups::GroupDetail;
use weir_log::TopicPartition;

use super::OpsView;

/// A consumer group this broker coordinates.
#[derive(Debug, Serialize)]
pub struct GroupRow {
    /// Group id.
    pub group: String,
    /// Kafka's state name.
    pub state: String,
    /// `classic`, `consumer` or `share`.
    pub group_type: String,
    /// Members with their assigned partitions.
    pub members: Vec<MemberRow>,
    /// Committed offsets with their lag (partitions with a local replica have a lag).
    pub offsets: Vec<GroupOffset>,
    /// Sum of the known lags.
    pub total_lag: i64,
}

/// One committed offset of a group.
#[derive(Debug, Serialize)]
pub struct GroupOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The committed offset (a share group: the share-partition start offset).
    pub committed: i64,
    /// High watermark minus committed (a share group: Kafka's share-partition lag), None
    /// without a local replica (a share group: where this broker does not lead the partition).
    pub lag: Option<i64>,
}

/// One member of a group.
#[derive(Debug, Serialize)]
pub struct MemberRow {
    /// Member id.
    pub member_id: String,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub host: String,
    /// Assigned partitions as `topic-partition` (empty while a classic group rebalances).
    pub assigned: Vec<String>,
}

impl OpsView<'_> {
    /// The consumer groups this broker coordinates, with their committed offsets and lag.
    pub fn groups(&self) -> Vec<GroupRow> {
        let logs = self.b.replicas.logs();
        let mut out = Vec::new();
        for g in self.b.groups.list_groups(&[], &[]) {
            let committed = self
                .b
                .groups
                .fetch(&g.group_id, None, None)
                .unwrap_or_default();
            let mut offsets: BTreeMap<(String, i32), GroupOffset> = BTreeMap::new();
            for (topic, partition, value) in committed {
                let Some(value) = value else { continue };
                let lag = logs
                    .get(&TopicPartition::new(topic.clone(), partition))
                    .map(|log| (log.high_watermark() - value.offset).max(0));
                offsets.insert(
                    (topic.clone(), partition),
                    GroupOffset {
                        topic,
                        partition,
                        committed: value.offset,
                        lag,
                    },
                );
            }
            let offsets: Vec<GroupOffset> = offsets.into_values().collect();
            let members = self
                .b
                .groups
                .describe_groups(std::slice::from_ref(&g.group_id))
                .into_iter()
                .next()
                .and_then(|d| d.ok().flatten())
                .map(|d| members(&d.detail))
                .unwrap_or_default();
            out.push(GroupRow {
                members,
                total_lag: offsets.iter().filter_map(|o| o.lag).sum(),
                group: g.group_id,
                state: g.state.to_string(),
                group_type: g.group_type.to_string(),
                offsets,
            });
        }
        out
    }
}

/// The members of a described group with their assignments.
fn members(detail: &GroupDetail) -> Vec<MemberRow> {
    match detail {
        GroupDetail::Classic(c) => c
            .members
            .iter()
            .map(|m| MemberRow {
                member_id: m.member_id.clone(),
                client_id: m.client_id.clone(),
                host: m.client_host.clone(),
                assigned: consumer_assignment(&m.assignment).unwrap_or_default(),
            })
            .collect(),
        GroupDetail::Consumer(c) => c
            .members
            .iter()
            .map(|m| MemberRow {
                member_id: m.member_id.clone(),
                client_id: m.client_id.clone(),
                host: m.client_host.clone(),
                assigned: m
                    .assigned
                    .iter()
                    .flat_map(|(t, ps)| ps.iter().map(move |p| format!("{t}-{p}")))
                    .collect(),
            })
            .collect(),
    }
}

/// Decode a classic consumer-protocol assignment (`version: i16`, then `[topic: string,
/// [partition: i32]]`; user data after it is ignored) into `topic-partition` names. None when the
/// bytes are not one (another protocol type, or truncated).
fn consumer_assignment(buf: &[u8]) -> Option<Vec<String>> {
    fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if buf.len() < n {
            return None;
        }
        let (head, rest) = buf.split_at(n);
        *buf = rest;
        Some(head)
    }
    let i16_at = |b: &mut &[u8]| take(b, 2).map(|x| i16::from_be_bytes([x[0], x[1]]));
    let i32_at = |b: &mut &[u8]| take(b, 4).map(|x| i32::from_be_bytes([x[0], x[1], x[2], x[3]]));
    if buf.is_empty() {
        return Some(Vec::new());
    }
    let mut b = buf;
    i16_at(&mut b)?; // version
    let topics = i32_at(&mut b)?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let len = usize::try_from(i16_at(&mut b)?).ok()?;
        let topic = std::str::from_utf8(take(&mut b, len)?).ok()?.to_string();
        let parts = i32_at(&mut b)?;
        for _ in 0..parts.max(0) {
            out.push(format!("{topic}-{}", i32_at(&mut b)?));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::consumer_assignment;

    #[test]
    fn decodes_a_consumer_protocol_assignment_and_refuses_garbage() {
        let mut b = vec![
            0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3,
        ];
        assert_eq!(
            consumer_assignment(&b),
            Some(vec!["t-0".to_string(), "t-3".to_string()])
        );
        b.truncate(15);
        assert_eq!(consumer_assignment(&b), None);
        assert_eq!(consumer_assignment(&[]), Some(vec![]));
        assert_eq!(consumer_assignment(&[0, 1, 0x7f, 0xff, 0xff, 0xff]), None);
    }
}
