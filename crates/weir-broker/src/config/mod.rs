//! Broker configuration with Kafka's names: defaults < `--config-file` properties < `WEIR_*`
//! environment variables < command-line flags (`--a-b-c VALUE` is `a.b.c`).
//!
//! `defaults` lists every known key with Kafka's default, `parse` reads values and sources,
//! `listeners`, `groups`, `replication` and `topic` hold the typed settings of each area, and
//! `entries` is what DescribeConfigs(BROKER) reports.

pub mod authorizer;
pub mod defaults;
pub mod dynamic;
pub mod entries;
pub mod groups;
pub mod layers;
pub mod listeners;
pub mod log_defaults;
pub mod ops;
pub mod parse;
pub mod principal_rules;
pub mod quotas;
pub mod replication;
pub mod security;
pub mod share;
pub mod topic;
pub mod transactions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weir_log::LogConfig;

use crate::error::BrokerError;
pub use authorizer::AuthorizerConfig;
use defaults::{all_defaults, LOG_KEY_MAP, SAME_NAME_TOPIC_KEYS};
pub use entries::{ConfigEntry, ConfigSource};
pub use groups::GroupConfig;
pub use listeners::{parse_listeners, Listener};
pub use ops::{HttpListener, LogFormat, OpsSettings};
use parse::{bad, env_key, parse, parse_bool, parse_properties};
pub use replication::ReplicationConfig;
pub use security::SecurityConfig;
pub use share::ShareSettings;
pub use transactions::TransactionConfig;

/// The broker configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id` (alias `broker.id`), default 1.
    pub node_id: i32,
    /// `process.roles`, default `broker,controller`.
    pub process_roles: Vec<String>,
    /// `controller.quorum.voters` (accepted; used once the Raft controller lands).
    pub controller_quorum_voters: String,
    /// `listeners`, default `PLAINTEXT://127.0.0.1:9092`.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners`, default = `listeners` minus CONTROLLER.
    pub advertised_listeners: Vec<Listener>,
    /// `log.dirs` (alias `log.dir`), default `./weir-data`; several dirs (JBOD) are comma-separated.
    pub log_dirs: Vec<PathBuf>,
    /// `num.partitions`, default 1.
    pub num_partitions: i32,
    /// `default.replication.factor`, default 1.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`, default true.
    pub auto_create_topics_enable: bool,
    /// `socket.request.max.bytes`, default 104857600.
    pub socket_request_max_bytes: usize,
    /// `max.request.partition.size.limit` (default 2000): the most partitions one
    /// DescribeTopicPartitions answer holds.
    pub max_request_partition_size_limit: i32,
    /// `connections.max.idle.ms`, default 600000.
    pub connections_max_idle_ms: u64,
    /// `min.insync.replicas`, default 1.
    pub min_insync_replicas: i32,
    /// `log.retention.check.interval.ms`, default 300000.
    pub log_retention_check_interval_ms: u64,
    /// `broker.rack`.
    pub broker_rack: Option<String>,
    /// Topic storage defaults from the `log.*` broker configs.
    pub log_defaults: LogConfig,
    /// Group coordinator settings (`offsets.*`, `group.*`).
    pub groups: GroupConfig,
    /// Transaction coordinator settings (`transaction.*`, `transactional.id.*`).
    pub transactions: TransactionConfig,
    /// Share-group settings (`group.share.*`, `share.coordinator.*`, `errors.deadletterqueue.*`).
    pub share: ShareSettings,
    /// `transaction.partition.verification.enable` (KIP-890, default true): a partition leader
    /// asks the transaction coordinator before the first transactional write of a transaction.
    pub transaction_partition_verification: bool,
    /// `transaction.version` (Weir's config for Kafka's finalized feature level, default 2):
    /// advertised in ApiVersions; 2 = KIP-890 part 2 for clients that support it.
    pub transaction_version: i16,
    /// `producer.id.expiration.ms`: idempotent producer state idle this long is forgotten.
    pub producer_id_expiration_ms: i64,
    /// Replication settings (`replica.*`, `controlled.shutdown.enable`).
    pub replication: ReplicationConfig,
    /// `metadata.log.dir`; None = `<first log dir>/__cluster_metadata-0`, as in KRaft.
    pub metadata_log_dir: Option<PathBuf>,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced by the controller.
    pub broker_session_timeout_ms: i64,
    /// `broker.heartbeat.interval.ms`.
    pub broker_heartbeat_interval_ms: u64,
    /// `auto.leader.rebalance.enable`.
    pub auto_leader_rebalance: bool,
    /// `leader.imbalance.check.interval.seconds`, in ms.
    pub leader_imbalance_check_interval_ms: i64,
    /// Listener security: TLS, SASL, re-authentication (`ssl.*`, `sasl.*`).
    pub security: SecurityConfig,
    /// ACL authorization (`authorizer.class.name`, `super.users`, …).
    pub authorizer: AuthorizerConfig,
    /// Operability (`http.listener`, `metrics.per.partition`, `log.format`).
    pub ops: OpsSettings,
    /// The client quota window (`quota.window.num` × `quota.window.size.seconds`).
    pub quota_window: quotas::RateConfig,
    /// Every known broker config with value and source.
    pub entries: Vec<ConfigEntry>,
}

