//! The checker's pieces: what every node says about the cluster (Metadata + DescribeConfigs),
//! whether the cluster has settled, acknowledged records against the log, acknowledged group
//! commits against the committed offsets, admin lateness, and replica bytes.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use weir_test_support::clients::Msg;
use weir_test_support::cluster::{check_acked_vs_consumed, log_bytes};
use weir_test_support::raw::RawClient;

use crate::faults::Cluster;
use crate::workload::{AdminOp, Commit, ADMIN_TIMEOUT};

/// One partition as a node's Metadata answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// Error code of the partition.
    pub error: i16,
    /// Leader id.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
}

/// A DescribeConfigs answer for one resource: its error code and every (name, value).
pub type Configs = (i16, Vec<(String, Option<String>)>);

/// One topic as a node shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicState {
    /// Topic id.
    pub id: String,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionState>,
    /// DescribeConfigs answer: (error code, every (name, value)) — not for internal topics.
    pub configs: Option<Configs>,
}

/// What one node says about the whole cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Registered, unfenced brokers: (id, host, port).
    pub brokers: Vec<(i32, String, i32)>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicState>,
}

fn s(x: &StrBytes) -> String {
    x.to_string()
}

/// Ask the node at `bootstrap` for Metadata (all topics) and the configs of its non-internal
/// topics.
pub fn node_view(bootstrap: &str) -> Result<NodeView, String> {
    let mut c = RawClient::try_connect_timeout(bootstrap, Duration::from_secs(3))
        .map_err(|e| format!("connect {bootstrap}: {e}"))?;
    let mut req = MetadataRequest::default();
    req.topics = None; // all topics
    let md: MetadataResponse = c
        .try_call(ApiKey::Metadata, 12, &req)
        .map_err(|e| format!("metadata from {bootstrap}: {e}"))?;
    let mut brokers: Vec<(i32, String, i32)> = md
        .brokers
        .iter()
        .map(|b| (b.node_id.0, s(&b.host), b.port))
        .collect();
    brokers.sort();
    let mut topics = BTreeMap::new();
    let mut resources = Vec::new();
    for t in &md.topics {
        let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
            continue;
        };
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                let replicas: Vec<i32> = p.replica_nodes.iter().map(|r| r.0).collect();
                let isr: Vec<i32> = p.isr_nodes.iter().map(|r| r.0).collect();
                (
                    p.partition_index,
                    PartitionState {
                        error: p.error_code,
                        leader: p.leader_id.0,
                        leader_epoch: p.leader_epoch,
                        replicas,
                        isr,
                    },
                )
            })
            .collect();
        if !t.is_internal {
            let mut r = describe_configs_request::DescribeConfigsResource::default();
            r.resource_type = 2;
            r.resource_name = StrBytes::from_string(name.clone());
            resources.push(r);
        }
        topics.insert(
            name,
            TopicState {
                id: t.topic_id.to_string(),
                partitions,
                configs: None,
            },
        );
    }
    if !resources.is_empty() {
        let mut req = DescribeConfigsRequest::default();
        req.resources = resources;
        let dc: DescribeConfigsResponse = c
            .try_call(ApiKey::DescribeConfigs, 4, &req)
            .map_err(|e| format!("describe configs from {bootstrap}: {e}"))?;
        for r in dc.results {
            if let Some(t) = topics.get_mut(&r.resource_name.to_string()) {
                let mut cfg: Vec<(String, Option<String>)> = r
                    .configs
                    .iter()
                    .map(|c| (s(&c.name), c.value.as_ref().map(s)))
                    .collect();
                cfg.sort();
                t.configs = Some((r.error_code, cfg));
            }
        }
    }
    Ok(NodeView {
        cluster_id: md.cluster_id.as_ref().map(s),
        brokers,
        topics,
    })
}

