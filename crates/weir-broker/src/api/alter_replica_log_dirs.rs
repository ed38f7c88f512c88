//! AlterReplicaLogDirs (key 34): move replicas of this broker between its log dirs.

use std::path::Path;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::{AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse};
use weir_log::{LogManager, TopicPartition};

use crate::metadata::view::MetadataView;
use crate::replica::manager::ReplicaManager;

/// Answer as Kafka's `ReplicaManager.alterReplicaLogDirs`, per partition: LOG_DIR_NOT_FOUND when
/// the path is not an entry of `log.dirs` (compared as absolute paths), KAFKA_STORAGE_ERROR when
/// the destination dir or the replica's current dir is offline, UNKNOWN_TOPIC_OR_PARTITION when
/// the cluster has no such partition, REPLICA_NOT_AVAILABLE when this broker holds no replica of
/// it, else NONE and the move starts in the background
/// (as in Kafka, the answer does not wait for it; DescribeLogDirs shows the partition in its new
/// dir once it has switched). A replica already in that dir is left alone (NONE). How the move
/// copies and switches: `weir_log::LogManager::move_partition`. The CLUSTER ALTER check is in
/// `authz`.
pub async fn handle(
    replicas: &ReplicaManager,
    view: &MetadataView,
    _version: i16,
    req: AlterReplicaLogDirsRequest,
) -> AlterReplicaLogDirsResponse {
    let logs = replicas.logs().clone();
    let statuses = logs.dir_statuses();
    let mut resp = AlterReplicaLogDirsResponse::default();
    for dir in req.dirs {
        let path = dir.path.as_str();
        let dest = logs.dir_index(Path::new(path));
        for t in dir.topics {
            let partitions = view.topic(t.name.0.as_str()).map_or(0, |m| m.partitions);
            let mut out = AlterReplicaLogDirTopicResult::default();
            out.topic_name = t.name.clone();
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.0.as_str(), p);
                let code = match dest {
                    None => ResponseError::LogDirNotFound.code(),
                    Some(d) if statuses[d].offline.is_some() || logs.is_offline(&tp) => {
                        ResponseError::KafkaStorageError.code()
                    }
                    Some(_) if !(0..partitions).contains(&p) => {
                        ResponseError::UnknownTopicOrPartition.code()
                    }
                    Some(_) if logs.get(&tp).is_none() => ResponseError::ReplicaNotAvailable.code(),
                    Some(d) => {
                        start_move(&logs, tp, d);
                        0
                    }
                };
                let mut r = AlterReplicaLogDirPartitionResult::default();
                r.partition_index = p;
                r.error_code = code;
                out.partitions.push(r);
            }
            resp.results.push(out);
        }
    }
    resp
}

/// Move `tp` into dir `dest` on the blocking pool; the outcome is logged.
fn start_move(logs: &Arc<LogManager>, tp: TopicPartition, dest: usize) {
    let logs = logs.clone();
    tokio::task::spawn_blocking(move || match logs.move_partition(&tp, dest) {
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(partition = %tp.dir_name(), error = %e, "moving a replica between log dirs failed")
        }
    });
}
