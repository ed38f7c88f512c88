//! The ACL model: codes, names, validation, pattern and filter matching.

use super::*;

pub(crate) fn acl(
    kind: ResourceType,
    name: &str,
    pattern: PatternType,
    principal: &str,
    op: AclOperation,
    perm: AclPermission,
) -> AclBinding {
    AclBinding {
        resource_type: kind,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: principal.into(),
        host: "*".into(),
        operation: op,
        permission: perm,
    }
}

#[test]
fn codes_and_names_are_kafkas() {
    assert_eq!(ResourceType::Topic.code(), 2);
    assert_eq!(ResourceType::TransactionalId.code(), 5);
    assert_eq!(PatternType::Prefixed.code(), 4);
    assert_eq!(AclOperation::IdempotentWrite.code(), 12);
    assert_eq!(AclPermission::Allow.code(), 3);
    assert_eq!(ResourceType::from_code(0), None, "UNKNOWN");
    assert_eq!(AclOperation::from_code(8), Some(AclOperation::Describe));
    assert_eq!(
        AclOperation::parse("describe-configs"),
        Some(AclOperation::DescribeConfigs)
    );
    assert_eq!(PatternType::parse("prefixed"), Some(PatternType::Prefixed));
    assert_eq!(AclOperation::parse("nope"), None);
}

#[test]
fn stored_bindings_are_validated() {
    use AclOperation as O;
    use AclPermission as P;
    use PatternType as Pt;
    use ResourceType as R;
    let ok = acl(R::Topic, "t", Pt::Literal, "User:a", O::Read, P::Allow);
    assert_eq!(ok.invalid_reason(), None);
    for bad in [
        AclBinding {
            resource_type: R::Any,
            ..ok.clone()
        },
        AclBinding {
            pattern_type: Pt::Match,
            ..ok.clone()
        },
        AclBinding {
            operation: O::Any,
            ..ok.clone()
        },
        AclBinding {
            permission: P::Any,
            ..ok.clone()
        },
        AclBinding {
            principal: "alice".into(),
            ..ok.clone()
        },
        AclBinding {
            host: String::new(),
            ..ok.clone()
        },
        AclBinding {
            resource_name: String::new(),
            ..ok.clone()
        },
        acl(R::Cluster, "c", Pt::Literal, "User:a", O::Alter, P::Allow),
    ] {
        assert!(bad.invalid_reason().is_some(), "{bad:?}");
    }
    assert_eq!(
        acl(
            R::Cluster,
            CLUSTER_NAME,
            Pt::Literal,
            "User:a",
            O::Alter,
            P::Allow
        )
        .invalid_reason(),
        None
    );
}

#[test]
fn patterns_apply_literally_by_wildcard_and_by_prefix() {
    use AclOperation as O;
    use AclPermission as P;
    use ResourceType as R;
    let lit = acl(
        R::Topic,
        "orders",
        PatternType::Literal,
        "User:a",
        O::Read,
        P::Allow,
    );
    let star = acl(
        R::Topic,
        "*",
        PatternType::Literal,
        "User:a",
        O::Read,
        P::Allow,
    );
    let pre = acl(
        R::Topic,
        "ord",
        PatternType::Prefixed,
        "User:a",
        O::Read,
        P::Allow,
    );
    assert!(lit.applies_to(R::Topic, "orders"));
    assert!(!lit.applies_to(R::Topic, "orders2"));
    assert!(!lit.applies_to(R::Group, "orders"), "other resource type");
    assert!(star.applies_to(R::Topic, "anything"));
    assert!(pre.applies_to(R::Topic, "orders"));
    assert!(pre.applies_to(R::Topic, "ord"));
    assert!(!pre.applies_to(R::Topic, "or"));
    let pre_star = acl(
        R::Topic,
        "*",
        PatternType::Prefixed,
        "User:a",
        O::Read,
        P::Allow,
    );
    assert!(
        !pre_star.applies_to(R::Topic, "x"),
        "a prefixed * is the prefix \"*\""
    );
}

#[test]
fn filters_match_any_literal_prefixed_and_match() {
    use AclOperation as O;
    use AclPermission as P;
    use ResourceType as R;
    let lit = acl(
        R::Topic,
        "orders",
        PatternType::Literal,
        "User:a",
        O::Read,
        P::Allow,
    );
    let pre = acl(
        R::Topic,
        "ord",
        PatternType::Prefixed,
        "User:b",
        O::Write,
        P::Deny,
    );
    let grp = acl(
        R::Group,
        "g",
        PatternType::Literal,
        "User:a",
        O::Read,
        P::Allow,
    );
    let all = [&lit, &pre, &grp];
    let count = |f: &AclFilter| all.iter().filter(|a| f.matches(a)).count();
    assert_eq!(count(&AclFilter::any()), 3);
    let topics = AclFilter {
        resource_type: R::Topic,
        ..AclFilter::any()
    };
    assert_eq!(count(&topics), 2);
    let named = AclFilter {
        resource_name: Some("orders".into()),
        ..topics.clone()
    };
    assert_eq!(count(&named), 1, "ANY with a name: that exact name");
    let matching = AclFilter {
        pattern_type: PatternType::Match,
        ..named.clone()
    };
    assert_eq!(
        count(&matching),
        2,
        "MATCH: the literal and the prefix that apply"
    );
    let prefixed = AclFilter {
        pattern_type: PatternType::Prefixed,
        ..topics.clone()
    };
    assert_eq!(count(&prefixed), 1);
    let by_principal = AclFilter {
        principal: Some("User:a".into()),
        ..AclFilter::any()
    };
    assert_eq!(count(&by_principal), 2);
    let denies = AclFilter {
        permission: P::Deny,
        ..AclFilter::any()
    };
    assert_eq!(count(&denies), 1);
    let writes = AclFilter {
        operation: O::Write,
        ..AclFilter::any()
    };
    assert_eq!(count(&writes), 1);
}
