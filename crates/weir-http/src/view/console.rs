//! The console's read-only questions about the cluster and its topics (partitions, offsets,
//! configs). Answers are plain serialisable structs.

use serde::Serialize;
use weir_broker::api::describe_configs::topic_config_entries;
use weir_broker::config::layers::Layers;
use weir_log::TopicPartition;

use super::OpsView;

/// The cluster as this broker sees it.
#[derive(Debug, Serialize)]
pub struct Overview {
    /// This node.
    pub node_id: i32,
    /// Cluster id.
    pub cluster_id: String,
    /// Weir's version.
    pub version: &'static str,
    /// The active controller (metadata-quorum leader), if known.
    pub controller: Option<u64>,
    /// Registered brokers.
    pub brokers: Vec<BrokerRow>,
    /// Topics (internal ones included).
    pub topics: usize,
    /// Partitions of all topics.
    pub partitions: usize,
    /// Partitions whose ISR is smaller than their replica set.
    pub under_replicated: usize,
    /// Partitions without a leader.
    pub offline: usize,
}

/// One registered broker.
#[derive(Debug, Serialize)]
pub struct BrokerRow {
    /// Broker id.
    pub id: i32,
    /// Its client endpoint `host:port`.
    pub endpoint: String,
    /// Rack, if set.
    pub rack: Option<String>,
    /// Fenced (not heartbeating): it leads nothing.
    pub fenced: bool,
}

/// One topic in the list.
#[derive(Debug, Serialize)]
pub struct TopicRow {
    /// Name.
    pub name: String,
    /// Internal (`__consumer_offsets`, …).
    pub internal: bool,
    /// Partition count.
    pub partitions: usize,
    /// Replication factor (of partition 0).
    pub replication_factor: usize,
    /// Partitions with an ISR smaller than their replica set.
    pub under_replicated: usize,
    /// Bytes of the partitions that have a replica on this broker.
    pub local_bytes: u64,
    /// Records between log start and high watermark, over the local replicas.
    pub local_records: i64,
}

/// One partition of a topic.
#[derive(Debug, Serialize)]
pub struct PartitionRow {
    /// Index.
    pub partition: i32,
    /// Leader broker, -1 for none.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Replica set.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Offsets of the local replica (None when this broker holds none).
    pub offsets: Option<Offsets>,
}

/// Offsets of a local replica.
#[derive(Debug, Serialize)]
pub struct Offsets {
    /// Log start offset.
    pub start: i64,
    /// High watermark.
    pub high_watermark: i64,
    /// Log end offset.
    pub end: i64,
    /// Bytes on disk.
    pub bytes: u64,
}

/// One effective topic config.
#[derive(Debug, Serialize)]
pub struct ConfigRow {
    /// Kafka name.
    pub name: String,
    /// Effective value.
    pub value: String,
    /// True when the topic overrides the broker default.
    pub overridden: bool,
}

/// A topic in detail.
#[derive(Debug, Serialize)]
pub struct TopicDetail {
    /// Name.
    pub name: String,
    /// Topic id.
    pub id: String,
    /// Its partitions.
    pub partitions: Vec<PartitionRow>,
    /// Its effective configs.
    pub configs: Vec<ConfigRow>,
    /// True when the configs are left out because the caller may not DESCRIBE_CONFIGS them.
    pub configs_hidden: bool,
}

impl OpsView<'_> {
    /// The cluster overview.
    pub fn overview(&self) -> Overview {
        let image = self.b.view.image();
        let parts = || image.topics.values().flat_map(|t| t.partitions.iter());
        Overview {
            node_id: self.node_id(),
            cluster_id: self.b.cluster_id.clone(),
            version: env!("CARGO_PKG_VERSION"),
            controller: self.raft().leader,
            brokers: image
                .brokers
                .values()
                .map(|b| BrokerRow {
                    id: b.id,
                    endpoint: b
                        .listeners
                        .first()
                        .map(|e| format!("{}:{}", e.host, e.port))
                        .unwrap_or_default(),
                    rack: b.rack.clone(),
                    fenced: b.fenced,
                })
                .collect(),
            topics: image.topics.len(),
            partitions: parts().count(),
            under_replicated: parts().filter(|p| p.isr.len() < p.replicas.len()).count(),
            offline: parts().filter(|p| p.leader < 0).count(),
        }
    }

    /// Every topic, sorted by name.
    pub fn topics(&self) -> Vec<TopicRow> {
        let image = self.b.view.image();
        let logs = self.b.replicas.logs();
        image
            .topics
            .iter()
            .map(|(name, t)| {
                let (mut bytes, mut records) = (0, 0);
                for i in 0..t.partitions.len() {
                    if let Some(log) = logs.get(&TopicPartition::new(name.clone(), i as i32)) {
                        bytes += log.size_bytes();
                        records += (log.high_watermark() - log.log_start_offset()).max(0);
                    }
                }
                TopicRow {
                    name: name.clone(),
                    internal: name.starts_with("__"),
                    partitions: t.partitions.len(),
                    replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len()),
                    under_replicated: t
                        .partitions
                        .iter()
                        .filter(|p| p.isr.len() < p.replicas.len())
                        .count(),
                    local_bytes: bytes,
                    local_records: records,
                }
            })
            .collect()
    }

    /// One topic with its partitions and effective configs; None if it does not exist.
    pub fn topic(&self, name: &str) -> Option<TopicDetail> {
        let image = self.b.view.image();
        let t = image.topics.get(name)?;
        let meta = self.b.view.topic(name)?;
        let logs = self.b.replicas.logs();
        let partitions = t
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| PartitionRow {
                partition: i as i32,
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                offsets: logs
                    .get(&TopicPartition::new(name, i as i32))
                    .map(|log| Offsets {
                        start: log.log_start_offset(),
                        high_watermark: log.high_watermark(),
                        end: log.log_end_offset(),
                        bytes: log.size_bytes(),
                    }),
            })
            .collect();
        let image = self.b.view.image();
        let layers = Layers::new(&self.b.config, &image, self.b.config.node_id);
        let configs = topic_config_entries(&layers, &meta)
            .into_iter()
            .map(|e| ConfigRow {
                overridden: meta.configs.contains_key(&e.name),
                name: e.name,
                value: e.value,
            })
            .collect();
        Some(TopicDetail {
            name: name.to_string(),
            id: t.id.to_string(),
            partitions,
            configs,
            configs_hidden: false,
        })
    }
}
