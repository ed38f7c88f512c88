//! DescribeAcls (key 29): the ACLs of this broker's metadata image matching the filter, grouped
//! by resource pattern. A filter with an unknown code is INVALID_REQUEST. Needs DESCRIBE on the
//! cluster (checked by `crate::authz`).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::acl_common::{filter, sb, NO_AUTHORIZER};
use crate::metadata::view::MetadataView;

/// The matching ACLs, one resource entry per (type, name, pattern type); SECURITY_DISABLED
/// when no authorizer is configured (`enabled` false), as in Kafka.
pub async fn handle(
    view: &MetadataView,
    enabled: bool,
    _version: i16,
    req: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let mut resp = DescribeAclsResponse::default();
    if !enabled {
        resp.error_code = ResponseError::SecurityDisabled.code();
        resp.error_message = Some(StrBytes::from_static_str(NO_AUTHORIZER));
        return resp;
    }
    let f = match filter(
        req.resource_type_filter,
        req.resource_name_filter.as_ref(),
        req.pattern_type_filter,
        req.principal_filter.as_ref(),
        req.host_filter.as_ref(),
        req.operation,
        req.permission_type,
    ) {
        Ok(f) => f,
        Err(why) => {
            resp.error_code = ResponseError::InvalidRequest.code();
            resp.error_message = Some(StrBytes::from_string(why));
            return resp;
        }
    };
    let image = view.image();
    let mut by_resource: BTreeMap<(i8, String, i8), Vec<AclDescription>> = BTreeMap::new();
    for acl in image.acls.values().filter(|a| f.matches(a)) {
        let mut d = AclDescription::default();
        d.principal = sb(&acl.principal);
        d.host = sb(&acl.host);
        d.operation = acl.operation.code();
        d.permission_type = acl.permission.code();
        by_resource
            .entry((
                acl.resource_type.code(),
                acl.resource_name.clone(),
                acl.pattern_type.code(),
            ))
            .or_default()
            .push(d);
    }
    resp.resources = by_resource
        .into_iter()
        .map(|((kind, name, pattern), acls)| {
            let mut r = DescribeAclsResource::default();
            r.resource_type = kind;
            r.resource_name = sb(&name);
            r.pattern_type = pattern;
            r.acls = acls;
            r
        })
        .collect();
    resp
}
