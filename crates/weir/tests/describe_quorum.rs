//! DescribeQuorum (key 55) against real `weir` processes: three voters and a broker-only
//! observer, asked of every node, before and after the Raft leader is killed.

use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_test_support::raw::RawClient;
use weir_test_support::{start_nodes, wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// What one node answers: (leader, epoch, high watermark, voters as (id, caught up), observers).
type Quorum = (i32, i32, i64, Vec<(i32, bool)>, Vec<i32>);

fn ask(node: &BrokerProcess, topic: &str) -> DescribeQuorumResponse {
    ask_version(node, topic, 2)
}

fn ask_version(node: &BrokerProcess, topic: &str, version: i16) -> DescribeQuorumResponse {
    let mut c = RawClient::connect(&node.bootstrap());
    let mut t = TopicData::default();
    t.topic_name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![PartitionData::default()];
    c.call(
        ApiKey::DescribeQuorum,
        version,
        &DescribeQuorumRequest::default().with_topics(vec![t]),
    )
}

fn quorum(node: &BrokerProcess) -> Option<Quorum> {
    let r = ask(node, "__cluster_metadata");
    let p = r.topics.first()?.partitions.first()?;
    if r.error_code != 0 || p.error_code != 0 {
        return None;
    }
    let voters = p
        .current_voters
        .iter()
        .map(|v| (v.replica_id.0, v.last_caught_up_timestamp > 0))
        .collect();
    let observers = p.observers.iter().map(|o| o.replica_id.0).collect();
    Some((
        p.leader_id.0,
        p.leader_epoch,
        p.high_watermark,
        voters,
        observers,
    ))
}

#[test]
fn every_node_reports_the_leaders_view_of_the_quorum() {
    let mut nodes = start_nodes(
        weir(),
        &[
            "broker,controller",
            "broker,controller",
            "broker,controller",
            "broker",
        ],
        BrokerOptions::default(),
    );
    let settled = |nodes: &[BrokerProcess], skip: Option<usize>| -> Option<Quorum> {
        let answers: Vec<Option<Quorum>> = nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, n)| quorum(n))
            .collect();
        let first = answers.first()?.clone()?;
        let same_leader = answers
            .iter()
            .all(|a| a.as_ref().is_some_and(|a| (a.0, a.1) == (first.0, first.1)));
        same_leader.then_some(first)
    };
    let mut q = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            q = settled(&nodes, None)
                .filter(|q| q.2 > 0 && q.3.iter().all(|(_, caught_up)| *caught_up));
            q.is_some()
        }),
        "the nodes never agreed on a caught-up quorum: {:?}",
        nodes.iter().map(quorum).collect::<Vec<_>>()
    );
    let (leader, epoch, _, voters, observers) = q.unwrap();
    assert_eq!(
        voters[0].0, leader,
        "the leader is listed first: {voters:?}"
    );
    let mut ids: Vec<i32> = voters.iter().map(|v| v.0).collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(observers, vec![4], "the broker-only node observes");

    // v0 and v1 answer the same quorum without the v2-only `nodes` (the connection stays open).
    for v in [0, 1] {
        let r = ask_version(&nodes[3], "__cluster_metadata", v);
        assert_eq!(r.error_code, 0, "v{v}: {r:?}");
        assert_eq!(r.topics[0].partitions[0].leader_id.0, leader, "v{v}");
        assert!(r.nodes.is_empty(), "v{v}");
    }

    // v2 lists the voters' CONTROLLER endpoints.
    let r = ask(&nodes[3], "__cluster_metadata");
    let mut endpoints: Vec<(i32, String)> = r
        .nodes
        .iter()
        .map(|n| (n.node_id.0, n.listeners[0].name.to_string()))
        .collect();
    endpoints.sort();
    assert_eq!(
        endpoints,
        (1..=3)
            .map(|i| (i, "CONTROLLER".to_string()))
            .collect::<Vec<_>>()
    );

    // Only __cluster_metadata-0 is described: another partition gets UNKNOWN_TOPIC_OR_PARTITION.
    let other = ask(&nodes[0], "other");
    assert_eq!(other.error_code, 0);
    assert_eq!(other.topics[0].partitions[0].error_code, 3);

    // The leader dies: the others report a new leader in a later epoch.
    let li = usize::try_from(leader - 1).unwrap();
    nodes[li].kill9();
    let mut after = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            after = settled(&nodes, Some(li)).filter(|q| q.0 != leader && q.0 > 0);
            after.is_some()
        }),
        "no new leader reported: {:?}",
        nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != li)
            .map(|(_, n)| quorum(n))
            .collect::<Vec<_>>()
    );
    assert!(after.unwrap().1 > epoch);
}
