//! The ACL APIs (CreateAcls 30, DescribeAcls 29, DeleteAcls 31) against the real binary with a
//! hand-built protocol client: Kafka's validation codes, MATCH / ANY filters, idempotent
//! creation, ACLs surviving a restart (they live in the metadata log and its snapshot), and
//! SECURITY_DISABLED without an authorizer. Every client here is User:ANONYMOUS (PLAINTEXT), made
//! a super user by `super.users` the way Kafka bootstraps ACLs.

use std::path::Path;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, CreateAclsRequest, CreateAclsResponse,
    DeleteAclsRequest, DeleteAclsResponse, DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use weir_test_support::raw::RawClient;
use weir_test_support::{BrokerOptions, BrokerProcess};

const INVALID_REQUEST: i16 = 42;
const SECURITY_DISABLED: i16 = 54;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A creation: (resource type, name, pattern type, principal, operation, permission) codes.
fn creation(kind: i8, name: &str, pattern: i8, principal: &str, op: i8, perm: i8) -> AclCreation {
    let mut c = AclCreation::default();
    c.resource_type = kind;
    c.resource_name = s(name);
    c.resource_pattern_type = pattern;
    c.principal = s(principal);
    c.host = s("*");
    c.operation = op;
    c.permission_type = perm;
    c
}

/// A DescribeAcls of resource type / name / pattern type (everything else ANY).
fn describe(c: &mut RawClient, kind: i8, name: Option<&str>, pattern: i8) -> DescribeAclsResponse {
    let mut req = DescribeAclsRequest::default();
    req.resource_type_filter = kind;
    req.resource_name_filter = name.map(s);
    req.pattern_type_filter = pattern;
    req.principal_filter = None;
    req.host_filter = None;
    req.operation = 1;
    req.permission_type = 1;
    c.call(ApiKey::DescribeAcls, 3, &req)
}

fn count(r: &DescribeAclsResponse) -> usize {
    r.resources.iter().map(|r| r.acls.len()).sum()
}

fn authorizer(super_user: bool) -> BrokerOptions {
    let opts = BrokerOptions::default().config("authorizer.class.name", "weir");
    if super_user {
        opts.config("super.users", "User:ANONYMOUS")
    } else {
        opts
    }
}

