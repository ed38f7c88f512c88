//! DescribeLogDirs (key 35): the partitions in each of this broker's log directories, their
//! sizes, the volumes' space (v4+) and cordoned flag (v5); offline dirs as KAFKA_STORAGE_ERROR.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::error::BrokerError;
use crate::replica::manager::ReplicaManager;

/// Answer as Kafka's `ReplicaManager.describeLogDirs`: one result per entry of `log.dirs` (its
/// absolute path), listing each partition placed in it — every one when `topics` is null, else
/// those requested — with its size in bytes (all segments), `offset_lag` max(high watermark − log
/// end, 0) (Kafka's formula for a current log: 0) and `is_future_key` false (a move in progress
/// is not listed: Weir copies into the new dir and switches under the partition's lock, see
/// `weir_log::LogManager::move_partition`). Topics left without partitions are omitted. An
/// offline dir (a write or fsync failed) answers KAFKA_STORAGE_ERROR with no partitions, as
/// Kafka. v4+: the volume's total and usable bytes (`statvfs`; a failed lookup makes the result
/// KAFKA_STORAGE_ERROR, as an offline directory in Kafka). v5: `is_cordoned` is false — Weir has
/// no cordoned log directories (KIP-1066). The CLUSTER DESCRIBE check is in `authz`.
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
    let mut resp = DescribeLogDirsResponse::default();
    resp.throttle_time_ms = 0;
    resp.error_code = 0;
    resp.results = logs
        .dir_statuses()
        .into_iter()
        .map(|status| describe_dir(logs, status, wanted.as_ref()))
        .collect();
    resp
}

fn describe_dir(
    logs: &weir_log::LogManager,
    status: weir_log::LogDirStatus,
    wanted: Option<&BTreeSet<(String, i32)>>,
) -> DescribeLogDirsResult {
    let dir = std::path::absolute(&status.path).unwrap_or(status.path);
    let mut result = DescribeLogDirsResult::default();
    result.log_dir = StrBytes::from_string(dir.display().to_string());
    result.is_cordoned = false;
    if status.offline.is_some() {
        result.error_code = ResponseError::KafkaStorageError.code();
        return result;
    }
    match weir_log::volume_space(&dir) {
        Ok(space) => {
            result.error_code = 0;
            result.total_bytes = java_long(space.total_bytes);
            result.usable_bytes = java_long(space.usable_bytes);
        }
        Err(e) => {
            result.error_code = BrokerError::from(e).code();
            return result;
        }
    }
    let mut topics: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for tp in status.partitions {
        if let Some(w) = wanted {
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
    result
}

/// A byte count as Kafka's int64 (Kafka's `adjustForLargeFileSystems`: what does not fit is
/// `Long.MAX_VALUE`).
fn java_long(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
