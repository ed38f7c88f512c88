//! Authorization in the request pipeline with principals other than `User:ANONYMOUS`: an
//! in-process broker with the authorizer on, and requests run through
//! `api::dispatch_ordered` with a `RequestContext` whose principal is set the way the SASL / mTLS
//! layer sets it. Shows: a super user can do everything (create topics and ACLs); an ordinary
//! user without ACLs can neither list, produce, create topics nor manage ACLs; a prefixed WRITE
//! grant opens those topics only; a DENY overrides the ALLOW; removing ACLs takes effect at once.

mod common;

use std::net::SocketAddr;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_broker::api::{dispatch_ordered, Principal, RequestContext};
use weir_broker::Broker;

use common::{batch, produce_req, topic_name, Server};

fn ctx(key: ApiKey, version: i16, user: &str) -> RequestContext {
    let mut header = RequestHeader::default();
    header.request_api_key = key as i16;
    header.request_api_version = version;
    header.correlation_id = 1;
    let addr: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    RequestContext {
        header,
        api_version: version,
        client_addr: addr,
        listener: "SASL_PLAINTEXT".into(),
        principal: Principal {
            kind: "User".into(),
            name: user.into(),
        },
        connection_id: 7,
        send_files: false,
        received: std::time::Instant::now(),
    }
}

async fn call(b: &Broker, key: ApiKey, version: i16, user: &str, req: RequestKind) -> ResponseKind {
    dispatch_ordered(b, ctx(key, version, user), req)
        .await
        .await
        .expect("a response")
}

async fn create_topic(b: &Broker, user: &str, name: &str) -> i16 {
    let mut t = CreatableTopic::default();
    t.name = topic_name(name);
    t.num_partitions = 1;
    t.replication_factor = 1;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 10_000;
    match call(
        b,
        ApiKey::CreateTopics,
        7,
        user,
        RequestKind::CreateTopics(req),
    )
    .await
    {
        ResponseKind::CreateTopics(r) => r.topics[0].error_code,
        other => panic!("{other:?}"),
    }
}

async fn produce(b: &Broker, user: &str, topic: &str) -> i16 {
    let req = produce_req(topic, 0, -1, batch(&["v"]));
    match call(b, ApiKey::Produce, 9, user, RequestKind::Produce(req)).await {
        ResponseKind::Produce(r) => r.responses[0].partition_responses[0].error_code,
        other => panic!("{other:?}"),
    }
}

async fn topics(b: &Broker, user: &str) -> Vec<String> {
    let mut req = MetadataRequest::default();
    req.topics = None;
    match call(b, ApiKey::Metadata, 12, user, RequestKind::Metadata(req)).await {
        ResponseKind::Metadata(r) => {
            let mut names: Vec<String> = r
                .topics
                .iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                .filter(|n| !n.starts_with("__"))
                .collect();
            names.sort();
            names
        }
        other => panic!("{other:?}"),
    }
}

/// (resource type, name, pattern type, principal, operation, permission) as Kafka's codes.
async fn create_acl(b: &Broker, user: &str, acl: (i8, &str, i8, &str, i8, i8)) -> i16 {
    let mut c = AclCreation::default();
    c.resource_type = acl.0;
    c.resource_name = StrBytes::from_string(acl.1.into());
    c.resource_pattern_type = acl.2;
    c.principal = StrBytes::from_string(acl.3.into());
    c.host = StrBytes::from_static_str("*");
    c.operation = acl.4;
    c.permission_type = acl.5;
    let mut req = CreateAclsRequest::default();
    req.creations = vec![c];
    match call(b, ApiKey::CreateAcls, 3, user, RequestKind::CreateAcls(req)).await {
        ResponseKind::CreateAcls(r) => r.results[0].error_code,
        other => panic!("{other:?}"),
    }
}

const TOPIC: i8 = 2;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const WRITE: i8 = 4;
const ALLOW: i8 = 3;
const DENY: i8 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_are_authorized_by_the_acls_of_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), |cfg| {
        cfg.authorizer.enabled = true;
        cfg.authorizer.settings = std::sync::Arc::new(
            weir_meta::authorizer::AuthorizerSettings::new("User:admin", false),
        );
    })
    .await;
    let b = &*server.broker;

    // A super user can do everything.
    for t in ["p-1", "p-secret", "q-1"] {
        assert_eq!(create_topic(b, "admin", t).await, 0, "{t}");
    }
    assert_eq!(produce(b, "admin", "q-1").await, 0);
    assert_eq!(topics(b, "admin").await, vec!["p-1", "p-secret", "q-1"]);

    // Without ACLs alice can do nothing.
    assert!(topics(b, "alice").await.is_empty());
    assert_eq!(produce(b, "alice", "p-1").await, 29);
    assert_eq!(create_topic(b, "alice", "p-2").await, 29);
    let grant = (TOPIC, "p-", PREFIXED, "User:alice", WRITE, ALLOW);
    assert_eq!(create_acl(b, "alice", grant).await, 31);

    // The super user grants WRITE on p-*: alice produces there only.
    assert_eq!(create_acl(b, "admin", grant).await, 0);
    assert_eq!(produce(b, "alice", "p-1").await, 0);
    assert_eq!(produce(b, "alice", "p-secret").await, 0);
    assert_eq!(produce(b, "alice", "q-1").await, 29);
    assert_eq!(topics(b, "alice").await, vec!["p-1", "p-secret"]);
    assert!(topics(b, "bob").await.is_empty(), "the grant is alice's");

    // A DENY overrides the ALLOW.
    let deny = (TOPIC, "p-secret", LITERAL, "User:alice", WRITE, DENY);
    assert_eq!(create_acl(b, "admin", deny).await, 0);
    assert_eq!(produce(b, "alice", "p-secret").await, 29);
    assert_eq!(produce(b, "alice", "p-1").await, 0);

    // Removing alice's ACLs takes effect for her next request.
    let mut f = DeleteAclsFilter::default();
    f.resource_type_filter = 1; // ANY
    f.pattern_type_filter = 1; // ANY
    f.resource_name_filter = None;
    f.principal_filter = Some(StrBytes::from_static_str("User:alice"));
    f.host_filter = None;
    f.operation = 1;
    f.permission_type = 1;
    let mut del = DeleteAclsRequest::default();
    del.filters = vec![f];
    match call(
        b,
        ApiKey::DeleteAcls,
        3,
        "admin",
        RequestKind::DeleteAcls(del),
    )
    .await
    {
        ResponseKind::DeleteAcls(r) => assert_eq!(r.filter_results[0].matching_acls.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(produce(b, "alice", "p-1").await, 29);
    server.stop().await;
}
