//! `--command-config FILE`: Kafka client properties (`security.protocol`, `sasl.mechanism`,
//! `sasl.username`, `sasl.password`, `ssl.ca.location`, `ssl.certificate.location`,
//! `ssl.key.location`, …) applied to every client connection the `weir` commands open: the
//! librdkafka clients through [`client_config`], and the raw protocol calls (`raw.rs`) through
//! [`settings`] (TLS with rustls, SASL PLAIN / SCRAM in `sasl_client.rs`).
//!
//! Java-client forms are translated: `sasl.jaas.config` (PlainLoginModule / ScramLoginModule
//! `username` / `password`) and a PEM `ssl.truststore.location`.

use std::path::Path;
use std::sync::OnceLock;

use rdkafka::ClientConfig;

static SETTINGS: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// Read `path` (Kafka's properties format) once, at start-up; with `None` every connection is
/// PLAINTEXT.
pub fn load(path: Option<&Path>) -> Result<(), String> {
    let mut props = Vec::new();
    if let Some(p) = path {
        let text = std::fs::read_to_string(p)
            .map_err(|e| format!("--command-config {}: {e}", p.display()))?;
        for (k, v) in weir_broker::config::parse::parse_properties(&text) {
            match k.as_str() {
                "sasl.jaas.config" => {
                    let opts = weir_broker::config::security::parse_jaas(&v)
                        .map_err(|e| format!("--command-config: sasl.jaas.config: {e}"))?;
                    for (ok, ov) in opts {
                        if ok == "username" || ok == "password" {
                            props.push((format!("sasl.{ok}"), ov));
                        }
                    }
                }
                "ssl.truststore.location" => props.push(("ssl.ca.location".into(), v)),
                "ssl.truststore.type" | "ssl.keystore.type" => {}
                "sasl.mechanisms" => props.push(("sasl.mechanism".into(), v)),
                _ => props.push((k, v)),
            }
        }
    }
    let _ = SETTINGS.set(props);
    Ok(())
}

/// The loaded client properties (empty without `--command-config`).
pub fn settings() -> &'static [(String, String)] {
    SETTINGS.get().map(Vec::as_slice).unwrap_or(&[])
}

/// One property's value.
pub fn get(key: &str) -> Option<&'static str> {
    settings()
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A librdkafka config carrying the `--command-config` properties (the one place every
/// librdkafka-based command creates its client config).
pub fn client_config() -> ClientConfig {
    let mut cfg = ClientConfig::new();
    for (k, v) in settings() {
        cfg.set(k, v);
    }
    cfg
}
