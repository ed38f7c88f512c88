//! Gauges computed from broker state at scrape time (names after Kafka's MBeans, translated the
//! usual way: `kafka.server:type=ReplicaManager,name=LeaderCount` →
//! `kafka_server_replicamanager_leadercount`). docs/operations.md lists them all.

use std::collections::BTreeMap;

use metrics::gauge;

use super::process;
use crate::view::OpsView;

/// Partitions with a replica on this broker.
pub const PARTITION_COUNT: &str = "kafka_server_replicamanager_partitioncount";
/// Partitions this broker leads.
pub const LEADER_COUNT: &str = "kafka_server_replicamanager_leadercount";
/// Partitions this broker leads whose ISR is smaller than their replica set.
pub const UNDER_REPLICATED: &str = "kafka_server_replicamanager_underreplicatedpartitions";
/// Partitions without a leader (non-zero on the active controller only).
pub const OFFLINE_PARTITIONS: &str = "kafka_controller_kafkacontroller_offlinepartitionscount";
/// 1 on the active controller, else 0.
pub const ACTIVE_CONTROLLER: &str = "kafka_controller_kafkacontroller_activecontrollercount";
/// Bytes of one partition's log on this broker (`kafka.log:type=Log,name=Size`).
pub const LOG_SIZE: &str = "kafka_log_log_size";
/// Bytes of all partition logs in one log directory.
pub const LOG_DIR_SIZE: &str = "kafka_log_logdir_size_bytes";
/// Committed-offset lag of one partition of a consumer group (kafka_exporter's name).
pub const GROUP_LAG: &str = "kafka_consumergroup_lag";
/// Sum of a consumer group's partition lags (kafka_exporter's name).
pub const GROUP_LAG_SUM: &str = "kafka_consumergroup_lag_sum";
/// Client connections open now.
pub const CONNECTIONS: &str = "kafka_server_socketservermetrics_connection_count";
/// The metadata quorum's current Raft term (KRaft's epoch).
pub const RAFT_EPOCH: &str = "kafka_server_raftmetrics_current_epoch";
/// The metadata quorum leader this node knows (-1: none).
pub const RAFT_LEADER: &str = "kafka_server_raftmetrics_current_leader";
/// Index of the last entry in the local metadata log.
pub const RAFT_LOG_END: &str = "kafka_server_raftmetrics_log_end_offset";
/// Index of the last committed metadata entry applied locally (Weir's commit index as seen by
/// this node; openraft 0.9 does not expose the commit index itself).
pub const RAFT_APPLIED: &str = "kafka_server_brokermetadatametrics_last_applied_record_offset";
/// User + system CPU seconds of this process.
pub const CPU_SECONDS: &str = "process_cpu_seconds_total";
/// Resident memory of this process.
pub const RESIDENT_BYTES: &str = "process_resident_memory_bytes";
/// Open file descriptors of this process.
pub const OPEN_FDS: &str = "process_open_fds";
/// Always 1, labelled with the Weir version.
pub const BUILD_INFO: &str = "weir_build_info";

/// Process stats only (before the broker has opened).
pub fn set_process() {
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    if let Some(p) = process::read() {
        gauge!(CPU_SECONDS).set(p.cpu_seconds);
        gauge!(RESIDENT_BYTES).set(p.resident_bytes as f64);
        gauge!(OPEN_FDS).set(p.open_fds as f64);
    }
}

/// Set every scrape-time gauge from `view`; `per_partition` false leaves out the series
/// labelled by partition (log size, group lag per partition).
pub fn set_all(view: &OpsView<'_>, per_partition: bool) {
    set_process();
    gauge!(CONNECTIONS).set(weir_broker::metrics::active_connections() as f64);

    let raft = view.raft();
    gauge!(RAFT_EPOCH).set(raft.term as f64);
    gauge!(RAFT_LEADER).set(raft.leader.map_or(-1.0, |l| l as f64));
    gauge!(RAFT_LOG_END).set(raft.last_log_index.map_or(-1.0, |i| i as f64));
    gauge!(RAFT_APPLIED).set(raft.applied_index as f64);
    gauge!(ACTIVE_CONTROLLER).set(if view.is_active_controller() {
        1.0
    } else {
        0.0
    });
    gauge!(OFFLINE_PARTITIONS).set(view.offline_partitions() as f64);

    let parts = view.local_partitions();
    let (mut leaders, mut under) = (0u64, 0u64);
    for p in &parts {
        leaders += u64::from(p.leader);
        under += u64::from(p.under_replicated);
        if per_partition {
            gauge!(LOG_SIZE, "topic" => p.tp.topic.clone(), "partition" => p.tp.partition.to_string())
                .set(p.size_bytes as f64);
        }
    }
    gauge!(PARTITION_COUNT).set(parts.len() as f64);
    gauge!(LEADER_COUNT).set(leaders as f64);
    gauge!(UNDER_REPLICATED).set(under as f64);
    for (dir, bytes) in view.log_dir_sizes() {
        gauge!(LOG_DIR_SIZE, "logdir" => dir.display().to_string()).set(bytes as f64);
    }

    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for l in view.group_lags() {
        *sums.entry(l.group.clone()).or_default() += l.lag;
        if per_partition {
            gauge!(GROUP_LAG, "consumergroup" => l.group, "topic" => l.tp.topic, "partition" => l.tp.partition.to_string())
                .set(l.lag as f64);
        }
    }
    for (group, lag) in sums {
        gauge!(GROUP_LAG_SUM, "consumergroup" => group).set(lag as f64);
    }
}
