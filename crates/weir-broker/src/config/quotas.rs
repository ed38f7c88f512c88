//! Client quota window settings: `quota.window.num` (samples kept, Kafka default 11) and
//! `quota.window.size.seconds` (one sample's span, default 1). The quotas themselves are in the
//! replicated metadata (AlterClientQuotas).

use super::parse::{bad, parse};
use crate::error::BrokerError;

/// The window settings (`quota.window.num`, `quota.window.size.seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    /// Number of samples kept (`quota.window.num`, Kafka's default 11).
    pub samples: u32,
    /// One sample's span in ms (`quota.window.size.seconds` × 1000, default 1000).
    pub window_ms: u64,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            samples: 11,
            window_ms: 1000,
        }
    }
}

/// Known quota configs and their Kafka defaults.
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
    ("quota.window.num", "11"),
    ("quota.window.size.seconds", "1"),
];

/// Read the quota window through `get` (the configured or default value of a key); both must be
/// at least 1.
pub fn parse_quota_window(get: &dyn Fn(&str) -> String) -> Result<RateConfig, BrokerError> {
    let num: u32 = parse("quota.window.num", &get("quota.window.num"))?;
    let secs: u64 = parse(
        "quota.window.size.seconds",
        &get("quota.window.size.seconds"),
    )?;
    if num < 1 {
        return Err(bad(
            "quota.window.num",
            &num.to_string(),
            "must be at least 1",
        ));
    }
    if secs < 1 {
        return Err(bad(
            "quota.window.size.seconds",
            &secs.to_string(),
            "must be at least 1",
        ));
    }
    Ok(RateConfig {
        samples: num,
        window_ms: secs.saturating_mul(1000),
    })
}
