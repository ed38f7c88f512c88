//! Shapes of the security and quota APIs on a default broker (PLAINTEXT listener, no
//! authorizer): the ACL APIs, Describe/AlterClientQuotas, Describe/AlterUserScramCredentials,
//! SaslHandshake and SaslAuthenticate on a connection that is not SASL.

use bytes::Bytes;
use kafka_protocol::messages::*;

use super::shape::{st, Shape};
use crate::names::DATA_TOPIC;

use RequestKind as R;

/// Resource type TOPIC, pattern LITERAL, operation READ, permission ALLOW.
const TOPIC: i8 = 2;
const LITERAL: i8 = 3;
const READ: i8 = 3;
const ALLOW: i8 = 3;
/// The ACL filters' ANY.
const ANY: i8 = 1;
/// SCRAM-SHA-256 in the SCRAM credential APIs.
const SHA_256: i8 = 1;
/// The user the quota and SCRAM shapes name.
const USER: &str = "conf-user";

fn acl() -> create_acls_request::AclCreation {
    create_acls_request::AclCreation::default()
        .with_resource_type(TOPIC)
        .with_resource_name(st(DATA_TOPIC))
        .with_resource_pattern_type(LITERAL)
        .with_principal(st("User:conf-user"))
        .with_host(st("*"))
        .with_operation(READ)
        .with_permission_type(ALLOW)
}

fn describe_acls_any() -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(ANY)
        .with_pattern_type_filter(ANY)
        .with_operation(ANY)
        .with_permission_type(ANY)
}

fn delete_acls_any() -> DeleteAclsRequest {
    DeleteAclsRequest::default().with_filters(vec![delete_acls_request::DeleteAclsFilter::default(
    )
    .with_resource_type_filter(ANY)
    .with_pattern_type_filter(ANY)
    .with_operation(ANY)
    .with_permission_type(ANY)])
}

/// DescribeClientQuotas of one component (`match_type` 0 exact, 1 default, 2 any).
fn describe_quotas(entity: &str, match_type: i8, name: Option<&str>, strict: bool) -> R {
    R::DescribeClientQuotas(
        DescribeClientQuotasRequest::default()
            .with_strict(strict)
            .with_components(vec![
                describe_client_quotas_request::ComponentData::default()
                    .with_entity_type(st(entity))
                    .with_match_type(match_type)
                    .with_match(name.map(st)),
            ]),
    )
}

/// AlterClientQuotas of one entity and one op.
fn alter_quotas(entity: &str, key: &str, value: f64, remove: bool, validate: bool) -> R {
    R::AlterClientQuotas(
        AlterClientQuotasRequest::default()
            .with_validate_only(validate)
            .with_entries(vec![alter_client_quotas_request::EntryData::default()
                .with_entity(vec![alter_client_quotas_request::EntityData::default()
                    .with_entity_type(st(entity))
                    .with_entity_name(Some(st(USER)))])
                .with_ops(vec![alter_client_quotas_request::OpData::default()
                    .with_key(st(key))
                    .with_value(value)
                    .with_remove(remove)])]),
    )
}

fn upsert(name: &str, mechanism: i8, iterations: i32) -> R {
    R::AlterUserScramCredentials(
        AlterUserScramCredentialsRequest::default().with_upsertions(vec![
            alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
                .with_name(st(name))
                .with_mechanism(mechanism)
                .with_iterations(iterations)
                .with_salt(Bytes::from_static(b"conformance-salt"))
                .with_salted_password(Bytes::from(vec![7u8; 32])),
        ]),
    )
}

fn delete_scram(name: &str) -> R {
    R::AlterUserScramCredentials(AlterUserScramCredentialsRequest::default().with_deletions(
        vec![alter_user_scram_credentials_request::ScramCredentialDeletion::default()
            .with_name(st(name))
            .with_mechanism(SHA_256)],
    ))
}

/// The scenario shapes of `key` at `v`, or None when `key` is not a security or quota API.
pub fn shapes(key: ApiKey) -> Option<Vec<Shape>> {
    Some(match key {
        ApiKey::CreateAcls => vec![Shape::fixed(
            "topic-read",
            R::CreateAcls(CreateAclsRequest::default().with_creations(vec![acl()])),
        )],
        ApiKey::DescribeAcls => vec![Shape::fixed("any", R::DescribeAcls(describe_acls_any()))],
        ApiKey::DeleteAcls => vec![Shape::fixed("any", R::DeleteAcls(delete_acls_any()))],
        ApiKey::DescribeClientQuotas => vec![
            Shape::fixed("user-exact", describe_quotas("user", 0, Some(USER), false)),
            Shape::fixed("user-default", describe_quotas("user", 1, None, false)),
            Shape::fixed("user-any", describe_quotas("user", 2, None, false)),
            Shape::fixed(
                "client-id-any-strict",
                describe_quotas("client-id", 2, None, true),
            ),
            Shape::fixed(
                "unknown-entity-type",
                describe_quotas("bogus", 2, None, false),
            ),
            Shape::fixed("bad-match-type", describe_quotas("user", 9, None, false)),
        ],
        ApiKey::AlterClientQuotas => vec![
            Shape::fixed(
                "validate-only",
                alter_quotas("user", "producer_byte_rate", 1024.0, false, true),
            ),
            Shape::fixed(
                "set",
                alter_quotas("user", "producer_byte_rate", 2048.0, false, false),
            ),
            Shape::fixed(
                "remove",
                alter_quotas("user", "producer_byte_rate", 0.0, true, false),
            ),
            Shape::fixed(
                "unknown-key",
                alter_quotas("user", "no.such.quota", 1.0, false, false),
            ),
            Shape::fixed(
                "fractional-byte-rate",
                alter_quotas("user", "consumer_byte_rate", 1.5, false, false),
            ),
            Shape::fixed(
                "unknown-entity-type",
                alter_quotas("bogus", "producer_byte_rate", 1.0, false, false),
            ),
        ],
        ApiKey::DescribeUserScramCredentials => vec![
            Shape::fixed(
                "all-users",
                R::DescribeUserScramCredentials(
                    DescribeUserScramCredentialsRequest::default().with_users(None),
                ),
            ),
            Shape::fixed(
                "unknown-user",
                R::DescribeUserScramCredentials(
                    DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
                        describe_user_scram_credentials_request::UserName::default()
                            .with_name(st(USER)),
                    ])),
                ),
            ),
        ],
        ApiKey::AlterUserScramCredentials => vec![
            Shape::fixed("upsert", upsert(USER, SHA_256, 8192)),
            Shape::fixed("too-few-iterations", upsert("conf-user-2", SHA_256, 100)),
            Shape::fixed(
                "too-many-iterations",
                upsert("conf-user-3", SHA_256, 1 << 20),
            ),
            Shape::fixed("unknown-mechanism", upsert("conf-user-4", 0, 8192)),
            Shape::fixed("delete-unknown-user", delete_scram("conf-no-such-user")),
            Shape::fixed("delete-upserted", delete_scram(USER)),
        ],
        ApiKey::SaslHandshake => vec![Shape::fixed(
            "plain-on-plaintext",
            R::SaslHandshake(SaslHandshakeRequest::default().with_mechanism(st("PLAIN"))),
        )],
        ApiKey::SaslAuthenticate => vec![Shape::fixed(
            "plain-on-plaintext",
            R::SaslAuthenticate(
                SaslAuthenticateRequest::default()
                    .with_auth_bytes(Bytes::from_static(b"\0conf-user\0conf-pass")),
            ),
        )],
        _ => return None,
    })
}
