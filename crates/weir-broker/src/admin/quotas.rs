//! Client quotas as metadata records: one alteration (an entity and its set/remove ops) commits
//! its `ClientQuota` records together and returns once this broker's image shows them (or by the
//! deadline with a retriable error). Validation happens first, so nothing is half-applied.

use tokio::time::Instant;
use weir_meta::quota::{invalid_entity, invalid_value, QuotaEntity, QuotaValue};
use weir_meta::records::MetadataRecord;

use super::topics::TopicAdmin;
use crate::error::BrokerError;

/// One quota op: `key` set to `Some(value)` or removed (`None`).
pub type QuotaOp = (String, Option<f64>);

/// Why the alteration `entity` / `ops` is invalid (Kafka's AlterClientQuotas validation), if it
/// is: an invalid entity, a key given twice, an unknown key or a non-positive value.
pub fn invalid_alteration(entity: &QuotaEntity, ops: &[QuotaOp]) -> Option<String> {
    if let Some(why) = invalid_entity(entity) {
        return Some(why);
    }
    for (i, (key, value)) in ops.iter().enumerate() {
        if ops[..i].iter().any(|(k, _)| k == key) {
            return Some(format!("quota key {key:?} is given more than once"));
        }
        let why = match value {
            Some(v) => invalid_value(entity, key, *v),
            None => invalid_value(entity, key, 1.0),
        };
        if why.is_some() {
            return why;
        }
    }
    None
}

impl TopicAdmin {
    /// Apply `ops` to `entity` (validated with [`invalid_alteration`] by the caller).
    pub async fn alter_client_quotas(
        &self,
        entity: QuotaEntity,
        ops: Vec<QuotaOp>,
        deadline: Instant,
    ) -> Result<(), BrokerError> {
        if ops.is_empty() {
            return Ok(());
        }
        let records = ops
            .iter()
            .map(|(key, value)| MetadataRecord::ClientQuota {
                entity: entity.clone(),
                key: key.clone(),
                value: QuotaValue(value.unwrap_or(0.0)),
                remove: value.is_none(),
            })
            .collect();
        self.commit(records, deadline, |img| {
            ops.iter().all(|(k, v)| img.quotas.get(&entity, k) == *v)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_meta::quota::{CLIENT_ID, CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE};

    #[test]
    fn alterations_are_validated_as_a_whole() {
        let e: QuotaEntity = [(CLIENT_ID.to_string(), None)].into_iter().collect();
        let set = |k: &str, v: f64| (k.to_string(), Some(v));
        assert_eq!(
            invalid_alteration(
                &e,
                &[
                    set(PRODUCER_BYTE_RATE, 10.0),
                    (CONSUMER_BYTE_RATE.into(), None)
                ]
            ),
            None
        );
        assert!(
            invalid_alteration(&e, &[set(PRODUCER_BYTE_RATE, 10.0), set("nope", 1.0)]).is_some()
        );
        assert!(invalid_alteration(&e, &[("nope".into(), None)]).is_some());
        assert!(invalid_alteration(
            &e,
            &[set(PRODUCER_BYTE_RATE, 10.0), set(PRODUCER_BYTE_RATE, 20.0)]
        )
        .is_some());
        assert!(invalid_alteration(&QuotaEntity::new(), &[set(PRODUCER_BYTE_RATE, 1.0)]).is_some());
    }
}