/// Poll `cond` every 250 ms (each poll asks every node) until it holds or `timeout` passes;
/// returns whether it held.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every node's view (an `Err` for a node that does not answer).
pub fn views(c: &Cluster) -> Vec<Result<NodeView, String>> {
    c.nodes.iter().map(|n| node_view(&n.bootstrap())).collect()
}

/// True when every node answers, lists all `n` brokers, and shows every partition of `topic`
/// with a leader and an ISR of `rf` — and all nodes show the same brokers and the same `topic`
/// (a node whose metadata stopped moving shows an old ISR that may look complete).
pub fn settled(views: &[Result<NodeView, String>], topic: &str, rf: usize) -> bool {
    let each = views.iter().all(|v| {
        v.as_ref().is_ok_and(|v| {
            v.brokers.len() == views.len()
                && v.topics.get(topic).is_some_and(|t| {
                    !t.partitions.is_empty()
                        && t.partitions
                            .values()
                            .all(|p| p.leader > 0 && p.isr.len() == rf)
                })
        })
    });
    let key = |v: &Result<NodeView, String>| {
        v.as_ref()
            .ok()
            .map(|v| (v.brokers.clone(), v.topics.get(topic).cloned()))
    };
    each && views.windows(2).all(|w| key(&w[0]) == key(&w[1]))
}

/// The indexes of the nodes whose view differs from the most common one, with a description
/// of the first difference of each (empty when all agree).
pub fn divergent(views: &[Result<NodeView, String>]) -> Vec<(usize, String)> {
    let ok: Vec<&NodeView> = views.iter().filter_map(|v| v.as_ref().ok()).collect();
    let Some(reference) = ok
        .iter()
        .max_by_key(|a| ok.iter().filter(|b| a == b).count())
    else {
        return (0..views.len())
            .map(|i| (i, "no node answers".to_string()))
            .collect();
    };
    let mut out = Vec::new();
    for (i, v) in views.iter().enumerate() {
        match v {
            Err(e) => out.push((i, e.clone())),
            Ok(v) if v != *reference => out.push((i, first_difference(reference, v))),
            Ok(_) => {}
        }
    }
    out
}

fn first_difference(a: &NodeView, b: &NodeView) -> String {
    if a.cluster_id != b.cluster_id {
        return format!(
            "cluster id {:?} instead of {:?}",
            b.cluster_id, a.cluster_id
        );
    }
    if a.brokers != b.brokers {
        return format!("brokers {:?} instead of {:?}", b.brokers, a.brokers);
    }
    for (name, t) in a.topics.iter() {
        match b.topics.get(name) {
            None => return format!("topic {name} missing"),
            Some(u) if u != t => {
                if u.id != t.id {
                    return format!("topic {name} id {} instead of {}", u.id, t.id);
                }
                if u.partitions != t.partitions {
                    return format!(
                        "topic {name} partitions {:?} instead of {:?}",
                        u.partitions, t.partitions
                    );
                }
                return format!(
                    "topic {name} configs {:?} instead of {:?}",
                    u.configs, t.configs
                );
            }
            Some(_) => {}
        }
    }
    let extra: Vec<&String> = b
        .topics
        .keys()
        .filter(|k| !a.topics.contains_key(*k))
        .collect();
    format!("extra topics {extra:?}")
}

/// Counts of the record checker's findings.
#[derive(Debug, Default, Clone)]
pub struct RecordCheck {
    /// Records in the log (sum of the partitions' high watermarks).
    pub in_log: i64,
    /// Records read back.
    pub consumed: usize,
    /// Acknowledged but never read.
    pub lost: usize,
    /// Read twice.
    pub duplicated: usize,
    /// Read out of order within a partition.
    pub reordered: usize,
    /// Read at another offset than acknowledged.
    pub misplaced: usize,
    /// The first findings, as text.
    pub examples: Vec<String>,
}

