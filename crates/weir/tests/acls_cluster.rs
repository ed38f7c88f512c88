//! The authorizer on a 3-node cluster whose brokers talk to each other over PLAINTEXT: their
//! requests (replica fetches, …) are `User:ANONYMOUS` like any PLAINTEXT client, so they need
//! CLUSTER_ACTION, as `docs/security.md` says. The ACLs are created by a super user (the first
//! start has `super.users=User:ANONYMOUS`), then every node restarts without super users: a
//! topic the ACLs cover is created with 3 replicas and produced to with acks=all (acknowledged
//! only once both followers fetched the records: without the CLUSTER_ACTION ACL the produce times
//! out) and read back; a topic the ACLs do not cover cannot be created.

use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::{ApiKey, CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::StrBytes;
use rdkafka::Offset;
use weir_test_support::clients::{assigned_consumer, consume_n, flush, producer, send};
use weir_test_support::cluster::{create_replicated_topic, full_isr};
use weir_test_support::raw::RawClient;
use weir_test_support::{restart_all, start_cluster, wait_until, BrokerOptions};

fn acl(kind: i8, name: &str, pattern: i8, op: i8) -> AclCreation {
    let mut c = AclCreation::default();
    c.resource_type = kind;
    c.resource_name = StrBytes::from_string(name.to_string());
    c.resource_pattern_type = pattern;
    c.principal = StrBytes::from_static_str("User:ANONYMOUS");
    c.host = StrBytes::from_static_str("*");
    c.operation = op;
    c.permission_type = 3; // ALLOW
    c
}

#[test]
fn brokers_replicate_with_cluster_action_and_clients_get_only_their_acls() {
    let bin = Path::new(env!("CARGO_BIN_EXE_weir"));
    let opts = BrokerOptions::default()
        .config("authorizer.class.name", "weir")
        .config("super.users", "User:ANONYMOUS");
    let mut nodes = start_cluster(bin, 3, opts);
    let bootstrap = nodes[1].bootstrap();

    // CLUSTER (4) kafka-cluster LITERAL (3) CLUSTER_ACTION (9); TOPIC (2) r- PREFIXED (4) ALL (2);
    // GROUP (3) * LITERAL READ (3) (the consumer's group, for its coordinator lookups).
    let mut req = CreateAclsRequest::default();
    req.creations = vec![
        acl(4, "kafka-cluster", 3, 9),
        acl(2, "r-", 4, 2),
        acl(3, "*", 3, 3),
    ];
    let created = wait_until(Duration::from_secs(30), || {
        let Ok(mut c) = RawClient::try_connect(&bootstrap) else {
            return false;
        };
        let resp: CreateAclsResponse = c.call(ApiKey::CreateAcls, 3, &req);
        resp.results.iter().all(|r| r.error_code == 0)
    });
    assert!(created, "ACLs created:\n{}", nodes[1].output());

    for n in nodes.iter_mut() {
        n.stop();
        n.set_config("super.users", None);
    }
    restart_all(&mut nodes);

    let mut code = -1;
    assert!(
        wait_until(Duration::from_secs(30), || {
            code = create_replicated_topic(&bootstrap, "r-1", 2, 3, &[]);
            code == 0 || code == 36
        }),
        "create r-1: {code}"
    );
    assert!(
        wait_until(Duration::from_secs(30), || full_isr(&nodes, "r-1", 3)),
        "r-1 has three in-sync replicas:\n{}",
        nodes[0].output()
    );
    let (p, log) = producer(&bootstrap, &[]);
    for i in 0..20 {
        send(&p, "r-1", Some(i % 2), None, format!("v{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    assert!(log.errors.lock().unwrap().is_empty(), "{:?}", log.errors);
    assert_eq!(log.acked.lock().unwrap().len(), 20);
    let c = assigned_consumer(&bootstrap, "r-1", 2, Offset::Beginning, &[]);
    assert_eq!(consume_n(&c, 20, Duration::from_secs(30)).len(), 20);

    // No ACL covers x-1: TOPIC_AUTHORIZATION_FAILED.
    assert_eq!(create_replicated_topic(&bootstrap, "x-1", 1, 3, &[]), 29);
}
