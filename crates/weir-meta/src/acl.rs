//! Kafka's ACL model (`AccessControlEntryRecord`): resource type, pattern type, operation and
//! permission with Kafka's wire codes, an [`AclBinding`] (one stored ACL) and an [`AclFilter`]
//! (what DescribeAcls / DeleteAcls match with, where ANY and MATCH are allowed).

use serde::{Deserialize, Serialize};

/// Declares a Kafka ACL enum with its wire codes and its `kafka-acls.sh` spelling.
macro_rules! kafka_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $code:literal, $text:literal;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* $v,)*
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL_VALUES: &'static [$name] = &[$($name::$v,)*];

            /// The Kafka wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$v => $code,)* }
            }

            /// The value of a Kafka wire code (None for UNKNOWN and codes Kafka does not define).
            pub fn from_code(code: i8) -> Option<Self> {
                match code { $($code => Some($name::$v),)* _ => None }
            }

            /// Kafka's name (`PREFIXED`, `DESCRIBE_CONFIGS`).
            pub fn name(self) -> &'static str {
                match self { $($name::$v => $text,)* }
            }

            /// Parse Kafka's name, case-insensitively, with `-` or `_` between words.
            pub fn parse(s: &str) -> Option<Self> {
                let norm = s.trim().to_ascii_uppercase().replace('-', "_");
                Self::ALL_VALUES.iter().copied().find(|v| v.name() == norm)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

kafka_enum! {
    /// Kafka's `ResourceType`. ANY only appears in filters.
    ResourceType {
        /// Filter: any type.
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer or share group.
        Group = 3, "GROUP";
        /// The cluster (name `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user (SCRAM credentials, quotas).
        User = 7, "USER";
    }
}

kafka_enum! {
    /// Kafka's `PatternType`. ANY and MATCH only appear in filters.
    PatternType {
        /// Filter: any pattern type.
        Any = 1, "ANY";
        /// Filter: every ACL that would apply to the named resource (literal, `*`, prefixes).
        Match = 2, "MATCH";
        /// The name is the resource's name (or `*`, every resource of the type).
        Literal = 3, "LITERAL";
        /// The name is a prefix of the resources' names.
        Prefixed = 4, "PREFIXED";
    }
}

kafka_enum! {
    /// Kafka's `AclOperation`. ANY only appears in filters.
    AclOperation {
        /// Filter: any operation.
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Read.
        Read = 3, "READ";
        /// Write.
        Write = 4, "WRITE";
        /// Create.
        Create = 5, "CREATE";
        /// Delete.
        Delete = 6, "DELETE";
        /// Alter.
        Alter = 7, "ALTER";
        /// Describe.
        Describe = 8, "DESCRIBE";
        /// Inter-broker actions.
        ClusterAction = 9, "CLUSTER_ACTION";
        /// Describe configs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// Alter configs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// Idempotent produce (deprecated by KIP-679, still checked by InitProducerId).
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// Create delegation tokens.
        CreateTokens = 13, "CREATE_TOKENS";
        /// Describe delegation tokens.
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        /// Two-phase commit (KIP-939).
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
}

kafka_enum! {
    /// Kafka's `AclPermissionType`. ANY only appears in filters.
    AclPermission {
        /// Filter: either.
        Any = 1, "ANY";
        /// Deny (wins over any allow).
        Deny = 2, "DENY";
        /// Allow.
        Allow = 3, "ALLOW";
    }
}

/// The resource name of the cluster, as in Kafka.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// The wildcard resource name, principal and host.
pub const WILDCARD: &str = "*";

/// The wildcard principal (every user).
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// One ACL (Kafka's `AclBinding`): a resource pattern and an access control entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    /// Resource type (never ANY).
    pub resource_type: ResourceType,
    /// Resource name, a prefix (PREFIXED) or `*` (LITERAL wildcard).
    pub resource_name: String,
    /// LITERAL or PREFIXED.
    pub pattern_type: PatternType,
    /// `Type:name`, e.g. `User:alice`, or `User:*`.
    pub principal: String,
    /// Client host (IP address) or `*`.
    pub host: String,
    /// Operation (never ANY).
    pub operation: AclOperation,
    /// ALLOW or DENY.
    pub permission: AclPermission,
}

impl AclBinding {
    /// Why this binding cannot be stored (Kafka's CreateAcls validation), if it cannot: filter-only
    /// values (ANY, MATCH), an empty name, a principal without `Type:`, an empty host, a cluster
    /// ACL not named `kafka-cluster`.
    pub fn invalid_reason(&self) -> Option<String> {
        if self.resource_type == ResourceType::Any {
            return Some("resource type ANY is only valid in filters".into());
        }
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return Some(format!(
                "pattern type {} is only valid in filters",
                self.pattern_type
            ));
        }
        if self.operation == AclOperation::Any {
            return Some("operation ANY is only valid in filters".into());
        }
        if self.permission == AclPermission::Any {
            return Some("permission type ANY is only valid in filters".into());
        }
        if self.resource_name.is_empty() {
            return Some("the resource name must not be empty".into());
        }
        if !self
            .principal
            .split_once(':')
            .is_some_and(|(t, n)| !t.is_empty() && !n.is_empty())
        {
            return Some(format!(
                "principal {:?} is not of the form Type:name",
                self.principal
            ));
        }
        if self.host.is_empty() {
            return Some("the host must not be empty (use * for any host)".into());
        }
        if self.resource_type == ResourceType::Cluster && self.resource_name != CLUSTER_NAME {
            return Some(format!(
                "the cluster resource is named {CLUSTER_NAME}, not {:?}",
                self.resource_name
            ));
        }
        None
    }

    /// True when this binding's resource pattern applies to the resource `(kind, name)`:
    /// same type and the literal name, the literal `*`, or a prefix of `name`.
    pub fn applies_to(&self, kind: ResourceType, name: &str) -> bool {
        self.resource_type == kind
            && match self.pattern_type {
                PatternType::Literal => {
                    self.resource_name == name || self.resource_name == WILDCARD
                }
                PatternType::Prefixed => name.starts_with(&self.resource_name),
                PatternType::Any | PatternType::Match => false,
            }
    }
}

