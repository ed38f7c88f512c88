//! The per-API checks, driven with requests of several principals against a hand-built image:
//! what reaches the handler, what is refused with which code, what the merge adds or hides.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;
use weir_meta::acl::{
    AclBinding, AclOperation as Op, AclPermission, PatternType, ResourceType as R, CLUSTER_NAME,
};
use weir_meta::authorizer::AuthorizerSettings;
use weir_meta::image::{MetadataImage, TopicInfo};
use weir_meta::records::PartitionInfo;

use super::*;
use crate::config::AuthorizerConfig;
use crate::metadata::view::{NodeIdentity, StaticImages};

fn acl(kind: R, name: &str, pt: PatternType, who: &str, op: Op, perm: AclPermission) -> AclBinding {
    AclBinding {
        resource_type: kind,
        resource_name: name.into(),
        pattern_type: pt,
        principal: who.into(),
        host: "*".into(),
        operation: op,
        permission: perm,
    }
}

/// Topics `p-1`, `p-secret` and `q-1`; alice may WRITE `p-*` but not `p-secret`, READ `q-1`, READ
/// group `g`, WRITE transactional id `tx`; ops may ALTER the cluster.
pub(super) fn view() -> MetadataView {
    let mut img = MetadataImage::default();
    for (i, name) in ["p-1", "p-secret", "q-1"].iter().enumerate() {
        img.topics.insert(
            name.to_string(),
            TopicInfo {
                id: Uuid::from_u128(i as u128 + 1),
                partitions: vec![PartitionInfo::new(vec![1])],
                configs: BTreeMap::new(),
            },
        );
    }
    let allow = AclPermission::Allow;
    let acls = [
        acl(
            R::Topic,
            "p-",
            PatternType::Prefixed,
            "User:alice",
            Op::Write,
            allow,
        ),
        acl(
            R::Topic,
            "p-secret",
            PatternType::Literal,
            "User:alice",
            Op::Write,
            AclPermission::Deny,
        ),
        acl(
            R::Topic,
            "q-1",
            PatternType::Literal,
            "User:alice",
            Op::Read,
            allow,
        ),
        acl(
            R::Group,
            "g",
            PatternType::Literal,
            "User:alice",
            Op::Read,
            allow,
        ),
        acl(
            R::TransactionalId,
            "tx",
            PatternType::Literal,
            "User:alice",
            Op::Write,
            allow,
        ),
        acl(
            R::Cluster,
            CLUSTER_NAME,
            PatternType::Literal,
            "User:ops",
            Op::Alter,
            allow,
        ),
    ];
    for (i, a) in acls.into_iter().enumerate() {
        img.acls.insert(Uuid::from_u128(100 + i as u128), a);
    }
    let me = NodeIdentity {
        node_id: 1,
        incarnation: Uuid::nil(),
        is_broker: true,
        rack: None,
        advertised: None,
        advertised_listeners: Vec::new(),
        rack_aware_selector: false,
    };
    MetadataView::new(Arc::new(StaticImages::new(img, Some(1))), me)
}

pub(super) fn config(on: bool) -> AuthorizerConfig {
    AuthorizerConfig {
        enabled: on,
        settings: Arc::new(AuthorizerSettings::new("User:admin", false)),
    }
}

pub(super) fn as_user(cfg: &AuthorizerConfig, v: &MetadataView, who: &str) -> Authz {
    let (kind, name) = who.split_once(':').unwrap();
    Authz::new(cfg, v, (kind, name), std::net::Ipv4Addr::LOCALHOST.into())
}

fn produce(topics: &[&str]) -> ProduceRequest {
    let mut r = ProduceRequest::default();
    r.acks = -1;
    for t in topics {
        let mut td = produce_request::TopicProduceData::default();
        td.name = TopicName(StrBytes::from_string(t.to_string()));
        let mut p = produce_request::PartitionProduceData::default();
        p.index = 0;
        td.partition_data.push(p);
        r.topic_data.push(td);
    }
    r
}

pub(super) fn passed(g: Gate) -> (RequestKind, Option<Post>) {
    match g {
        Gate::Pass(b, p) => (b, p),
        Gate::Refuse(r) => panic!("refused: {r:?}"),
        Gate::Close(why) => panic!("closed: {why}"),
    }
}

pub(super) fn refused(g: Gate) -> ResponseKind {
    match g {
        Gate::Refuse(r) => r,
        Gate::Pass(b, _) => panic!("passed: {b:?}"),
        Gate::Close(why) => panic!("closed: {why}"),
    }
}