#[test]
fn acls_are_validated_filtered_kept_across_restarts_and_deleted() {
    let mut b = BrokerProcess::start(Path::new(env!("CARGO_BIN_EXE_weir")), authorizer(true));
    let mut c = RawClient::connect(&b.bootstrap());
    let versions: ApiVersionsResponse =
        c.call(ApiKey::ApiVersions, 2, &ApiVersionsRequest::default());
    for key in [29, 30, 31] {
        let v = versions
            .api_keys
            .iter()
            .find(|k| k.api_key == key)
            .expect("advertised");
        assert_eq!((v.min_version, v.max_version), (1, 3), "api key {key}");
    }

    // TOPIC=2, GROUP=3, CLUSTER=4; LITERAL=3, PREFIXED=4, MATCH=2; WRITE=4, READ=3; ALLOW=3, DENY=2.
    let mut req = CreateAclsRequest::default();
    req.creations = vec![
        creation(2, "p-", 4, "User:alice", 4, 3),
        creation(2, "p-", 4, "User:alice", 4, 3), // the same again: one stored
        creation(2, "p-x", 3, "User:alice", 4, 2),
        creation(3, "g", 3, "User:*", 3, 3),
        creation(2, "t", 2, "User:alice", 4, 3), // MATCH: filters only
        creation(2, "t", 3, "User:alice", 99, 3), // unknown operation
        creation(4, "nope", 3, "User:alice", 7, 3), // the cluster is kafka-cluster
        creation(2, "t", 3, "alice", 4, 3),      // not Type:name
    ];
    let resp: CreateAclsResponse = c.call(ApiKey::CreateAcls, 3, &req);
    let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
    assert_eq!(
        codes,
        vec![
            0,
            0,
            0,
            0,
            INVALID_REQUEST,
            INVALID_REQUEST,
            INVALID_REQUEST,
            INVALID_REQUEST
        ]
    );

    let all = describe(&mut c, 1, None, 1);
    assert_eq!((all.error_code, count(&all)), (0, 3), "{all:?}");
    // MATCH on a topic name: the ACLs that apply to it (the literal DENY and the prefix).
    let matching = describe(&mut c, 2, Some("p-x"), 2);
    assert_eq!(count(&matching), 2, "{matching:?}");
    let literal = describe(&mut c, 2, Some("p-x"), 3);
    assert_eq!(count(&literal), 1);
    let groups = describe(&mut c, 3, None, 1);
    assert_eq!(count(&groups), 1);
    assert_eq!(groups.resources[0].acls[0].principal.as_str(), "User:*");
    let bad = describe(&mut c, 0, None, 1);
    assert_eq!(bad.error_code, INVALID_REQUEST, "UNKNOWN resource type");

    // The ACLs live in the metadata log: a restart keeps them.
    b.stop();
    b.restart();
    let mut c = RawClient::connect(&b.bootstrap());
    assert_eq!(count(&describe(&mut c, 1, None, 1)), 3);

    // DeleteAcls: each filter lists what it removed.
    let mut f = DeleteAclsFilter::default();
    f.resource_type_filter = 2;
    f.resource_name_filter = Some(s("p-x"));
    f.pattern_type_filter = 2; // MATCH
    f.principal_filter = None;
    f.host_filter = None;
    f.operation = 1;
    f.permission_type = 2; // DENY only
    let mut del = DeleteAclsRequest::default();
    del.filters = vec![f];
    let resp: DeleteAclsResponse = c.call(ApiKey::DeleteAcls, 3, &del);
    assert_eq!(resp.filter_results[0].error_code, 0);
    let removed = &resp.filter_results[0].matching_acls;
    assert_eq!(removed.len(), 1);
    assert_eq!(
        (
            removed[0].resource_name.as_str(),
            removed[0].permission_type
        ),
        ("p-x", 2)
    );
    assert_eq!(count(&describe(&mut c, 1, None, 1)), 2);

    // Without super.users the same client may not manage ACLs any more.
    b.stop();
    let mut plain = BrokerProcess::start(Path::new(env!("CARGO_BIN_EXE_weir")), authorizer(false));
    let mut c = RawClient::connect(&plain.bootstrap());
    assert_eq!(
        describe(&mut c, 1, None, 1).error_code,
        CLUSTER_AUTHORIZATION_FAILED
    );
    plain.stop();
}

#[test]
fn acl_apis_answer_security_disabled_without_an_authorizer() {
    let b = BrokerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        BrokerOptions::default(),
    );
    let mut c = RawClient::connect(&b.bootstrap());
    assert_eq!(describe(&mut c, 1, None, 1).error_code, SECURITY_DISABLED);
    let mut req = CreateAclsRequest::default();
    req.creations = vec![creation(2, "t", 3, "User:alice", 4, 3)];
    let resp: CreateAclsResponse = c.call(ApiKey::CreateAcls, 3, &req);
    assert_eq!(resp.results[0].error_code, SECURITY_DISABLED);
    let mut del = DeleteAclsRequest::default();
    let mut f = DeleteAclsFilter::default();
    f.resource_type_filter = 1;
    f.pattern_type_filter = 1;
    f.operation = 1;
    f.permission_type = 1;
    del.filters = vec![f];
    let resp: DeleteAclsResponse = c.call(ApiKey::DeleteAcls, 3, &del);
    assert_eq!(resp.filter_results[0].error_code, SECURITY_DISABLED);
}

/// `weir produce` reports records the broker refused (here: no WRITE, TOPIC_AUTHORIZATION_FAILED)
/// instead of claiming they were produced.
#[test]
fn weir_produce_fails_when_the_broker_refuses_the_records() {
    use std::io::Write;
    let b = BrokerProcess::start(Path::new(env!("CARGO_BIN_EXE_weir")), authorizer(false));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["produce", "guarded", "-b", &b.bootstrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn weir produce");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("produced 2 messages"), "{stderr}");
    assert!(
        stderr.contains("not stored") || stderr.contains("not acknowledged"),
        "{stderr}"
    );
}
