//! Client quota window settings: `quota.window.num` (samples kept, Kafka default 11) and
//! `quota.window.size.seconds` (one sample's span, default 1). The quotas themselves are in the
//! replicated metadata (AlterClientQuotas).

use super::parse::{bad, parse};
use crate::error::BrokerError;
use crate::quota::rate::RateConfig;

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
