//! Three Raft voters in one process over real TCP on 127.0.0.1: records commit on every node,
//! the leader's loss elects a new one that keeps accepting writes, a restarted node catches up,
//! and a restart of every node brings back the identical image.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use uuid::Uuid;
use weir_meta::raft::{MetaConfig, MetaNode};
use weir_meta::records::{MetadataRecord, PartitionInfo};

async fn listeners(n: usize) -> (Vec<TcpListener>, BTreeMap<u64, String>) {
    let mut ls = Vec::new();
    let mut voters = BTreeMap::new();
    for i in 0..n {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        voters.insert(i as u64 + 1, l.local_addr().unwrap().to_string());
        ls.push(l);
    }
    (ls, voters)
}

fn config(id: u64, dir: &std::path::Path, voters: &BTreeMap<u64, String>) -> MetaConfig {
    MetaConfig {
        node_id: id,
        dir: dir.join(format!("node-{id}")),
        voters: voters.clone(),
        session_timeout_ms: 60_000,
        unclean_leader_election: false,
        learner_addr: None,
        auto_rebalance_interval_ms: None,
        transport: std::sync::Arc::new(weir_meta::raft::transport::PlainTransport),
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

async fn converged(nodes: &[&Arc<MetaNode>], topics: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let imgs: Vec<_> = nodes.iter().map(|n| n.image()).collect();
        if imgs.iter().all(|i| i.topics.len() == topics) && imgs.windows(2).all(|w| w[0] == w[1]) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_survive_the_loss_of_the_leader_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (ls, voters) = listeners(3).await;
    let mut nodes = Vec::new();
    for (i, l) in ls.into_iter().enumerate() {
        nodes.push(
            MetaNode::start(config(i as u64 + 1, dir.path(), &voters), Some(l))
                .await
                .unwrap(),
        );
    }
    let leader = nodes[0]
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("a leader");
    // Writes from any node (followers forward to the leader).
    for i in 0..5 {
        nodes[i % 3].propose(vec![topic(i)]).await.unwrap();
    }
    assert!(converged(&[&nodes[0], &nodes[1], &nodes[2]], 5).await);
    // A record that fails validation changes nothing.
    let err = nodes[1].propose(vec![topic(3)]).await.unwrap_err();
    assert!(
        matches!(err, weir_meta::MetaError::TopicAlreadyExists(_)),
        "{err:?}"
    );

    // Lose the leader.
    let li = (leader - 1) as usize;
    nodes[li].shutdown().await;
    let survivors: Vec<usize> = (0..3).filter(|i| *i != li).collect();
    let t0 = Instant::now();
    let new_leader = loop {
        if let Some(l) = nodes[survivors[0]].leader().filter(|l| *l != leader) {
            break l;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no new leader");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    nodes[survivors[1]].propose(vec![topic(5)]).await.unwrap();
    let took = t0.elapsed();
    println!(
        "new leader {new_leader} elected and a write committed {took:?} after the leader stopped"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(converged(&[&nodes[survivors[0]], &nodes[survivors[1]]], 6).await);

    // The stopped node restarts from its directory and catches up.
    let l = TcpListener::bind(voters[&leader].as_str()).await.unwrap();
    nodes[li] = MetaNode::start(config(leader, dir.path(), &voters), Some(l))
        .await
        .unwrap();
    assert!(converged(&[&nodes[0], &nodes[1], &nodes[2]], 6).await);
    let before = nodes[0].image();

    // Restart every voter: the image comes back identical.
    for n in &nodes {
        n.shutdown().await;
    }
    drop(nodes);
    tokio::time::sleep(Duration::from_millis(200)).await; // let the old listeners' tasks drop the sockets
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        let l = TcpListener::bind(voters[&id].as_str()).await.unwrap();
        nodes.push(
            MetaNode::start(config(id, dir.path(), &voters), Some(l))
                .await
                .unwrap(),
        );
    }
    assert!(converged(&[&nodes[0], &nodes[1], &nodes[2]], 6).await);
    assert_eq!(*nodes[0].image(), *before);
    nodes[2].propose(vec![topic(6)]).await.unwrap();
    assert!(converged(&[&nodes[0], &nodes[1], &nodes[2]], 7).await);
}