#[test]
fn without_the_authorizer_nothing_is_touched() {
    let (v, cfg) = (view(), config(false));
    let a = as_user(&cfg, &v, "User:ANONYMOUS");
    let (body, post) = passed(gate(
        &a,
        &v,
        true,
        9,
        RequestKind::Produce(produce(&["q-1"])),
    ));
    assert!(post.is_none());
    assert!(matches!(body, RequestKind::Produce(r) if r.topic_data.len() == 1));
}

#[test]
fn produce_reaches_the_handler_only_for_granted_topics_and_deny_wins() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    let (body, post) = passed(gate(
        &alice,
        &v,
        true,
        9,
        RequestKind::Produce(produce(&["p-1", "p-secret", "q-1"])),
    ));
    let RequestKind::Produce(r) = body else {
        panic!()
    };
    let names: Vec<&str> = r.topic_data.iter().map(|t| t.name.0.as_str()).collect();
    assert_eq!(names, vec!["p-1"], "p-secret is denied, q-1 is READ only");
    let merged = post.expect("a merge")(ResponseKind::Produce(ProduceResponse::default()));
    let ResponseKind::Produce(resp) = merged else {
        panic!()
    };
    let codes: Vec<(&str, i16)> = resp
        .responses
        .iter()
        .map(|t| (t.name.0.as_str(), t.partition_responses[0].error_code))
        .collect();
    assert_eq!(codes, vec![("p-secret", 29), ("q-1", 29)]);
    // Nobody else may write anything; the super user may write everything.
    let bob = as_user(&cfg, &v, "User:bob");
    let (body, _) = passed(gate(
        &bob,
        &v,
        true,
        9,
        RequestKind::Produce(produce(&["p-1"])),
    ));
    assert!(matches!(body, RequestKind::Produce(r) if r.topic_data.is_empty()));
    let admin = as_user(&cfg, &v, "User:admin");
    let (body, post) = passed(gate(
        &admin,
        &v,
        true,
        9,
        RequestKind::Produce(produce(&["p-secret", "q-1"])),
    ));
    assert!(post.is_none() && matches!(body, RequestKind::Produce(r) if r.topic_data.len() == 2));
    // A transactional produce needs WRITE on the transactional id.
    let mut tx = produce(&["p-1"]);
    tx.transactional_id = Some(TransactionalId(StrBytes::from_static_str("other")));
    let ResponseKind::Produce(resp) = refused(gate(&alice, &v, true, 9, RequestKind::Produce(tx)))
    else {
        panic!()
    };
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 53);
}

#[test]
fn metadata_hides_topics_and_refuses_named_or_auto_created_ones() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    let mut all = MetadataRequest::default();
    all.topics = None; // all topics
    let (_, post) = passed(gate(
        &alice,
        &v,
        true,
        12,
        RequestKind::Metadata(all.clone()),
    ));
    let mut full = MetadataResponse::default();
    for n in ["p-1", "p-secret", "q-1"] {
        let mut t = metadata_response::MetadataResponseTopic::default();
        t.name = Some(TopicName(StrBytes::from_static_str(n)));
        full.topics.push(t);
    }
    let ResponseKind::Metadata(shown) = post.unwrap()(ResponseKind::Metadata(full.clone())) else {
        panic!()
    };
    let names: Vec<&str> = shown
        .topics
        .iter()
        .map(|t| t.name.as_ref().unwrap().0.as_str())
        .collect();
    assert_eq!(
        names,
        vec!["p-1", "p-secret", "q-1"],
        "WRITE/READ imply DESCRIBE (a DENY WRITE is not a DENY DESCRIBE)"
    );
    let bob = as_user(&cfg, &v, "User:bob");
    let (_, post) = passed(gate(&bob, &v, true, 12, RequestKind::Metadata(all.clone())));
    let ResponseKind::Metadata(shown) = post.unwrap()(ResponseKind::Metadata(full)) else {
        panic!()
    };
    assert!(shown.topics.is_empty(), "bob sees no topic");
    // Named: q-1 is visible to alice; p-new does not exist and alice may not CREATE it.
    let mut named = MetadataRequest::default();
    named.allow_auto_topic_creation = true;
    named.topics = Some(
        ["q-1", "p-new"]
            .iter()
            .map(|n| {
                let mut t = metadata_request::MetadataRequestTopic::default();
                t.name = Some(TopicName(StrBytes::from_static_str(n)));
                t
            })
            .collect(),
    );
    let (body, post) = passed(gate(
        &alice,
        &v,
        true,
        12,
        RequestKind::Metadata(named.clone()),
    ));
    let RequestKind::Metadata(r) = body else {
        panic!()
    };
    assert_eq!(r.topics.unwrap().len(), 1);
    let ResponseKind::Metadata(resp) =
        post.unwrap()(ResponseKind::Metadata(MetadataResponse::default()))
    else {
        panic!()
    };
    assert_eq!(resp.topics[0].error_code, 29);
    // Without auto-creation p-new is simply unknown: the handler answers it.
    let (body, post) = passed(gate(&alice, &v, false, 12, RequestKind::Metadata(named)));
    assert!(
        post.is_none()
            && matches!(body, RequestKind::Metadata(r) if r.topics.as_ref().map_or(0, Vec::len) == 2)
    );
}

