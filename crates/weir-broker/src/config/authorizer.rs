//! The authorizer's settings: `authorizer.class.name` (any non-empty value turns ACL
//! authorization on; Weir has one built-in authorizer, Kafka's `StandardAuthorizer` semantics),
//! `super.users` and `allow.everyone.if.no.acl.found`.

use std::sync::Arc;

use weir_meta::authorizer::AuthorizerSettings;

use super::parse::parse_bool;
use crate::error::BrokerError;

/// Known authorizer configs and their Kafka defaults.
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
    ("authorizer.class.name", ""),
    ("super.users", ""),
    ("allow.everyone.if.no.acl.found", "false"),
];

/// ACL authorization settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// True when `authorizer.class.name` is non-empty: every request is checked against the
    /// ACLs of the metadata image. False: everything is allowed (Kafka without an authorizer).
    pub enabled: bool,
    /// `super.users` and `allow.everyone.if.no.acl.found`.
    pub settings: Arc<AuthorizerSettings>,
}

/// Read the authorizer settings through `get` (the configured or default value of a key).
pub fn parse_authorizer_config(
    get: &dyn Fn(&str) -> String,
) -> Result<AuthorizerConfig, BrokerError> {
    Ok(AuthorizerConfig {
        enabled: !get("authorizer.class.name").trim().is_empty(),
        settings: Arc::new(AuthorizerSettings::new(
            &get("super.users"),
            parse_bool(
                "allow.everyone.if.no.acl.found",
                &get("allow.everyone.if.no.acl.found"),
            )?,
        )),
    })
}
