//! The authorization decision (the role of Kafka's `StandardAuthorizer`), pure: given the ACLs
//! of the metadata image, the settings and one request for `(principal, host, operation,
//! resource)`, allow or deny.
//!
//! The rules, in order:
//! 1. a super user (`super.users`) is allowed everything;
//! 2. the ACLs that apply are those whose resource pattern covers the resource (LITERAL name,
//!    LITERAL `*`, PREFIXED prefix), whose principal is the principal or `User:*` and whose host
//!    is the client's or `*`;
//! 3. a DENY for the operation (or ALL) wins over everything;
//! 4. an ALLOW for the operation, for ALL, or for an operation implying it (DESCRIBE is implied
//!    by READ, WRITE, DELETE and ALTER; DESCRIBE_CONFIGS by ALTER_CONFIGS) allows;
//! 5. otherwise, if no ACL at all exists for the resource (any principal, host, operation) and
//!    `allow.everyone.if.no.acl.found` is true, allow; else deny.

use crate::acl::{
    AclBinding, AclOperation, AclPermission, ResourceType, WILDCARD, WILDCARD_PRINCIPAL,
};

/// The authorizer's settings (`super.users`, `allow.everyone.if.no.acl.found`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerSettings {
    /// Principals allowed everything (`User:admin`), from the semicolon-separated `super.users`.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found` (Kafka's default: false).
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerSettings {
    /// Settings from `super.users` (semicolon-separated, blanks ignored) and
    /// `allow.everyone.if.no.acl.found`.
    pub fn new(super_users: &str, allow_everyone_if_no_acl_found: bool) -> Self {
        AuthorizerSettings {
            super_users: super_users
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            allow_everyone_if_no_acl_found,
        }
    }

    /// True when `principal` is a super user.
    pub fn is_super_user(&self, principal: &str) -> bool {
        self.super_users.iter().any(|s| s == principal)
    }
}

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `Type:name` of the requester.
    pub principal: &'a str,
    /// The client's IP address as text (`127.0.0.1`).
    pub host: &'a str,
    /// The operation asked for (never ANY or ALL).
    pub operation: AclOperation,
    /// The resource's type.
    pub resource_type: ResourceType,
    /// The resource's name (`kafka-cluster` for the cluster).
    pub resource_name: &'a str,
}

/// True when an ALLOW of `granted` allows `wanted`.
fn allow_implies(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation as O;
    granted == O::All
        || granted == wanted
        || (wanted == O::Describe && matches!(granted, O::Read | O::Write | O::Delete | O::Alter))
        || (wanted == O::DescribeConfigs && granted == O::AlterConfigs)
}

/// Decide `req` against `acls` (the whole ACL set of the image) and `settings`.
pub fn authorize<'a>(
    acls: impl IntoIterator<Item = &'a AclBinding>,
    settings: &AuthorizerSettings,
    req: &Request<'_>,
) -> bool {
    if settings.is_super_user(req.principal) {
        return true;
    }
    let mut any_for_resource = false;
    let mut allowed = false;
    for acl in acls {
        if !acl.applies_to(req.resource_type, req.resource_name) {
            continue;
        }
        any_for_resource = true;
        let principal_ok = acl.principal == req.principal || acl.principal == WILDCARD_PRINCIPAL;
        let host_ok = acl.host == req.host || acl.host == WILDCARD;
        if !principal_ok || !host_ok {
            continue;
        }
        match acl.permission {
            AclPermission::Deny
                if acl.operation == AclOperation::All || acl.operation == req.operation =>
            {
                return false;
            }
            AclPermission::Allow if allow_implies(acl.operation, req.operation) => allowed = true,
            _ => {}
        }
    }
    allowed || (!any_for_resource && settings.allow_everyone_if_no_acl_found)
}

/// True when `principal` at `host` may do `operation` on at least one resource of
/// `resource_type` (Kafka's `authorizeByResourceType`, used where a client needs the right on
/// *some* topic, such as an idempotent InitProducerId): a super user may; else some ALLOW that
/// applies to the principal and host grants it on some pattern and no DENY for the principal
/// covers that whole pattern (a LITERAL `*` DENY, a PREFIXED DENY of a prefix of it, a LITERAL
/// DENY of the same name); with `allow.everyone.if.no.acl.found` and no ACL of that type, allow.
pub fn authorize_any<'a>(
    acls: impl IntoIterator<Item = &'a AclBinding> + Clone,
    settings: &AuthorizerSettings,
    principal: &str,
    host: &str,
    operation: AclOperation,
    resource_type: ResourceType,
) -> bool {
    if settings.is_super_user(principal) {
        return true;
    }
    let mine = |a: &&AclBinding| {
        a.resource_type == resource_type
            && (a.principal == principal || a.principal == WILDCARD_PRINCIPAL)
            && (a.host == host || a.host == WILDCARD)
    };
    let denies: Vec<&AclBinding> = acls
        .clone()
        .into_iter()
        .filter(mine)
        .filter(|a| {
            a.permission == AclPermission::Deny
                && (a.operation == AclOperation::All || a.operation == operation)
        })
        .collect();
    let covered = |allow: &AclBinding| {
        denies.iter().any(|d| {
            d.applies_to(resource_type, &allow.resource_name)
                && (d.pattern_type == crate::acl::PatternType::Prefixed
                    || d.resource_name == WILDCARD
                    || allow.pattern_type == crate::acl::PatternType::Literal)
        })
    };
    let mut any_of_type = false;
    for a in acls {
        if a.resource_type != resource_type {
            continue;
        }
        any_of_type = true;
        if mine(&a)
            && a.permission == AclPermission::Allow
            && allow_implies(a.operation, operation)
            && !covered(a)
        {
            return true;
        }
    }
    !any_of_type && settings.allow_everyone_if_no_acl_found
}

#[cfg(test)]
#[path = "authorizer_tests.rs"]
mod tests;
