//! Listener addresses (`NAME://host:port`).

use crate::error::BrokerError;

use super::parse::{bad, parse};

/// One listener, e.g. `PLAINTEXT://127.0.0.1:9092`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Listener name (`PLAINTEXT`, `CONTROLLER`).
    pub name: String,
    /// Host or IP.
    pub host: String,
    /// Port (0 = pick any).
    pub port: u16,
}

/// Parse `NAME://host:port,...`.
pub fn parse_listeners(key: &str, value: &str) -> Result<Vec<Listener>, BrokerError> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, rest) = item
            .split_once("://")
            .ok_or_else(|| bad(key, value, "expected NAME://host:port"))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad(key, value, "expected NAME://host:port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        out.push(Listener {
            name: name.to_string(),
            host: if host.is_empty() {
                "0.0.0.0".into()
            } else {
                host.into()
            },
            port: parse(key, port)?,
        });
    }
    Ok(out)
}