impl BrokerConfig {
    /// The zero-config single node: node 1 on 127.0.0.1:9092, data in ./weir-data.
    pub fn default_single_node() -> Self {
        Self::from_sources(None, &[], &[]).expect("built-in defaults are valid")
        // ok: unit-tested
    }

    /// Build the configuration. Precedence: flags > `WEIR_*` env > `--config-file` properties >
    /// defaults. Unknown keys are kept (and logged); bad values of known keys are errors.
    pub fn from_sources(
        file: Option<&Path>,
        env: &[(String, String)],
        flags: &[(String, String)],
    ) -> Result<Self, BrokerError> {
        let mut set: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| BrokerError::Config(format!("cannot read {}: {e}", path.display())))?;
            set.extend(parse_properties(&text));
        }
        for (k, v) in env {
            if let Some(key) = env_key(k) {
                set.insert(key, v.clone());
            }
        }
        for (k, v) in flags {
            set.insert(k.clone(), v.clone());
        }
        // Aliases.
        if let Some(v) = set.remove("broker.id") {
            set.entry("node.id".into()).or_insert(v);
        }
        if let Some(v) = set.remove("log.dir") {
            set.entry("log.dirs".into()).or_insert(v);
        }
        for k in set.keys() {
            let known = all_defaults().any(|(d, _)| d == k)
                || security::is_known(k)
                || matches!(
                    k.as_str(),
                    "log.retention.ms" | "log.retention.minutes" | "log.roll.ms"
                );
            if !known {
                tracing::warn!(config = %k, "unknown broker config (kept, ignored)");
            }
        }
        let get = |k: &str| -> String {
            set.get(k).cloned().unwrap_or_else(|| {
                all_defaults()
                    .find(|(d, _)| *d == k)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            })
        };

        let listeners = parse_listeners("listeners", &get("listeners"))?;
        if listeners.is_empty() {
            return Err(bad(
                "listeners",
                &get("listeners"),
                "at least one listener is required",
            ));
        }
        let advertised_raw = get("advertised.listeners");
        let advertised_listeners = if advertised_raw.trim().is_empty() {
            listeners
                .iter()
                .filter(|l| l.name != "CONTROLLER")
                .cloned()
                .collect()
        } else {
            parse_listeners("advertised.listeners", &advertised_raw)?
        };

        let log_defaults =
            log_defaults::log_config_from(&|k| set.get(k).cloned(), &|k| Some(get(k)))
                .map_err(|(k, v, why)| bad(&k, &v, &why))?;

        let listener_names: Vec<String> = listeners.iter().map(|l| l.name.clone()).collect();
        let security = security::parse_security(&listener_names, &get, &set)?;
        let rack = get("broker.rack");
        let config = BrokerConfig {
            node_id: parse("node.id", &get("node.id"))?,
            process_roles: get("process.roles")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            controller_quorum_voters: get("controller.quorum.voters"),
            listeners,
            advertised_listeners,
            log_dirs: get("log.dirs")
                .split(',')
                .map(|s| PathBuf::from(s.trim()))
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            num_partitions: parse("num.partitions", &get("num.partitions"))?,
            default_replication_factor: parse(
                "default.replication.factor",
                &get("default.replication.factor"),
            )?,
            auto_create_topics_enable: parse_bool(
                "auto.create.topics.enable",
                &get("auto.create.topics.enable"),
            )?,
            max_request_partition_size_limit: parse(
                "max.request.partition.size.limit",
                &get("max.request.partition.size.limit"),
            )?,
            socket_request_max_bytes: parse(
                "socket.request.max.bytes",
                &get("socket.request.max.bytes"),
            )?,
            connections_max_idle_ms: parse(
                "connections.max.idle.ms",
                &get("connections.max.idle.ms"),
            )?,
            min_insync_replicas: parse("min.insync.replicas", &get("min.insync.replicas"))?,
            log_retention_check_interval_ms: parse(
                "log.retention.check.interval.ms",
                &get("log.retention.check.interval.ms"),
            )?,
            broker_rack: (!rack.is_empty()).then_some(rack),
            log_defaults,
            groups: groups::parse_group_config(&get)?,
            transactions: transactions::parse_transaction_config(&get)?,
            share: share::parse_share_config(&get)?,
            transaction_version: parse("transaction.version", &get("transaction.version"))?,
            transaction_partition_verification: parse(
                "transaction.partition.verification.enable",
                &get("transaction.partition.verification.enable"),
            )?,
            replication: ReplicationConfig::parse(&get)?,
            producer_id_expiration_ms: parse(
                "producer.id.expiration.ms",
                &get("producer.id.expiration.ms"),
            )?,
            metadata_log_dir: Some(get("metadata.log.dir"))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            broker_session_timeout_ms: parse(
                "broker.session.timeout.ms",
                &get("broker.session.timeout.ms"),
            )?,
            broker_heartbeat_interval_ms: parse(
                "broker.heartbeat.interval.ms",
                &get("broker.heartbeat.interval.ms"),
            )?,
            auto_leader_rebalance: parse_bool(
                "auto.leader.rebalance.enable",
                &get("auto.leader.rebalance.enable"),
            )?,
            leader_imbalance_check_interval_ms: parse::<i64>(
                "leader.imbalance.check.interval.seconds",
                &get("leader.imbalance.check.interval.seconds"),
            )?
            .saturating_mul(1000),
            security,
            authorizer: authorizer::parse_authorizer_config(&get)?,
            ops: OpsSettings::parse(
                &get,
                set.contains_key("http.listener"),
                !get("controller.quorum.voters").trim().is_empty(),
            )?,
            quota_window: quotas::parse_quota_window(&get)?,
            entries: Vec::new(),
        };
        if config.log_dirs.is_empty() {
            return Err(bad("log.dirs", "", "at least one directory is required"));
        }

        if !(0..=2).contains(&config.transaction_version) {
            return Err(bad(
                "transaction.version",
                &config.transaction_version.to_string(),
                "must be 0, 1 or 2",
            ));
        }
        if config.num_partitions < 1 {
            return Err(bad(
                "num.partitions",
                &config.num_partitions.to_string(),
                "must be >= 1",
            ));
        }
        let mut entries: Vec<ConfigEntry> = all_defaults()
            .map(|(k, d)| ConfigEntry {
                name: k.to_string(),
                value: (!security::is_sensitive(k))
                    .then(|| set.get(*k).cloned().unwrap_or_else(|| d.to_string())),
                source: if set.contains_key(*k) {
                    ConfigSource::StaticBroker
                } else {
                    ConfigSource::Default
                },
                read_only: true,
                sensitive: security::is_sensitive(k),
            })
            .collect();
        for (k, v) in &set {
            if !entries.iter().any(|e| &e.name == k) {
                entries.push(ConfigEntry {
                    name: k.clone(),
                    value: (!security::is_sensitive(k)).then(|| v.clone()),
                    source: ConfigSource::StaticBroker,
                    read_only: true,
                    sensitive: security::is_sensitive(k),
                });
            }
        }
        Ok(BrokerConfig { entries, ..config })
    }

    /// The broker-level default for a topic config key (e.g. `retention.ms` → the effective
    /// `log.retention.*` value), or None for keys with no broker default.
    pub fn topic_default(&self, topic_key: &str) -> Option<String> {
        if let Some((_, v)) = self
            .log_defaults
            .entries()
            .into_iter()
            .find(|(k, _)| *k == topic_key)
        {
            return Some(v);
        }
        if let Some((_, v)) = topic::TOPIC_ONLY_DEFAULTS
            .iter()
            .find(|(k, _)| *k == topic_key)
        {
            return Some((*v).to_string());
        }
        if SAME_NAME_TOPIC_KEYS.contains(&topic_key) {
            return self
                .entries
                .iter()
                .find(|e| e.name == topic_key)
                .and_then(|e| e.value.clone());
        }
        None
    }

    /// True when the broker-level source of `topic_key` was set explicitly (file/env/flag).
    pub fn topic_default_is_static(&self, topic_key: &str) -> bool {
        let broker_key = LOG_KEY_MAP
            .iter()
            .find(|(_, t)| *t == topic_key)
            .map(|(b, _)| *b)
            .unwrap_or(topic_key);
        self.entries
            .iter()
            .any(|e| e.name == broker_key && e.source == ConfigSource::StaticBroker)
    }

    /// The first log directory.
    pub fn log_dir(&self) -> &Path {
        &self.log_dirs[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas_and_valid() {
        let c = BrokerConfig::default_single_node();
        assert_eq!(c.node_id, 1);
        assert_eq!(
            c.listeners[0],
            Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092
            }
        );
        assert_eq!(c.log_dirs, vec![PathBuf::from("./weir-data")]);
        assert_eq!(c.log_defaults.retention_ms, 7 * 24 * 3_600_000);
        assert_eq!(
            c.topic_default("retention.ms").as_deref(),
            Some("604800000")
        );
        assert_eq!(c.topic_default("min.insync.replicas").as_deref(), Some("1"));
        assert!(c.log_defaults.durable_acks());
    }

    #[test]
    fn precedence_flags_over_env_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("weir.properties");
        std::fs::write(
            &f,
            "# comment\nnum.partitions=3\nlog.retention.hours: 1\nlog.dirs=/a,\\\n/b\n",
        )
        .unwrap();
        let env = vec![("WEIR_NUM_PARTITIONS".to_string(), "4".to_string())];
        let flags = vec![("log.retention.ms".to_string(), "5000".to_string())];
        let c = BrokerConfig::from_sources(Some(&f), &env, &flags).unwrap();
        assert_eq!(c.num_partitions, 4);
        assert_eq!(c.log_defaults.retention_ms, 5000, "ms beats hours");
        assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        let e = c
            .entries
            .iter()
            .find(|e| e.name == "num.partitions")
            .unwrap();
        assert_eq!(e.source, ConfigSource::StaticBroker);
    }

    #[test]
    fn bad_values_are_clear_errors() {
        for (k, v) in [
            ("num.partitions", "many"),
            ("auto.create.topics.enable", "yes"),
            ("listeners", "nope"),
            ("log.segment.bytes", "1"),
        ] {
            let err = BrokerConfig::from_sources(None, &[], &[(k.into(), v.into())]).unwrap_err();
            assert!(err.to_string().contains(k), "{err}");
        }
    }
}