#[test]
fn fetch_needs_read_and_a_follower_cluster_action() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    let mut f = FetchRequest::default();
    f.replica_id = BrokerId(-1);
    f.replica_state.replica_id = BrokerId(-1);
    for n in ["q-1", "p-1"] {
        let mut t = fetch_request::FetchTopic::default();
        t.topic = TopicName(StrBytes::from_static_str(n));
        t.partitions.push(fetch_request::FetchPartition::default());
        f.topics.push(t);
    }
    let (body, post) = passed(gate(&alice, &v, true, 12, RequestKind::Fetch(f.clone())));
    assert!(
        matches!(body, RequestKind::Fetch(r) if r.topics.len() == 1 && r.topics[0].topic.0.as_str() == "q-1")
    );
    let ResponseKind::Fetch(resp) = post.unwrap()(ResponseKind::Fetch(FetchResponse::default()))
    else {
        panic!()
    };
    assert_eq!(resp.responses[0].partitions[0].error_code, 29);
    f.replica_state.replica_id = BrokerId(2);
    let ResponseKind::Fetch(resp) = refused(gate(&alice, &v, true, 15, RequestKind::Fetch(f)))
    else {
        panic!()
    };
    assert_eq!(resp.error_code, 31);
}

#[test]
fn topic_admin_group_and_transaction_checks() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    // CreateTopics: nobody but the super user has CREATE.
    let mut ct = CreateTopicsRequest::default();
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str("p-2"));
    ct.topics.push(t);
    let (body, post) = passed(gate(&alice, &v, true, 7, RequestKind::CreateTopics(ct)));
    assert!(matches!(body, RequestKind::CreateTopics(r) if r.topics.is_empty()));
    let ResponseKind::CreateTopics(resp) =
        post.unwrap()(ResponseKind::CreateTopics(CreateTopicsResponse::default()))
    else {
        panic!()
    };
    assert_eq!(resp.topics[0].error_code, 29);
    // Group membership: READ on the group.
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(StrBytes::from_static_str("g"));
    passed(gate(
        &alice,
        &v,
        true,
        9,
        RequestKind::JoinGroup(join.clone()),
    ));
    join.group_id = GroupId(StrBytes::from_static_str("h"));
    let ResponseKind::JoinGroup(resp) =
        refused(gate(&alice, &v, true, 9, RequestKind::JoinGroup(join)))
    else {
        panic!()
    };
    assert_eq!(resp.error_code, 30);
    // FindCoordinator (v4+ batched): per key.
    let mut fc = FindCoordinatorRequest::default();
    fc.coordinator_keys = vec![
        StrBytes::from_static_str("g"),
        StrBytes::from_static_str("h"),
    ];
    let (_, post) = passed(gate(&alice, &v, true, 6, RequestKind::FindCoordinator(fc)));
    let ResponseKind::FindCoordinator(resp) = post.unwrap()(ResponseKind::FindCoordinator(
        FindCoordinatorResponse::default(),
    )) else {
        panic!()
    };
    assert_eq!(
        (
            resp.coordinators[0].key.as_str(),
            resp.coordinators[0].error_code
        ),
        ("h", 30)
    );
    // InitProducerId: WRITE on the transactional id; idempotent: WRITE on some topic.
    let mut init = InitProducerIdRequest::default();
    init.transactional_id = Some(TransactionalId(StrBytes::from_static_str("tx")));
    passed(gate(
        &alice,
        &v,
        true,
        5,
        RequestKind::InitProducerId(init.clone()),
    ));
    init.transactional_id = Some(TransactionalId(StrBytes::from_static_str("ty")));
    let ResponseKind::InitProducerId(resp) = refused(gate(
        &alice,
        &v,
        true,
        5,
        RequestKind::InitProducerId(init.clone()),
    )) else {
        panic!()
    };
    assert_eq!(resp.error_code, 53);
    init.transactional_id = None;
    passed(gate(
        &alice,
        &v,
        true,
        5,
        RequestKind::InitProducerId(init.clone()),
    ));
    let bob = as_user(&cfg, &v, "User:bob");
    let ResponseKind::InitProducerId(resp) =
        refused(gate(&bob, &v, true, 5, RequestKind::InitProducerId(init)))
    else {
        panic!()
    };
    assert_eq!(resp.error_code, 31);
}