/// Read `topic` back and compare with `acked` (the test-support checker), reading as many
/// records as the partitions' high watermarks say the log holds.
pub fn check_records(bootstrap: &str, topic: &str, partitions: i32, acked: &[Msg]) -> RecordCheck {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("consumer");
    let mut in_log = 0;
    for p in 0..partitions {
        if let Ok((lo, hi)) = c.fetch_watermarks(topic, p, Duration::from_secs(10)) {
            in_log += hi - lo;
        }
    }
    let expected = (in_log.max(0) as usize).max(acked.len());
    let (problems, consumed) = check_acked_vs_consumed(
        bootstrap,
        topic,
        partitions,
        acked,
        expected,
        Duration::from_secs(90),
    );
    let count = |pat: &str| problems.iter().filter(|p| p.contains(pat)).count();
    RecordCheck {
        in_log,
        consumed,
        lost: count("never consumed"),
        duplicated: count("consumed twice"),
        reordered: count("out of order"),
        misplaced: count("consumed at"),
        examples: problems.into_iter().take(10).collect(),
    }
}

/// Acknowledged commits that moved backwards, and partitions whose committed offset (read from
/// the coordinator now) is below the last acknowledged commit.
pub fn check_commits(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
    commits: &[Commit],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for c in commits {
        if let Some(&prev) = last.get(&c.partition) {
            if c.offset < prev {
                problems.push(format!(
                    "partition {}: acknowledged commit {} after acknowledged commit {prev}",
                    c.partition, c.offset
                ));
            }
        }
        last.insert(c.partition, c.offset);
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let _ = tpl.add_partition(topic, p);
    }
    let mut committed = None;
    eventually(Duration::from_secs(60), || {
        committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .ok();
        committed.is_some()
    });
    let Some(committed) = committed else {
        problems.push("the committed offsets could not be read within 60 s".into());
        return problems;
    };
    for (p, want) in last {
        let got = committed.find_partition(topic, p).map(|e| e.offset());
        match got {
            Some(Offset::Offset(o)) if o >= want => {}
            other => problems.push(format!(
                "partition {p}: committed offset is {other:?}, an acknowledged commit was {want}"
            )),
        }
    }
    problems
}

/// Admin operations not answered within their timeout (plus 3 s) on a node that was not faulted.
pub fn late_admin(ops: &[AdminOp]) -> Vec<&AdminOp> {
    ops.iter()
        .filter(|o| {
            !o.excused && (!o.answered || o.latency > ADMIN_TIMEOUT + Duration::from_secs(3))
        })
        .collect()
}

/// Partitions of `topic` whose replicas' segment bytes differ (nodes running, no writes).
pub fn replica_mismatches(c: &Cluster, view: &NodeView, topic: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(t) = view.topics.get(topic) else {
        return vec![format!("topic {topic} unknown")];
    };
    for (&p, st) in &t.partitions {
        let copies: Vec<(i32, Vec<u8>)> = st
            .replicas
            .iter()
            .filter_map(|&r| {
                c.nodes
                    .get(r as usize - 1)
                    .map(|n| (r, log_bytes(&n.log_dir(), topic, p)))
            })
            .collect();
        for (r, bytes) in &copies[1..] {
            if *bytes != copies[0].1 {
                out.push(format!(
                    "{topic}-{p}: node {r} holds {} bytes, node {} {} bytes (first difference at byte {})",
                    bytes.len(),
                    copies[0].0,
                    copies[0].1.len(),
                    bytes.iter().zip(&copies[0].1).position(|(a, b)| a != b).unwrap_or(bytes.len().min(copies[0].1.len()))
                ));
            }
        }
    }
    out
}

