//! [`OpsView`]: the read-only questions the HTTP side asks the broker's services. Nothing here
//! changes broker state, takes a lock for longer than one partition's read, or waits.
//!
//! `mod.rs` answers readiness and the metrics' questions, `console.rs` the console's about the
//! cluster and topics, `groups.rs` about consumer groups, and `messages.rs` reads and decodes
//! records for the message browser.

pub mod console;
pub mod groups;
pub mod messages;

use std::path::PathBuf;

use weir_broker::Broker;
use weir_log::TopicPartition;
use weir_meta::raft::RaftStatus;

/// One partition this broker holds a replica of.
#[derive(Debug, Clone)]
pub struct LocalPartition {
    /// Topic and partition.
    pub tp: TopicPartition,
    /// True when this broker leads it.
    pub leader: bool,
    /// True when this broker leads it and its ISR is smaller than its replica set.
    pub under_replicated: bool,
    /// Bytes of its log on disk (all segments).
    pub size_bytes: u64,
}

/// The lag of one committed consumer-group offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLag {
    /// Group id.
    pub group: String,
    /// Topic and partition.
    pub tp: TopicPartition,
    /// High watermark minus the committed offset (never negative).
    pub lag: i64,
}

/// A read-only view of one broker's state for `/ready` and `/metrics`.
pub struct OpsView<'a> {
    pub(crate) b: &'a Broker,
}

impl<'a> OpsView<'a> {
    /// A view of `broker`.
    pub fn new(broker: &'a Broker) -> Self {
        OpsView { b: broker }
    }

    /// `Ok` when this node serves clients with current metadata: its metadata-quorum member
    /// runs and knows a leader, and (a broker) it is registered with this incarnation and
    /// unfenced in its local image — the controller unfences it only after its first heartbeat,
    /// so the local image has caught up at least to its own registration. Else why not.
    pub fn readiness(&self) -> Result<(), String> {
        let raft = self.raft();
        if !raft.running {
            return Err("the metadata quorum member stopped".into());
        }
        if raft.leader.is_none() {
            return Err("no metadata quorum leader is known yet".into());
        }
        if self.b.view.is_broker() {
            if !self.b.view.registered() {
                return Err("not registered with the controller yet".into());
            }
            if self.b.view.self_fenced() {
                return Err("registered but still fenced by the controller".into());
            }
        }
        Ok(())
    }

    /// This node's id.
    pub fn node_id(&self) -> i32 {
        self.b.view.node_id()
    }

    /// The metadata quorum member's Raft state.
    pub fn raft(&self) -> RaftStatus {
        self.b.quorum.raft_status()
    }

    /// True while this node is the active controller (the Raft leader).
    pub fn is_active_controller(&self) -> bool {
        self.b.quorum.is_leader()
    }

    /// Partitions of the image with no leader (as Kafka, reported by the active controller
    /// only; other nodes report 0 so that a sum over the cluster counts each once).
    pub fn offline_partitions(&self) -> usize {
        if !self.is_active_controller() {
            return 0;
        }
        self.b
            .view
            .image()
            .topics
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.leader < 0)
            .count()
    }

    /// Every partition with an open local log, with its leadership and size.
    pub fn local_partitions(&self) -> Vec<LocalPartition> {
        let image = self.b.view.image();
        let node = self.node_id();
        let logs = self.b.replicas.logs();
        let mut out = Vec::new();
        for tp in logs.partitions_open() {
            let Some(log) = logs.get(&tp) else { continue };
            let p = image
                .topics
                .get(&tp.topic)
                .and_then(|t| t.partitions.get(usize::try_from(tp.partition).ok()?));
            let leader = p.is_some_and(|p| p.leader == node);
            let under_replicated = leader && p.is_some_and(|p| p.isr.len() < p.replicas.len());
            out.push(LocalPartition {
                tp,
                leader,
                under_replicated,
                size_bytes: log.size_bytes(),
            });
        }
        out
    }

    /// Every log directory (`log.dirs`) with the bytes of the open partition logs in it.
    pub fn log_dir_sizes(&self) -> Vec<(PathBuf, u64)> {
        let logs = self.b.replicas.logs();
        logs.dir_statuses()
            .into_iter()
            .map(|st| {
                let bytes = st
                    .partitions
                    .iter()
                    .filter_map(|tp| logs.get(tp))
                    .map(|l| l.size_bytes())
                    .sum();
                (st.path, bytes)
            })
            .collect()
    }

    /// Lag of every committed offset of the consumer groups this broker coordinates, for the
    /// partitions it holds a replica of (the high watermark is read from the local log).
    pub fn group_lags(&self) -> Vec<GroupLag> {
        let logs = self.b.replicas.logs();
        let mut out = Vec::new();
        for g in self.b.groups.list_groups(&[], &[]) {
            let Ok(offsets) = self.b.groups.fetch(&g.group_id, None, None) else {
                continue;
            };
            for (topic, partition, committed) in offsets {
                let Some(committed) = committed else { continue };
                let tp = TopicPartition::new(topic, partition);
                let Some(log) = logs.get(&tp) else { continue };
                out.push(GroupLag {
                    group: g.group_id.clone(),
                    lag: (log.high_watermark() - committed.offset).max(0),
                    tp,
                });
            }
        }
        out
    }
}
