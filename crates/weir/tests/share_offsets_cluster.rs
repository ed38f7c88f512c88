//! Share-group offsets across brokers (real processes: one controller, three brokers): the group
//! coordinator, the leader of the topic partition and the share coordinator of the
//! share-partition's `__share_group_state` key are different brokers, so AlterShareGroupOffsets
//! and DeleteShareGroupOffsets reach the state through Initialize/Read/DeleteShareGroupState to
//! another broker, and the share-partition leader, which has the old state loaded, must pick up
//! the change when the group's next share session opens.

use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use weir_test_support::clients::{flush, producer, send};
use weir_test_support::cluster::{
    brokers_bootstrap, cluster_options, create_replicated_topic, full_isr,
    start_controller_and_three_brokers, view,
};
use weir_test_support::raw::RawClient;
use weir_test_support::share::ShareGroup;
use weir_test_support::wait_until;

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

/// The node id and address of the coordinator of `key` (FindCoordinator v6, `key_type`).
fn coordinator(c: &mut RawClient, key_type: i8, key: &str) -> (i32, String) {
    let mut req = FindCoordinatorRequest::default();
    req.key_type = key_type;
    req.coordinator_keys = vec![StrBytes::from_string(key.to_string())];
    let mut found = None;
    let ok = wait_until(Duration::from_secs(30), || {
        let resp: FindCoordinatorResponse = c.call(ApiKey::FindCoordinator, 6, &req);
        let co = &resp.coordinators[0];
        if co.error_code == 0 && co.node_id.0 >= 0 {
            found = Some((co.node_id.0, format!("{}:{}", co.host, co.port)));
        }
        found.is_some()
    });
    assert!(ok, "no coordinator for {key_type}/{key}");
    found.unwrap()
}

#[test]
fn alter_and_delete_reach_state_and_leader_on_other_brokers() {
    let nodes = start_controller_and_three_brokers(weir(), cluster_options());
    let bs = brokers_bootstrap(&nodes);
    let first = nodes[1].bootstrap();
    assert_eq!(create_replicated_topic(&first, "t", 1, 3, &[]), 0);
    assert!(wait_until(Duration::from_secs(30), || full_isr(
        &nodes, "t", 3
    )));
    let (p, _log) = producer(&bs, &[]);
    for i in 0..5 {
        send(&p, "t", Some(0), None, format!("v{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    let leader = view(&nodes, "t", &[])[0].leader;
    let mut any = RawClient::connect(&first);

    // A group whose coordinator leads neither the partition nor the share-partition's state.
    let mut chosen = None;
    for i in 0..200 {
        let g = ShareGroup::new(&mut any, &format!("g{i}"), "t");
        let (c, addr) = coordinator(&mut any, 0, &g.group);
        let (s, _) = coordinator(&mut any, 2, &format!("{}:{}:0", g.group, g.topic_id));
        if c != leader && s != c {
            chosen = Some((g, addr));
            break;
        }
    }
    let (g, coordinator_addr) = chosen.expect("a group spread over three brokers");
    let mut co = RawClient::connect(&coordinator_addr);
    let mut lead = RawClient::connect(&nodes[leader as usize - 1].bootstrap());
    g.set_config(&mut any, "share.auto.offset.reset", "earliest");

    // m1 accepts everything: the leader has the share-partition loaded at start 5.
    g.heartbeat(&mut co, "m1", 0);
    assert_eq!(g.acquire(&mut lead, "m1"), vec![(0, 4)]);
    g.acknowledge(&mut lead, "m1", &[(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)]);
    g.heartbeat(&mut co, "m1", -1);
    // The coordinator does not lead the partition: lag unknown.
    assert_eq!(g.offset(&mut co), (5, -1));

    // Alter through the coordinator; the leader's next share session of the group sees it.
    let altered = g.alter(&mut co, &g.group, 1);
    assert_eq!(altered.error_code, 0, "{altered:?}");
    assert_eq!(
        altered.responses[0].partitions[0].error_code, 0,
        "{altered:?}"
    );
    assert_eq!(g.offset(&mut co).0, 1);
    g.heartbeat(&mut co, "m2", 0);
    assert_eq!(g.acquire(&mut lead, "m2"), vec![(1, 4)]);
    g.acknowledge(&mut lead, "m2", &[(1, 1), (2, 1), (3, 1), (4, 1)]);
    g.heartbeat(&mut co, "m2", -1);

    // Delete through the coordinator (DeleteShareGroupState forwarded): gone; the next member
    // starts from share.auto.offset.reset again.
    let deleted = g.delete(&mut co, &["t"]);
    assert_eq!(deleted.error_code, 0, "{deleted:?}");
    assert_eq!(deleted.responses[0].error_code, 0, "{deleted:?}");
    assert_eq!(g.offset(&mut co), (-1, -1));
    g.heartbeat(&mut co, "m3", 0);
    assert_eq!(g.acquire(&mut lead, "m3"), vec![(0, 4)]);
}
