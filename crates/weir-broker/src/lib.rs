//! weir-broker: the Kafka-compatible server, as services with narrow interfaces.
//!
//! Dependency order (a module uses only those before it): `error`, `config`, `metrics` (hot-path
//! counters), `fetch_sessions`, `tls_config` (rustls configs from PEM stores) → `metadata`
//! (read-only view of the metadata image) → `sasl_plain` (the PLAIN credential check) →
//! `inter_broker` (TLS / SASL connections to other brokers) → `controller_transport` (TLS / SASL
//! of the CONTROLLER listener, the metadata quorum's connections) → `peers` (requests to other
//! brokers)
//! → `replica` (partition logs,
//! replication, high watermarks) → `applier` (applies images to logs, replicas and
//! coordinators) → `admin` (topic and reassignment proposals) → `coordinators` (storage and
//! ownership adapters of the coordinator runtime) and `lifecycle` (registration, heartbeats,
//! controlled shutdown) → `share` (share groups: membership, share-partitions, sessions) →
//! `broker` (start-up wiring) → `authz` (ACL checks per API) → `api` (request context,
//! dispatch table, one file per Kafka API) → `security` (TLS handshakes, mTLS principals, SASL
//! sessions of client connections) → `server` (listeners, connections, background tasks).
//! See docs/architecture.md.

pub mod admin;
pub mod api;
pub mod applier;
pub mod authz;
pub mod broker;
pub mod config;
pub mod controller_transport;
pub mod coordinators;
pub mod error;
pub mod fetch_sessions;
pub mod inter_broker;
pub mod lifecycle;
pub mod metadata;
pub mod metrics;
pub mod peers;
pub mod quota;
pub mod replica;
pub mod sasl_plain;
pub mod security;
pub mod server;
pub mod share;
pub mod tls_config;

pub use broker::Broker;
pub use config::BrokerConfig;
pub use error::BrokerError;
pub use server::run;
/// The consumer-group coordinator (its own crate on the coordinator runtime).
pub use weir_group_coordinator as groups;
