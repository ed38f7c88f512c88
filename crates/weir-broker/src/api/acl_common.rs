//! Wire ↔ model conversions shared by CreateAcls, DescribeAcls and DeleteAcls: Kafka's codes
//! become `weir_meta::acl` values, an unknown code is INVALID_REQUEST's message.

use kafka_protocol::protocol::StrBytes;
use weir_meta::acl::{
    AclBinding, AclFilter, AclOperation, AclPermission, PatternType, ResourceType,
};

/// The message of SECURITY_DISABLED (Kafka's words).
pub const NO_AUTHORIZER: &str = "No Authorizer is configured.";

/// The value of a wire code, or why it is not valid.
fn code<T>(value: i8, what: &str, parse: fn(i8) -> Option<T>) -> Result<T, String> {
    parse(value).ok_or_else(|| format!("unknown {what} code {value}"))
}

/// A binding to store from a CreateAcls creation's fields (filter-only values are refused
/// later by [`AclBinding::invalid_reason`]).
#[allow(clippy::too_many_arguments)]
pub fn binding(
    resource_type: i8,
    resource_name: &StrBytes,
    pattern_type: i8,
    principal: &StrBytes,
    host: &StrBytes,
    operation: i8,
    permission: i8,
) -> Result<AclBinding, String> {
    Ok(AclBinding {
        resource_type: code(resource_type, "resource type", ResourceType::from_code)?,
        resource_name: resource_name.to_string(),
        pattern_type: code(pattern_type, "pattern type", PatternType::from_code)?,
        principal: principal.to_string(),
        host: host.to_string(),
        operation: code(operation, "operation", AclOperation::from_code)?,
        permission: code(permission, "permission type", AclPermission::from_code)?,
    })
}

/// A DescribeAcls / DeleteAcls filter from its wire fields.
#[allow(clippy::too_many_arguments)]
pub fn filter(
    resource_type: i8,
    resource_name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission: i8,
) -> Result<AclFilter, String> {
    Ok(AclFilter {
        resource_type: code(resource_type, "resource type", ResourceType::from_code)?,
        resource_name: resource_name.map(|s| s.to_string()),
        pattern_type: code(pattern_type, "pattern type", PatternType::from_code)?,
        principal: principal.map(|s| s.to_string()),
        host: host.map(|s| s.to_string()),
        operation: code(operation, "operation", AclOperation::from_code)?,
        permission: code(permission, "permission type", AclPermission::from_code)?,
    })
}

/// A string for a response.
pub fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}