/// The record batches holding `offsets` of `topic`-`partition`, read from each running replica's
/// segment files: producer id, producer epoch, sequences and partition leader epoch, which tell
/// a retry the leader failed to recognise (same producer epoch and sequence) from a client that
/// bumped its epoch and sent the record again (a newer epoch, sequences from 0).
pub fn describe_batches(c: &Cluster, topic: &str, partition: i32, offsets: &[i64]) -> Vec<String> {
    c.nodes
        .iter()
        .map(|n| {
            let bytes = log_bytes(&n.log_dir(), topic, partition);
            let found = batches_at(&bytes, offsets);
            format!("node {}: {}", n.spec.id, found.join("; "))
        })
        .collect()
}

/// Walk `bytes` (a partition's segments, concatenated) by batch headers and describe the
/// batches containing any of `offsets`.
pub fn batches_at(bytes: &[u8], offsets: &[i64]) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Ok(h) = weir_log::batch::BatchHeader::parse(&bytes[pos..]) {
        if offsets
            .iter()
            .any(|&o| o >= h.base_offset && o <= h.last_offset())
        {
            out.push(format!(
                "offsets {}..={}: producer {} epoch {} sequences {}..={}, leader epoch {}",
                h.base_offset,
                h.last_offset(),
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.base_sequence.wrapping_add(h.last_offset_delta),
                h.partition_leader_epoch
            ));
        }
        if h.total_len == 0 || pos + h.total_len > bytes.len() {
            break;
        }
        pos += h.total_len;
    }
    if out.is_empty() {
        out.push("no batch holds them".into());
    }
    out
}

/// The (partition, offsets) of a "value … consumed twice: at (P, O1) and P/O2" finding.
pub fn twice_at(finding: &str) -> Option<(i32, Vec<i64>)> {
    let rest = finding.split("consumed twice: at (").nth(1)?;
    let (first, second) = rest.split_once(") and ")?;
    let (p, o1) = first.split_once(", ")?;
    let (p2, o2) = second.split_once('/')?;
    let p: i32 = p.trim().parse().ok()?;
    let o1: i64 = o1.trim().parse().ok()?;
    let o2: i64 = o2.trim().parse().ok()?;
    (p2.trim().parse::<i32>().ok()? == p).then_some((p, vec![o1, o2]))
}

/// For each "consumed twice" finding among `examples`, the batches holding both copies on every
/// node ([`describe_batches`]).
pub fn duplicate_details(c: &Cluster, topic: &str, examples: &[String]) -> Vec<String> {
    examples
        .iter()
        .filter_map(|e| twice_at(e))
        .map(|(p, offsets)| {
            format!(
                "{topic}-{p} offsets {offsets:?}: {}",
                describe_batches(c, topic, p, &offsets).join(" | ")
            )
        })
        .collect()
}

#[cfg(test)]
mod dup_tests {
    use super::*;

    #[test]
    fn a_twice_consumed_finding_names_its_partition_and_offsets() {
        assert_eq!(
            twice_at("value 2297 consumed twice: at (2, 765) and 2/766"),
            Some((2, vec![765, 766]))
        );
        assert_eq!(twice_at("value 1 never consumed"), None);
    }

    #[test]
    fn the_batches_holding_the_offsets_are_described() {
        let mut log = Vec::new();
        for (base, n) in [(0i64, 3usize), (3, 1), (4, 2)] {
            let recs: Vec<(Option<&[u8]>, &[u8])> = vec![(None, b"v"); n];
            let mut b = weir_log::batch::build_batch(base, 1, &recs);
            b[43..51].copy_from_slice(&9i64.to_be_bytes());
            b[51..53].copy_from_slice(&0i16.to_be_bytes());
            b[53..57].copy_from_slice(&(base as i32).to_be_bytes());
            log.extend(b);
        }
        let found = batches_at(&log, &[3, 4]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("offsets 3..=3: producer 9 epoch 0 sequences 3..=3")
                && found[1].starts_with("offsets 4..=5: producer 9 epoch 0 sequences 4..=5"),
            "{found:?}"
        );
        assert_eq!(
            batches_at(&log, &[99]),
            vec!["no batch holds them".to_string()]
        );
    }
}
