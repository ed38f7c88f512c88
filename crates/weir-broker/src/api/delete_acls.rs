//! DeleteAcls (key 31): each filter removes the ACLs it matches (through the metadata quorum)
//! and lists them. A filter with an unknown code is INVALID_REQUEST. Needs ALTER on the cluster
//! (checked by `crate::authz`).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::acl_common::{filter, sb, NO_AUTHORIZER};
use crate::admin::proposal::deadline_of;
use crate::admin::TopicAdmin;

/// One result per filter, in request order; every one SECURITY_DISABLED when no authorizer is
/// configured (`enabled` false), as in Kafka.
pub async fn handle(
    admin: &TopicAdmin,
    enabled: bool,
    _version: i16,
    req: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let deadline = deadline_of(0);
    let mut resp = DeleteAclsResponse::default();
    for f in req.filters {
        let mut r = DeleteAclsFilterResult::default();
        if !enabled {
            r.error_code = ResponseError::SecurityDisabled.code();
            r.error_message = Some(StrBytes::from_static_str(NO_AUTHORIZER));
            resp.filter_results.push(r);
            continue;
        }
        let parsed = filter(
            f.resource_type_filter,
            f.resource_name_filter.as_ref(),
            f.pattern_type_filter,
            f.principal_filter.as_ref(),
            f.host_filter.as_ref(),
            f.operation,
            f.permission_type,
        );
        match parsed {
            Err(why) => {
                r.error_code = ResponseError::InvalidRequest.code();
                r.error_message = Some(StrBytes::from_string(why));
            }
            Ok(filter) => match admin.delete_acls(&filter, deadline).await {
                Ok(removed) => {
                    r.matching_acls = removed
                        .iter()
                        .map(|a| {
                            let mut m = DeleteAclsMatchingAcl::default();
                            m.resource_type = a.resource_type.code();
                            m.resource_name = sb(&a.resource_name);
                            m.pattern_type = a.pattern_type.code();
                            m.principal = sb(&a.principal);
                            m.host = sb(&a.host);
                            m.operation = a.operation.code();
                            m.permission_type = a.permission.code();
                            m
                        })
                        .collect();
                }
                Err(e) => {
                    r.error_code = e.code();
                    r.error_message = Some(StrBytes::from_string(e.to_string()));
                }
            },
        }
        resp.filter_results.push(r);
    }
    resp
}
