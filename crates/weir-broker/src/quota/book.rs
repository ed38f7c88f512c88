//! The sans-IO core of client quota enforcement (Kafka's `ClientQuotaManager`): which quota
//! applies to a (user, client-id) by Kafka's precedence of entities, and one [`Rate`] per quota
//! entity instance ("sensor"), so clients sharing e.g. a `/users/<u>` quota share its rate.

use std::collections::HashMap;

use weir_meta::quota::{QuotaEntity, QuotaStore, CLIENT_ID, USER};

use super::rate::{Rate, RateConfig};

/// Sensors not recorded into for this long are dropped (Kafka: one hour of inactivity).
const SENSOR_IDLE_MS: u64 = 3_600_000;

/// The candidate entities for (user, client) in Kafka's precedence order, most specific first:
/// `/users/u/clients/c`, `/users/u/clients/<default>`, `/users/u`, `/users/<default>/clients/c`,
/// `/users/<default>/clients/<default>`, `/users/<default>`, `/clients/c`,
/// `/clients/<default>`.
pub fn candidates(user: &str, client: &str) -> [QuotaEntity; 8] {
    let e = |u: Option<Option<&str>>, c: Option<Option<&str>>| {
        let mut m = QuotaEntity::new();
        if let Some(u) = u {
            m.insert(USER.to_string(), u.map(str::to_string));
        }
        if let Some(c) = c {
            m.insert(CLIENT_ID.to_string(), c.map(str::to_string));
        }
        m
    };
    [
        e(Some(Some(user)), Some(Some(client))),
        e(Some(Some(user)), Some(None)),
        e(Some(Some(user)), None),
        e(Some(None), Some(Some(client))),
        e(Some(None), Some(None)),
        e(Some(None), None),
        e(None, Some(Some(client))),
        e(None, Some(None)),
    ]
}

/// The quota `key` for (user, client) and the sensor it is measured by: `(value, user tag,
/// client tag)`, where a tag is the actual name when the winning entity has that entity type
/// (named or default) and "" otherwise (as Kafka's quota metric tags).
pub fn resolve(
    store: &QuotaStore,
    key: &str,
    user: &str,
    client: &str,
) -> Option<(f64, String, String)> {
    candidates(user, client).iter().find_map(|entity| {
        let v = store.get(entity, key)?;
        let tag = |t: &str, name: &str| {
            if entity.contains_key(t) {
                name.to_string()
            } else {
                String::new()
            }
        };
        Some((v, tag(USER, user), tag(CLIENT_ID, client)))
    })
}

/// The sensors of one quota type.
#[derive(Debug, Default)]
pub struct QuotaBook {
    sensors: HashMap<(String, String), Rate>,
    last_sweep_ms: u64,
}

impl QuotaBook {
    /// Record `value` for `(user, client)` against quota `key` of `store` at `now_ms`; returns
    /// the throttle time in ms (0 when no quota applies or the rate is within it).
    pub fn record(
        &mut self,
        cfg: RateConfig,
        store: &QuotaStore,
        key: &str,
        (user, client): (&str, &str),
        value: f64,
        now_ms: u64,
    ) -> u64 {
        self.sweep(now_ms);
        let Some((quota, u, c)) = resolve(store, key, user, client) else {
            return 0;
        };
        self.sensors
            .entry((u, c))
            .or_default()
            .record_and_throttle(cfg, value, quota, now_ms)
    }

    /// Number of live sensors.
    pub fn len(&self) -> usize {
        self.sensors.len()
    }

    /// True when there are no sensors.
    pub fn is_empty(&self) -> bool {
        self.sensors.is_empty()
    }

    fn sweep(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.last_sweep_ms) < SENSOR_IDLE_MS / 4 {
            return;
        }
        self.last_sweep_ms = now_ms;
        self.sensors.retain(|_, r| {
            r.last_sample_ms()
                .is_some_and(|t| now_ms.saturating_sub(t) < SENSOR_IDLE_MS)
        });
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
