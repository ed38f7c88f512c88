//! Parsing of config values and sources: typed values with clear errors, Kafka's properties
//! format, `WEIR_*` environment variable names.

use crate::error::BrokerError;

/// A config error naming the key, the value and why it is refused.
pub(crate) fn bad(key: &str, value: &str, why: &str) -> BrokerError {
    BrokerError::Config(format!("{key}={value}: {why}"))
}

/// Parse a typed value (INVALID config error naming the key otherwise).
pub(crate) fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, BrokerError> {
    value
        .trim()
        .parse()
        .map_err(|_| bad(key, value, "not a valid value"))
}

/// Parse `true` / `false`.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, BrokerError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(key, value, "must be true or false")),
    }
}

/// Parse Kafka's properties format: `key=value` or `key: value`, `#`/`!` comments, trailing
/// backslash continues a line.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']);
        let (k, v) = match split {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry.as_str(), ""),
        };
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// `WEIR_LOG_RETENTION_MS` → `log.retention.ms`.
pub fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("WEIR_")?;
    if rest.is_empty() {
        return None;
    }
    Some(rest.to_ascii_lowercase().replace('_', "."))
}
