//! Weir's operability settings (no Kafka equivalent): the HTTP admin listener
//! (`http.listener`), per-partition metric series (`metrics.per.partition`), the log format
//! (`log.format`, read by the binary before logging starts), the segment file cache size
//! (`log.max.open.files`) and which segments are checked before the broker starts
//! (`log.startup.verify`).

use std::net::SocketAddr;

use crate::error::BrokerError;

use super::parse::{bad, parse, parse_bool};

/// Defaults of the operability settings.
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
    ("http.listener", DEFAULT_HTTP_LISTENER),
    ("metrics.per.partition", "true"),
    ("log.format", "text"),
    ("log.max.open.files", "0"),
    ("log.startup.verify", "recovery-point"),
];

/// `http.listener` when not set: loopback only, and only for a single node (no
/// `controller.quorum.voters`); cluster nodes name their own port or get none.
pub const DEFAULT_HTTP_LISTENER: &str = "127.0.0.1:9644";

/// Where the HTTP admin listener (`/metrics`, `/health`, `/ready`) binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpListener {
    /// `http.listener=none`, or the default of a cluster node: no HTTP side.
    Off,
    /// Bind this address (port 0 picks a free port; the bound address is logged).
    On {
        /// The address to bind.
        addr: SocketAddr,
        /// False for the built-in default: a failed bind is then a warning (another local
        /// broker may hold the port), not a start-up error.
        explicit: bool,
    },
}

/// The operability settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpsSettings {
    /// `http.listener`.
    pub http_listener: HttpListener,
    /// `metrics.per.partition` (default true): false drops the series labelled by partition
    /// (log size, consumer-group lag) from `/metrics`.
    pub metrics_per_partition: bool,
    /// `log.format`: `text` (default) or `json` (one JSON object per line).
    pub log_format: LogFormat,
    /// `log.max.open.files`: the most segment `.log` files kept open at once (the others are
    /// closed and reopened when read or written); 0 (default) = half the process's soft
    /// `RLIMIT_NOFILE` at start-up.
    pub log_max_open_files: usize,
    /// `log.startup.verify`: `recovery-point` (default: segments from each partition's recovery
    /// point on are checked before the broker starts, older ones in the background) or `all`
    /// (every segment before the broker starts; start-up time grows with the data held).
    pub startup_verify: weir_log::StartupVerify,
}

impl OpsSettings {
    /// `log.max.open.files` resolved: the configured value, or half the soft `RLIMIT_NOFILE`.
    pub fn max_open_files(&self) -> usize {
        match self.log_max_open_files {
            0 => weir_log::fd_cache::default_max_open_files(),
            n => n,
        }
    }
}

/// The format of the broker's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's json format).
    Json,
}

/// Parse `log.format` (`text` or `json`).
pub fn parse_log_format(value: &str) -> Result<LogFormat, BrokerError> {
    match value.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(bad("log.format", value, "must be text or json")),
    }
}

/// Parse `log.startup.verify` (`recovery-point` or `all`).
pub fn parse_startup_verify(value: &str) -> Result<weir_log::StartupVerify, BrokerError> {
    match value.trim() {
        "recovery-point" => Ok(weir_log::StartupVerify::FromRecoveryPoint),
        "all" => Ok(weir_log::StartupVerify::All),
        _ => Err(bad(
            "log.startup.verify",
            value,
            "must be recovery-point or all",
        )),
    }
}

impl OpsSettings {
    /// Read the settings; `http_explicit` is whether `http.listener` was set by a source, and
    /// `cluster` whether `controller.quorum.voters` is set (a cluster node's default is off).
    pub(crate) fn parse(
        get: &impl Fn(&str) -> String,
        http_explicit: bool,
        cluster: bool,
    ) -> Result<Self, BrokerError> {
        let raw = get("http.listener");
        let http_listener = match raw.trim() {
            "" | "none" | "off" => HttpListener::Off,
            _ if cluster && !http_explicit => HttpListener::Off,
            v => HttpListener::On {
                addr: v
                    .parse()
                    .map_err(|_| bad("http.listener", v, "expected host-ip:port or none"))?,
                explicit: http_explicit,
            },
        };
        Ok(OpsSettings {
            http_listener,
            metrics_per_partition: parse_bool(
                "metrics.per.partition",
                &get("metrics.per.partition"),
            )?,
            log_format: parse_log_format(&get("log.format"))?,
            log_max_open_files: parse("log.max.open.files", &get("log.max.open.files"))?,
            startup_verify: parse_startup_verify(&get("log.startup.verify"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings from these explicitly set keys (`cluster`: voters are set).
    fn ops(set: &[(&str, &str)], cluster: bool) -> Result<OpsSettings, BrokerError> {
        let get = |k: &str| {
            set.iter()
                .rev()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
                .or_else(|| {
                    DEFAULTS
                        .iter()
                        .find(|(d, _)| *d == k)
                        .map(|(_, v)| v.to_string())
                })
                .unwrap_or_default()
        };
        let explicit = set.iter().any(|(k, _)| *k == "http.listener");
        OpsSettings::parse(&get, explicit, cluster)
    }

    #[test]
    fn single_node_default_is_loopback_and_none_turns_it_off() {
        let o = ops(&[], false).unwrap();
        assert_eq!(
            o.http_listener,
            HttpListener::On {
                addr: "127.0.0.1:9644".parse().unwrap(),
                explicit: false
            }
        );
        assert!(o.metrics_per_partition);
        assert_eq!(o.log_format, LogFormat::Text);
        assert_eq!(
            ops(&[("http.listener", "none")], false)
                .unwrap()
                .http_listener,
            HttpListener::Off
        );
        let any = ops(&[("http.listener", "127.0.0.1:0")], false).unwrap();
        assert!(matches!(
            any.http_listener,
            HttpListener::On { explicit: true, addr } if addr.port() == 0
        ));
    }

    #[test]
    fn cluster_nodes_have_no_default_listener() {
        assert_eq!(ops(&[], true).unwrap().http_listener, HttpListener::Off);
        let set = ops(&[("http.listener", "127.0.0.1:9645")], true).unwrap();
        assert!(matches!(
            set.http_listener,
            HttpListener::On { explicit: true, .. }
        ));
    }

    #[test]
    fn bad_values_name_the_key() {
        for (k, v) in [
            ("http.listener", "localhost"),
            ("metrics.per.partition", "maybe"),
            ("log.format", "xml"),
        ] {
            let e = ops(&[(k, v)], false).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
        }
    }
}
