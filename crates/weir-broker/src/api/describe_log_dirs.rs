//! DescribeLogDirs (key 35): the partitions in this broker's log directory, their sizes, and
//! the volume's space (v4+) and cordoned flag (v5).

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::error::BrokerError;
use crate::replica::manager::ReplicaManager;

/// Answer as Kafka's `ReplicaManager.describeLogDirs`: one result for the log directory (its
/// absolute path; Weir keeps every partition in the first `log.dirs` entry), listing each open
/// partition log — every one when `topics` is null, else those requested — with its size in
/// bytes (all segments), `offset_lag` max(high watermark − log end, 0) (Kafka's formula for a
/// current log: 0) and `is_future_key` false (Weir has no AlterReplicaLogDirs). Topics left
/// without partitions are omitted. v4+: the volume's total and usable bytes (`statvfs`; a
/// failed lookup makes the result KAFKA_STORAGE_ERROR, as an offline directory in Kafka). v5:
/// `is_cordoned` is false — Weir has no cordoned log directories (KIP-1066). Weir has no ACLs,
/// so the CLUSTER DESCRIBE check Kafka makes always passes.
pub async fn handle(
    replicas: &ReplicaManager,
    _version: i16,
    req: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let wanted: Option<BTreeSet<(String, i32)>> = req.topics.map(|topics| {
        topics
            .iter()
            .flat_map(|t| {
                let name = t.topic.0.as_str().to_string();
                t.partitions.iter().map(move |p| (name.clone(), *p))
            })
            .collect()
    });
    let logs = replicas.logs();
    let dir = logs.log_dir();
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let mut result = DescribeLogDirsResult::default();
    result.log_dir = StrBytes::from_string(dir.display().to_string());
    match weir_log::volume_space(&dir) {
        Ok(space) => {
            result.error_code = 0;
            result.total_bytes = java_long(space.total_bytes);
            result.usable_bytes = java_long(space.usable_bytes);
        }
        Err(e) => {
            result.error_code = BrokerError::from(e).code();
            let mut resp = DescribeLogDirsResponse::default();
            resp.results = vec![result];
            return resp;
        }
    }
    result.is_cordoned = false;
    let mut topics: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    let mut open = logs.partitions_open();
    open.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    for tp in open {
        if let Some(w) = &wanted {
            if !w.contains(&(tp.topic.clone(), tp.partition)) {
                continue;
            }
        }
        let Some(log) = logs.get(&tp) else {
            continue;
        };
        let mut p = DescribeLogDirsPartition::default();
        p.partition_index = tp.partition;
        p.partition_size = java_long(log.size_bytes());
        p.offset_lag = (log.high_watermark() - log.log_end_offset()).max(0);
        p.is_future_key = false;
        topics.entry(tp.topic).or_default().push(p);
    }
    result.topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = DescribeLogDirsTopic::default();
            t.name = TopicName(StrBytes::from_string(name));
            t.partitions = partitions;
            t
        })
        .collect();
    let mut resp = DescribeLogDirsResponse::default();
    resp.throttle_time_ms = 0;
    resp.error_code = 0;
    resp.results = vec![result];
    resp
}

/// A byte count as Kafka's int64 (Kafka's `adjustForLargeFileSystems`: what does not fit is
/// `Long.MAX_VALUE`).
fn java_long(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
