//! The dynamic voter set (KIP-853) with in-process nodes over real TCP: a fourth node started
//! outside `controller.quorum.voters` follows the log as a learner, is made a voter, an original
//! voter is removed, and after a restart of the remaining nodes the voter set is the log's — not
//! the static configuration's — and the quorum still commits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use uuid::Uuid;
use weir_meta::raft::voter_set::VoterChange;
use weir_meta::raft::{MetaConfig, MetaNode};
use weir_meta::records::{MetadataRecord, PartitionInfo};
use weir_meta::MetaError;

fn config(id: u64, dir: &std::path::Path, voters: &BTreeMap<u64, String>) -> MetaConfig {
    MetaConfig {
        node_id: id,
        dir: dir.join(format!("node-{id}")),
        voters: voters.clone(),
        session_timeout_ms: 60_000,
        unclean_leader_election: false,
        learner_addr: None,
        auto_rebalance_interval_ms: None,
        transport: Arc::new(weir_meta::raft::transport::PlainTransport),
    }
}

fn topic(i: usize) -> MetadataRecord {
    MetadataRecord::CreateTopic {
        name: format!("t{i}"),
        id: Uuid::from_u128(i as u128 + 1),
        partitions: vec![PartitionInfo::new(vec![1])],
        configs: BTreeMap::new(),
    }
}

/// Wait until every node sees `want` as the voter set and has applied `topics` topics.
async fn settled(nodes: &[&Arc<MetaNode>], want: &[u64], topics: usize) -> bool {
    let want: BTreeSet<u64> = want.iter().copied().collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if nodes
            .iter()
            .all(|n| n.current_voters() == want && n.image().topics.len() == topics)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn start(
    id: u64,
    dir: &std::path::Path,
    voters: &BTreeMap<u64, String>,
    addr: &str,
    learner: bool,
) -> Arc<MetaNode> {
    let l = TcpListener::bind(addr).await.unwrap();
    let mut c = config(id, dir, voters);
    if learner {
        c.learner_addr = Some(addr.to_string());
    }
    MetaNode::start(c, Some(l)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_becomes_a_voter_a_voter_leaves_and_the_log_wins_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut addrs = BTreeMap::new();
    for id in 1..=4u64 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.insert(id, l.local_addr().unwrap().to_string());
    }
    // controller.quorum.voters names 1..3; node 4 is a learner.
    let voters: BTreeMap<u64, String> = addrs
        .clone()
        .into_iter()
        .filter(|(id, _)| *id <= 3)
        .collect();
    let mut nodes = Vec::new();
    for id in 1..=4u64 {
        nodes.push(start(id, dir.path(), &voters, &addrs[&id], id == 4).await);
    }
    nodes[0]
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("a leader");
    nodes[1].propose(vec![topic(0)]).await.unwrap();
    let all: Vec<&Arc<MetaNode>> = nodes.iter().collect();
    assert!(settled(&all, &[1, 2, 3], 1).await, "node 4 follows the log");

    // Asked of a follower (forwarded to the leader): node 4 becomes a voter.
    let follower = nodes
        .iter()
        .find(|n| !n.is_leader() && n.id() != 4)
        .unwrap()
        .clone();
    let add = VoterChange::Add {
        id: 4,
        addr: addrs[&4].clone(),
    };
    follower
        .change_voters(add.clone(), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(settled(&all, &[1, 2, 3, 4], 1).await);
    let again = follower.change_voters(add, Duration::from_secs(10)).await;
    assert!(
        matches!(again, Err(MetaError::DuplicateVoter(_))),
        "{again:?}"
    );

    // Node 1 leaves the voter set and stops.
    nodes[3]
        .change_voters(VoterChange::Remove { id: 1 }, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(settled(&all, &[2, 3, 4], 1).await);
    nodes[0].shutdown().await;
    nodes[3].propose(vec![topic(1)]).await.unwrap();
    let rest: Vec<&Arc<MetaNode>> = nodes[1..].iter().collect();
    assert!(settled(&rest, &[2, 3, 4], 2).await);
    let endpoints = nodes[1].voter_endpoints();
    assert_eq!(endpoints.keys().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
    assert_eq!(endpoints[&4], addrs[&4]);

    // Restart 2, 3 and 4 with their unchanged configuration: the log's voter set wins.
    for n in &nodes[1..] {
        n.shutdown().await;
    }
    drop(rest);
    drop(all);
    drop(nodes);
    tokio::time::sleep(Duration::from_millis(200)).await; // let the old listeners' tasks drop the sockets
    let mut nodes = Vec::new();
    for id in 2..=4u64 {
        nodes.push(start(id, dir.path(), &voters, &addrs[&id], id == 4).await);
    }
    let all: Vec<&Arc<MetaNode>> = nodes.iter().collect();
    assert!(
        settled(&all, &[2, 3, 4], 2).await,
        "the voter set after restart"
    );
    nodes[0].propose(vec![topic(2)]).await.unwrap();
    assert!(settled(&all, &[2, 3, 4], 3).await);
}
