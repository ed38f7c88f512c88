//! CreateAcls (key 30): each creation is validated (filter-only values such as ANY or MATCH,
//! unknown codes, a principal without `Type:`, a cluster ACL not on `kafka-cluster`:
//! INVALID_REQUEST) and committed through the metadata quorum. Needs ALTER on the cluster
//! (checked by `crate::authz`).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::acl_common::{binding, NO_AUTHORIZER};
use crate::admin::proposal::deadline_of;
use crate::admin::TopicAdmin;

/// One result per creation, in request order; every one SECURITY_DISABLED when no authorizer
/// is configured (`enabled` false), as in Kafka.
pub async fn handle(
    admin: &TopicAdmin,
    enabled: bool,
    _version: i16,
    req: CreateAclsRequest,
) -> CreateAclsResponse {
    let deadline = deadline_of(0);
    let mut resp = CreateAclsResponse::default();
    for c in req.creations {
        let mut r = AclCreationResult::default();
        if !enabled {
            r.error_code = ResponseError::SecurityDisabled.code();
            r.error_message = Some(StrBytes::from_static_str(NO_AUTHORIZER));
            resp.results.push(r);
            continue;
        }
        let parsed = binding(
            c.resource_type,
            &c.resource_name,
            c.resource_pattern_type,
            &c.principal,
            &c.host,
            c.operation,
            c.permission_type,
        )
        .and_then(|b| match b.invalid_reason() {
            Some(why) => Err(why),
            None => Ok(b),
        });
        match parsed {
            Err(why) => {
                r.error_code = ResponseError::InvalidRequest.code();
                r.error_message = Some(StrBytes::from_string(why));
            }
            Ok(acl) => {
                if let Err(e) = admin.create_acl(acl, deadline).await {
                    r.error_code = e.code();
                    r.error_message = Some(StrBytes::from_string(e.to_string()));
                }
            }
        }
        resp.results.push(r);
    }
    resp
}
