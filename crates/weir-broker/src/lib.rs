//! weir-broker: the Kafka-compatible server.
//!
//! `server` accepts connections, `connection` frames and pipelines requests, `handlers` has one
//! file per Kafka API, `broker` holds the shared state, `topics` persists topic metadata,
//! `topic_admin` creates/deletes/alters topics, `reassignment` moves partitions between brokers
//! (KIP-455), `groups` is the group coordinator, `replication` copies partitions between
//! brokers (ISR, high watermark, follower fetchers), `config` is the broker configuration, and
//! `error` maps every internal error to a Kafka error code in one place.

pub mod broker;
pub mod config;
pub mod connection;
pub mod error;
pub mod groups;
pub mod handlers;
pub mod metadata_sync;
pub mod producer_ids;
pub mod reassignment;
pub mod replication;
pub mod server;
pub mod topic_admin;
pub mod topics;

pub use broker::Broker;
pub use config::BrokerConfig;
pub use error::BrokerError;
pub use server::run;