/// A filter over ACLs (DescribeAcls, DeleteAcls): `None` fields and ANY values match anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclFilter {
    /// Resource type or ANY.
    pub resource_type: ResourceType,
    /// Resource name (None = any).
    pub resource_name: Option<String>,
    /// LITERAL, PREFIXED, ANY, or MATCH (every pattern that applies to `resource_name`).
    pub pattern_type: PatternType,
    /// Principal (None = any).
    pub principal: Option<String>,
    /// Host (None = any).
    pub host: Option<String>,
    /// Operation or ANY.
    pub operation: AclOperation,
    /// Permission or ANY.
    pub permission: AclPermission,
}

impl AclFilter {
    /// The filter that matches every ACL.
    pub fn any() -> Self {
        AclFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// True when `acl` matches this filter (Kafka's `AclBindingFilter.matches`). With MATCH and a
    /// name, the ACLs that would apply to that resource match (literal name, `*`, prefixes of
    /// it); with MATCH and no name, every pattern type matches.
    pub fn matches(&self, acl: &AclBinding) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != acl.resource_type {
            return false;
        }
        let pattern_ok = match (self.pattern_type, &self.resource_name) {
            (PatternType::Any, None) | (PatternType::Match, None) => true,
            (PatternType::Any, Some(n)) => acl.resource_name == *n,
            (PatternType::Match, Some(n)) => acl.applies_to(acl.resource_type, n),
            (p, None) => acl.pattern_type == p,
            (p, Some(n)) => acl.pattern_type == p && acl.resource_name == *n,
        };
        pattern_ok
            && self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && (self.operation == AclOperation::Any || self.operation == acl.operation)
            && (self.permission == AclPermission::Any || self.permission == acl.permission)
    }
}

#[cfg(test)]
#[path = "acl_tests.rs"]
mod tests;