#[test]
fn acl_apis_need_alter_or_describe_on_the_cluster() {
    let (v, cfg) = (view(), config(true));
    let mut create = CreateAclsRequest::default();
    create
        .creations
        .push(create_acls_request::AclCreation::default());
    let alice = as_user(&cfg, &v, "User:alice");
    let ResponseKind::CreateAcls(resp) = refused(gate(
        &alice,
        &v,
        true,
        3,
        RequestKind::CreateAcls(create.clone()),
    )) else {
        panic!()
    };
    assert_eq!(resp.results[0].error_code, 31);
    let ops = as_user(&cfg, &v, "User:ops");
    passed(gate(&ops, &v, true, 3, RequestKind::CreateAcls(create)));
    // ALTER implies DESCRIBE.
    passed(gate(
        &ops,
        &v,
        true,
        3,
        RequestKind::DescribeAcls(DescribeAclsRequest::default()),
    ));
    let ResponseKind::DescribeAcls(resp) = refused(gate(
        &alice,
        &v,
        true,
        3,
        RequestKind::DescribeAcls(DescribeAclsRequest::default()),
    )) else {
        panic!()
    };
    assert_eq!(resp.error_code, 31);
}

#[test]
fn authorized_operations_are_the_requesters() {
    let (v, cfg) = (view(), config(true));
    let alice = as_user(&cfg, &v, "User:alice");
    let bit = |op: Op| 1 << op.code();
    assert_eq!(
        alice.authorized_operations(R::Topic, "p-1"),
        bit(Op::Write) | bit(Op::Describe)
    );
    assert_eq!(
        alice.authorized_operations(R::Topic, "p-secret"),
        bit(Op::Describe)
    );
    assert_eq!(alice.authorized_operations(R::Cluster, CLUSTER_NAME), 0);
    let mut dc = DescribeClusterRequest::default();
    dc.include_cluster_authorized_operations = true;
    let ops = as_user(&cfg, &v, "User:ops");
    let (_, post) = passed(gate(&ops, &v, true, 1, RequestKind::DescribeCluster(dc)));
    let ResponseKind::DescribeCluster(resp) = post.unwrap()(ResponseKind::DescribeCluster(
        DescribeClusterResponse::default(),
    )) else {
        panic!()
    };
    assert_eq!(
        resp.cluster_authorized_operations,
        bit(Op::Alter) | bit(Op::Describe)
    );
    let mut dg = DescribeGroupsRequest::default();
    dg.include_authorized_operations = true;
    dg.groups = vec![
        GroupId(StrBytes::from_static_str("g")),
        GroupId(StrBytes::from_static_str("h")),
    ];
    let (body, post) = passed(gate(&alice, &v, true, 5, RequestKind::DescribeGroups(dg)));
    assert!(matches!(body, RequestKind::DescribeGroups(r) if r.groups.len() == 1));
    let mut handled = DescribeGroupsResponse::default();
    let mut g = describe_groups_response::DescribedGroup::default();
    g.group_id = GroupId(StrBytes::from_static_str("g"));
    handled.groups.push(g);
    let ResponseKind::DescribeGroups(resp) = post.unwrap()(ResponseKind::DescribeGroups(handled))
    else {
        panic!()
    };
    let got: Vec<(&str, i16, i32)> = resp
        .groups
        .iter()
        .map(|g| (g.group_id.0.as_str(), g.error_code, g.authorized_operations))
        .collect();
    assert_eq!(
        got,
        vec![
            ("g", 0, bit(Op::Read) | bit(Op::Describe)),
            ("h", 30, i32::MIN)
        ]
    );
}
