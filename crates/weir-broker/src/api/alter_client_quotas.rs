//! AlterClientQuotas (key 49): each entry (an entity and its set/remove ops) is validated as
//! Kafka does (entity types `user` / `client-id` / `ip`, each at most once; known keys only;
//! positive values: INVALID_REQUEST with a message) and, unless `validate_only`, committed through
//! the metadata quorum as one batch of `ClientQuota` records. Needs ALTER_CONFIGS on the cluster
//! (checked by `crate::authz`).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use kafka_protocol::messages::{AlterClientQuotasRequest, AlterClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;
use weir_meta::quota::QuotaEntity;

use crate::admin::proposal::deadline_of;
use crate::admin::quotas::{invalid_alteration, QuotaOp};
use crate::admin::TopicAdmin;

/// One result per entry, in request order, echoing its entity.
pub async fn handle(
    admin: &TopicAdmin,
    _version: i16,
    req: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    let deadline = deadline_of(0);
    let mut resp = AlterClientQuotasResponse::default();
    for e in req.entries {
        let mut out = EntryData::default();
        out.entity = e
            .entity
            .iter()
            .map(|d| {
                let mut x = EntityData::default();
                x.entity_type = d.entity_type.clone();
                x.entity_name = d.entity_name.clone();
                x
            })
            .collect();
        let mut entity = QuotaEntity::new();
        let mut dup = None;
        for d in &e.entity {
            let t = d.entity_type.to_string();
            if entity
                .insert(t.clone(), d.entity_name.as_ref().map(|n| n.to_string()))
                .is_some()
            {
                dup = Some(format!("entity type {t:?} is given more than once"));
            }
        }
        let ops: Vec<QuotaOp> = e
            .ops
            .iter()
            .map(|o| (o.key.to_string(), (!o.remove).then_some(o.value)))
            .collect();
        let result = match dup.or_else(|| invalid_alteration(&entity, &ops)) {
            Some(why) => Err((ResponseError::InvalidRequest.code(), why)),
            None if req.validate_only => Ok(()),
            None => admin
                .alter_client_quotas(entity, ops, deadline)
                .await
                .map_err(|e| (e.code(), e.to_string())),
        };
        if let Err((code, why)) = result {
            out.error_code = code;
            out.error_message = Some(StrBytes::from_string(why));
        }
        resp.entries.push(out);
    }
    resp
}
