//! The authorizer's decisions, case by case as Kafka's StandardAuthorizer tests them.

use super::*;
use crate::acl::{AclBinding, PatternType, CLUSTER_NAME};

use AclOperation as O;
use AclPermission as P;
use PatternType as Pt;
use ResourceType as R;

fn acl(
    kind: ResourceType,
    name: &str,
    pt: PatternType,
    who: &str,
    op: AclOperation,
    perm: AclPermission,
) -> AclBinding {
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

fn can(
    acls: &[AclBinding],
    s: &AuthorizerSettings,
    who: &str,
    op: AclOperation,
    kind: ResourceType,
    name: &str,
) -> bool {
    authorize(
        acls,
        s,
        &Request {
            principal: who,
            host: "10.0.0.1",
            operation: op,
            resource_type: kind,
            resource_name: name,
        },
    )
}

#[test]
fn no_acls_denies_unless_allow_everyone_if_no_acl_found() {
    let strict = AuthorizerSettings::default();
    assert!(!can(&[], &strict, "User:alice", O::Read, R::Topic, "t"));
    let open = AuthorizerSettings::new("", true);
    assert!(can(&[], &open, "User:alice", O::Read, R::Topic, "t"));
    // Any ACL on the resource (even for someone else) turns the fallback off for it.
    let other = [acl(
        R::Topic,
        "t",
        Pt::Literal,
        "User:bob",
        O::Read,
        P::Allow,
    )];
    assert!(!can(&other, &open, "User:alice", O::Read, R::Topic, "t"));
    assert!(
        can(&other, &open, "User:alice", O::Read, R::Topic, "u"),
        "no ACL for u"
    );
}

#[test]
fn super_users_are_semicolon_separated_and_allowed_everything() {
    let s = AuthorizerSettings::new("User:admin; User:ops ;", false);
    assert_eq!(s.super_users, vec!["User:admin", "User:ops"]);
    let deny_all = [acl(R::Topic, "*", Pt::Literal, "User:*", O::All, P::Deny)];
    assert!(
        can(&deny_all, &s, "User:ops", O::Write, R::Topic, "t"),
        "even over a DENY"
    );
    assert!(can(
        &[],
        &s,
        "User:admin",
        O::Alter,
        R::Cluster,
        CLUSTER_NAME
    ));
    assert!(!can(
        &[],
        &s,
        "User:alice",
        O::Alter,
        R::Cluster,
        CLUSTER_NAME
    ));
}

#[test]
fn literal_wildcard_and_prefixed_allows() {
    let s = AuthorizerSettings::default();
    let acls = [
        acl(
            R::Topic,
            "orders",
            Pt::Literal,
            "User:alice",
            O::Read,
            P::Allow,
        ),
        acl(
            R::Topic,
            "p-",
            Pt::Prefixed,
            "User:alice",
            O::Write,
            P::Allow,
        ),
        acl(R::Group, "*", Pt::Literal, "User:alice", O::Read, P::Allow),
    ];
    assert!(can(&acls, &s, "User:alice", O::Read, R::Topic, "orders"));
    assert!(
        !can(&acls, &s, "User:alice", O::Write, R::Topic, "orders"),
        "READ is not WRITE"
    );
    assert!(can(&acls, &s, "User:alice", O::Write, R::Topic, "p-1"));
    assert!(!can(&acls, &s, "User:alice", O::Write, R::Topic, "q-1"));
    assert!(can(&acls, &s, "User:alice", O::Read, R::Group, "any-group"));
    assert!(
        !can(&acls, &s, "User:bob", O::Read, R::Topic, "orders"),
        "another principal"
    );
    assert!(
        !can(
            &acls,
            &s,
            "User:alice",
            O::Read,
            R::TransactionalId,
            "orders"
        ),
        "another type"
    );
}

#[test]
fn deny_wins_over_allow_whatever_the_pattern() {
    let s = AuthorizerSettings::default();
    let acls = [
        acl(
            R::Topic,
            "p-",
            Pt::Prefixed,
            "User:alice",
            O::Write,
            P::Allow,
        ),
        acl(
            R::Topic,
            "p-secret",
            Pt::Literal,
            "User:alice",
            O::Write,
            P::Deny,
        ),
        acl(R::Topic, "*", Pt::Literal, "User:*", O::All, P::Allow),
        acl(R::Topic, "x", Pt::Literal, "User:*", O::All, P::Deny),
    ];
    assert!(can(&acls, &s, "User:alice", O::Write, R::Topic, "p-1"));
    assert!(!can(
        &acls,
        &s,
        "User:alice",
        O::Write,
        R::Topic,
        "p-secret"
    ));
    assert!(
        can(&acls, &s, "User:alice", O::Read, R::Topic, "p-secret"),
        "DENY WRITE is not DENY READ"
    );
    assert!(
        !can(&acls, &s, "User:bob", O::Read, R::Topic, "x"),
        "DENY ALL to User:*"
    );
    assert!(
        can(&acls, &s, "User:bob", O::Read, R::Topic, "y"),
        "ALLOW ALL to User:*"
    );
}

#[test]
fn hosts_must_match_or_be_wildcards() {
    let s = AuthorizerSettings::default();
    let mut a = acl(R::Topic, "t", Pt::Literal, "User:alice", O::Read, P::Allow);
    a.host = "10.0.0.2".into();
    assert!(!can(
        std::slice::from_ref(&a),
        &s,
        "User:alice",
        O::Read,
        R::Topic,
        "t"
    ));
    a.host = "10.0.0.1".into();
    assert!(can(
        std::slice::from_ref(&a),
        &s,
        "User:alice",
        O::Read,
        R::Topic,
        "t"
    ));
    let mut d = acl(R::Topic, "t", Pt::Literal, "User:alice", O::Read, P::Deny);
    d.host = "10.0.0.9".into();
    assert!(
        can(&[a, d], &s, "User:alice", O::Read, R::Topic, "t"),
        "a DENY for another host"
    );
}

#[test]
fn implied_operations() {
    let s = AuthorizerSettings::default();
    for granted in [O::Read, O::Write, O::Delete, O::Alter] {
        let acls = [acl(R::Topic, "t", Pt::Literal, "User:a", granted, P::Allow)];
        assert!(
            can(&acls, &s, "User:a", O::Describe, R::Topic, "t"),
            "{granted} implies DESCRIBE"
        );
    }
    for granted in [
        O::Create,
        O::AlterConfigs,
        O::DescribeConfigs,
        O::ClusterAction,
    ] {
        let acls = [acl(R::Topic, "t", Pt::Literal, "User:a", granted, P::Allow)];
        assert!(
            !can(&acls, &s, "User:a", O::Describe, R::Topic, "t"),
            "{granted} does not imply DESCRIBE"
        );
    }
    let acls = [acl(
        R::Topic,
        "t",
        Pt::Literal,
        "User:a",
        O::AlterConfigs,
        P::Allow,
    )];
    assert!(can(&acls, &s, "User:a", O::DescribeConfigs, R::Topic, "t"));
    let all = [acl(
        R::Cluster,
        CLUSTER_NAME,
        Pt::Literal,
        "User:a",
        O::All,
        P::Allow,
    )];
    assert!(can(
        &all,
        &s,
        "User:a",
        O::ClusterAction,
        R::Cluster,
        CLUSTER_NAME
    ));
    // A DENY READ does not deny DESCRIBE implied by an ALLOW WRITE.
    let acls = [
        acl(R::Topic, "t", Pt::Literal, "User:a", O::Write, P::Allow),
        acl(R::Topic, "t", Pt::Literal, "User:a", O::Read, P::Deny),
    ];
    assert!(can(&acls, &s, "User:a", O::Describe, R::Topic, "t"));
    // ...but a DENY DESCRIBE does.
    let acls = [
        acl(R::Topic, "t", Pt::Literal, "User:a", O::Write, P::Allow),
        acl(R::Topic, "t", Pt::Literal, "User:a", O::Describe, P::Deny),
    ];
    assert!(!can(&acls, &s, "User:a", O::Describe, R::Topic, "t"));
}

#[test]
fn by_resource_type_needs_some_allow_not_covered_by_a_deny() {
    let s = AuthorizerSettings::default();
    let any =
        |acls: &[AclBinding]| authorize_any(acls, &s, "User:a", "10.0.0.1", O::Write, R::Topic);
    assert!(!any(&[]));
    let allow = acl(R::Topic, "p-", Pt::Prefixed, "User:a", O::Write, P::Allow);
    assert!(any(std::slice::from_ref(&allow)));
    let deny_prefix = acl(R::Topic, "p", Pt::Prefixed, "User:a", O::Write, P::Deny);
    assert!(
        !any(&[allow.clone(), deny_prefix]),
        "the whole prefix is denied"
    );
    let deny_one = acl(R::Topic, "p-x", Pt::Literal, "User:a", O::Write, P::Deny);
    assert!(any(&[allow.clone(), deny_one]), "other p- topics remain");
    let deny_all = acl(R::Topic, "*", Pt::Literal, "User:*", O::All, P::Deny);
    assert!(!any(&[allow, deny_all]));
    assert!(authorize_any(
        &[],
        &AuthorizerSettings::new("User:a", false),
        "User:a",
        "h",
        O::Write,
        R::Topic
    ));
}
