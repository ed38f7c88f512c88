//! The topic storage defaults ([`LogConfig`]) that a set of broker configs gives: `log.*` and
//! `message.max.bytes` mapped to topic configs, and the synonym chains of retention
//! (`log.retention.ms` > `.minutes` > `.hours`) and roll time (`log.roll.ms` > `.hours`). Used
//! for the start-up config and for every set of dynamic layers (`layers`), so both resolve alike.

use weir_log::LogConfig;

use super::defaults::LOG_KEY_MAP;

/// The topic storage defaults from broker configs: `explicit(k)` is a value set above the
/// default, `effective(k)` the value or the default. Err((key, value, why)) on a bad value.
pub fn log_config_from(
    explicit: &dyn Fn(&str) -> Option<String>,
    effective: &dyn Fn(&str) -> Option<String>,
) -> Result<LogConfig, (String, String, String)> {
    let bad = |k: &str, v: &str, why: String| (k.to_string(), v.to_string(), why);
    let mut cfg = LogConfig::default();
    for (broker_key, topic_key) in LOG_KEY_MAP {
        let v = effective(broker_key).unwrap_or_default();
        cfg.set(topic_key, &v)
            .map_err(|e| bad(broker_key, &v, e.to_string()))?;
    }
    let num = |k: &str, v: &str| -> Result<i64, (String, String, String)> {
        v.trim()
            .parse::<i64>()
            .map_err(|_| bad(k, v, "not a valid value".into()))
    };
    let retention_ms = if let Some(v) = explicit("log.retention.ms") {
        num("log.retention.ms", &v)?
    } else if let Some(v) = explicit("log.retention.minutes") {
        num("log.retention.minutes", &v)?.saturating_mul(60_000)
    } else {
        let v = effective("log.retention.hours").unwrap_or_default();
        num("log.retention.hours", &v)?.saturating_mul(3_600_000)
    };
    let r = retention_ms.max(-1).to_string();
    cfg.set("retention.ms", &r)
        .map_err(|e| bad("log.retention.ms", &r, e.to_string()))?;
    let roll_ms = match explicit("log.roll.ms") {
        Some(v) => num("log.roll.ms", &v)?,
        None => {
            let v = effective("log.roll.hours").unwrap_or_default();
            num("log.roll.hours", &v)?.saturating_mul(3_600_000)
        }
    };
    let r = roll_ms.to_string();
    cfg.set("segment.ms", &r)
        .map_err(|e| bad("log.roll.ms", &r, e.to_string()))?;
    Ok(cfg)
}
