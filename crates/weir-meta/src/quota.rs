//! Kafka's client quota model (`ClientQuotaRecord`): an entity is a set of (entity type, name or
//! default) pairs over the types `user`, `client-id` and `ip`; each entity carries quota values
//! keyed by Kafka's quota names. The image keeps them as entity → {key: value}.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Entity type `user` (a principal's name).
pub const USER: &str = "user";
/// Entity type `client-id`.
pub const CLIENT_ID: &str = "client-id";
/// Entity type `ip`.
pub const IP: &str = "ip";

/// Producer bytes per second per (user, client-id).
pub const PRODUCER_BYTE_RATE: &str = "producer_byte_rate";
/// Consumer (fetch) bytes per second per (user, client-id).
pub const CONSUMER_BYTE_RATE: &str = "consumer_byte_rate";
/// Percentage of request-handler time per (user, client-id).
pub const REQUEST_PERCENTAGE: &str = "request_percentage";
/// Partition mutations (create/delete topics and partitions) per second.
pub const CONTROLLER_MUTATION_RATE: &str = "controller_mutation_rate";
/// Connection creations per second per IP.
pub const CONNECTION_CREATION_RATE: &str = "connection_creation_rate";

/// A quota value. Equality is bitwise so the image and records stay `Eq`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaValue(pub f64);

impl PartialEq for QuotaValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for QuotaValue {}

/// A quota entity: entity type → name (`None` = the default entity of that type), at most one
/// name per type. Kafka's `ClientQuotaEntity`.
pub type QuotaEntity = BTreeMap<String, Option<String>>;

/// Why a quota entity or a (key, value) cannot be stored (Kafka's AlterClientQuotas validation),
/// if it cannot.
pub fn invalid_entity(entity: &QuotaEntity) -> Option<String> {
    if entity.is_empty() {
        return Some("the quota entity must not be empty".into());
    }
    for (t, n) in entity {
        if ![USER, CLIENT_ID, IP].contains(&t.as_str()) {
            return Some(format!("unknown quota entity type {t:?}"));
        }
        if n.as_deref() == Some("") && t != CLIENT_ID {
            return Some(format!("the {t} entity name must not be empty"));
        }
        if t == IP {
            if entity.len() > 1 {
                return Some("an ip quota entity cannot be combined with user or client-id".into());
            }
            if let Some(ip) = n {
                if ip.parse::<std::net::IpAddr>().is_err() {
                    return Some(format!("{ip:?} is not an IP address"));
                }
            }
        }
    }
    None
}

/// The keys valid for an entity (Kafka: byte rates, request percentage and mutation rate for
/// user / client-id entities; connection creation rate for ip entities).
pub fn valid_keys(entity: &QuotaEntity) -> &'static [&'static str] {
    if entity.contains_key(IP) {
        &[CONNECTION_CREATION_RATE]
    } else {
        &[
            PRODUCER_BYTE_RATE,
            CONSUMER_BYTE_RATE,
            REQUEST_PERCENTAGE,
            CONTROLLER_MUTATION_RATE,
        ]
    }
}

/// Why `key = value` cannot be set on `entity`, if it cannot: an unknown key, or a value that is
/// not a positive finite number (byte rates and the connection rate must also be whole numbers,
/// as Kafka's LONG-typed quota configs).
pub fn invalid_value(entity: &QuotaEntity, key: &str, value: f64) -> Option<String> {
    if !valid_keys(entity).contains(&key) {
        return Some(format!("unknown quota key {key:?} for this entity"));
    }
    if !value.is_finite() || value <= 0.0 {
        return Some(format!(
            "quota {key} must be a positive number, got {value}"
        ));
    }
    let whole = [
        PRODUCER_BYTE_RATE,
        CONSUMER_BYTE_RATE,
        CONNECTION_CREATION_RATE,
    ];
    if whole.contains(&key) && value.fract() != 0.0 {
        return Some(format!("quota {key} must be a whole number, got {value}"));
    }
    None
}

/// One entity's quotas, as stored in the image: key → value.
pub type QuotaValues = BTreeMap<String, QuotaValue>;

/// The quota store of the image, with [`QuotaStore::apply`] for one `ClientQuota` record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaStore {
    /// Entities with at least one quota, as (type, name) lists (JSON maps need string keys).
    #[serde(with = "entries")]
    pub entities: BTreeMap<QuotaEntity, QuotaValues>,
}

mod entries {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<QuotaEntity, QuotaValues>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<QuotaEntity, QuotaValues>, D::Error> {
        let v: Vec<(QuotaEntity, QuotaValues)> = Vec::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

impl QuotaStore {
    /// True when no entity has a quota.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Set (`Some`) or remove (`None`) `key` of `entity`; an entity left without quotas
    /// disappears. Validates as [`invalid_entity`] / [`invalid_value`]; on error nothing changes.
    pub fn apply(
        &mut self,
        entity: &QuotaEntity,
        key: &str,
        value: Option<f64>,
    ) -> Result<(), String> {
        if let Some(why) = invalid_entity(entity) {
            return Err(why);
        }
        match value {
            Some(v) => {
                if let Some(why) = invalid_value(entity, key, v) {
                    return Err(why);
                }
                self.entities
                    .entry(entity.clone())
                    .or_default()
                    .insert(key.to_string(), QuotaValue(v));
            }
            None => {
                if let Some(values) = self.entities.get_mut(entity) {
                    values.remove(key);
                    if values.is_empty() {
                        self.entities.remove(entity);
                    }
                }
            }
        }
        Ok(())
    }

    /// The value of `key` on exactly `entity`, if set.
    pub fn get(&self, entity: &QuotaEntity, key: &str) -> Option<f64> {
        self.entities.get(entity)?.get(key).map(|v| v.0)
    }
}

/// One component of a DescribeClientQuotas filter (Kafka's `ClientQuotaFilterComponent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterMatch {
    /// The entity names exactly this (match type EXACT).
    Exact(String),
    /// The entity is the default of its type (match type DEFAULT).
    Default,
    /// Any entity of the type, named or default (match type SPECIFIED).
    Specified,
}

/// Whether `entity` matches the filter components `(type, match)`: every component must match an
/// entry of the entity; with `strict` the entity has no other entity types.
pub fn filter_matches(
    entity: &QuotaEntity,
    components: &[(String, FilterMatch)],
    strict: bool,
) -> bool {
    let all = components.iter().all(|(t, m)| match (entity.get(t), m) {
        (None, _) => false,
        (Some(Some(n)), FilterMatch::Exact(want)) => n == want,
        (Some(None), FilterMatch::Default) => true,
        (Some(_), FilterMatch::Specified) => true,
        _ => false,
    });
    all && (!strict || entity.len() == components.len())
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
