//! The view answers from a hand-built image, without a Raft member.

use std::collections::BTreeMap;

use weir_meta::image::{BrokerInfo, TopicInfo};
use weir_meta::records::Endpoint;

use super::*;

fn broker(id: i32, rack: &str, fenced: bool) -> BrokerInfo {
    BrokerInfo {
        id,
        incarnation: Uuid::from_u128(id as u128),
        listeners: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9000 + id as u16,
        }],
        rack: Some(rack.into()),
        fenced,
    }
}

/// Brokers 1..=3 in racks a, b, b (3 fenced when `fence3`); topic `t` with one partition led by
/// 1 at leader epoch 4, replicas and ISR [1, 2, 3].
fn image(fence3: bool) -> MetadataImage {
    let mut img = MetadataImage::default();
    img.brokers.insert(1, broker(1, "a", false));
    img.brokers.insert(2, broker(2, "b", false));
    img.brokers.insert(3, broker(3, "b", fence3));
    let mut p = PartitionInfo::new(vec![1, 2, 3]);
    p.leader_epoch = 4;
    let mut configs = BTreeMap::new();
    configs.insert("min.insync.replicas".to_string(), "2".to_string());
    img.topics.insert(
        "t".into(),
        TopicInfo {
            id: Uuid::from_u128(77),
            partitions: vec![p],
            configs,
        },
    );
    img
}

fn view(node: i32, img: MetadataImage, leader: Option<u64>) -> (Arc<StaticImages>, MetadataView) {
    let src = Arc::new(StaticImages::new(img, leader));
    let me = NodeIdentity {
        node_id: node,
        incarnation: Uuid::from_u128(node as u128),
        is_broker: true,
        rack: None,
        advertised: Some(Listener {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 0,
        }),
        advertised_listeners: vec![
            Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 0,
            },
            Listener {
                name: "SASL_SSL".into(),
                host: "broker.example".into(),
                port: 9095,
            },
        ],
        rack_aware_selector: true,
    };
    (src.clone(), MetadataView::new(src, me))
}

#[test]
fn leader_checks_follow_kafkas_codes() {
    let (_, leader) = view(1, image(false), Some(1));
    assert_eq!(leader.check_leader("t", 0, -1).unwrap(), 4);
    assert_eq!(leader.check_leader("t", 0, 4).unwrap(), 4);
    let code = |r: Result<i32, BrokerError>| r.unwrap_err().code();
    assert_eq!(
        code(leader.check_leader("t", 0, 5)),
        ResponseError::UnknownLeaderEpoch.code()
    );
    assert_eq!(
        code(leader.check_leader("t", 0, 3)),
        ResponseError::FencedLeaderEpoch.code()
    );
    assert_eq!(
        code(leader.check_leader("t", 1, -1)),
        ResponseError::UnknownTopicOrPartition.code()
    );
    // A restarted broker (another incarnation in the image) does not lead yet.
    let mut restarted = image(false);
    restarted.brokers.get_mut(&1).unwrap().incarnation = Uuid::from_u128(99);
    let (_, before_registration) = view(1, restarted, Some(1));
    assert_eq!(
        code(before_registration.check_leader("t", 0, -1)),
        ResponseError::NotLeaderOrFollower.code()
    );
    let (_, follower) = view(2, image(false), Some(1));
    assert_eq!(
        code(follower.check_leader("t", 0, -1)),
        ResponseError::NotLeaderOrFollower.code()
    );
    assert!(follower.check_follower_read("t", 0, 4).is_ok());
    let (_, stranger) = view(9, image(false), Some(1));
    assert_eq!(
        stranger.check_follower_read("t", 0, -1).unwrap_err().code(),
        ResponseError::NotLeaderOrFollower.code()
    );
}

#[test]
fn rack_aware_choice_skips_fenced_and_same_rack_leaders() {
    let (src, leader) = view(1, image(false), Some(1));
    assert_eq!(leader.preferred_read_replica("t", 0, "b"), Some(2));
    assert_eq!(
        leader.preferred_read_replica("t", 0, "a"),
        None,
        "leader's rack"
    );
    assert_eq!(leader.preferred_read_replica("t", 0, ""), None);
    let mut img = image(false);
    img.brokers.get_mut(&2).unwrap().fenced = true;
    src.set(img);
    assert_eq!(leader.preferred_read_replica("t", 0, "b"), Some(3));
}

#[test]
fn topics_endpoints_and_controller_come_from_the_image() {
    let (src, v) = view(2, image(false), Some(3));
    assert_eq!(v.topic("t").unwrap().partitions, 1);
    assert_eq!(v.topic_by_id(Uuid::from_u128(77)).unwrap().name, "t");
    assert_eq!(v.min_insync_override("t"), Some(2));
    assert_eq!(v.client_visible_controller(), 3);
    src.set(image(true));
    assert_eq!(
        v.client_visible_controller(),
        2,
        "a fenced controller is not shown; this broker is"
    );
    assert_eq!(v.broker_endpoint(1), Some(("127.0.0.1".into(), 9001)));
    assert_eq!(v.broker_endpoint(3), None, "fenced");
    v.set_bound_port(4242);
    assert_eq!(v.broker_endpoint(2), Some(("127.0.0.1".into(), 4242)));
    assert_eq!(v.partition_counts("x"), [("t".to_string(), 1)].into());
    assert!(v.partition_counts("t").is_empty());
}

#[test]
fn endpoints_follow_the_listener_of_the_request() {
    let mut img = image(false);
    if let Some(b) = img.brokers.get_mut(&2) {
        b.listeners.push(Endpoint {
            name: "SASL_SSL".into(),
            host: "two.example".into(),
            port: 9195,
        });
    }
    let (_, v) = view(1, img, Some(1));
    v.set_bound_port(4242);
    assert_eq!(
        v.advertised_endpoint_on("PLAINTEXT"),
        ("127.0.0.1".into(), 4242)
    );
    assert_eq!(
        v.advertised_endpoint_on("sasl_ssl"),
        ("broker.example".into(), 9095)
    );
    assert_eq!(
        v.advertised_endpoint_on("OTHER"),
        ("127.0.0.1".into(), 4242)
    );
    assert_eq!(
        v.broker_endpoint_on(2, "SASL_SSL"),
        Some(("two.example".into(), 9195))
    );
    assert_eq!(
        v.broker_endpoint_on(2, "PLAINTEXT"),
        Some(("127.0.0.1".into(), 9002))
    );
}
