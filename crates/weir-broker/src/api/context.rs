//! What the request pipeline knows about one request besides its body: who sent it, on which
//! listener, with which API version, and (once authentication exists) as whom.

use std::net::SocketAddr;
use std::time::Instant;

use kafka_protocol::messages::RequestHeader;

/// An authenticated identity, as Kafka's `KafkaPrincipal` (`User:alice`). Every connection is
/// `User:ANONYMOUS` until a SASL mechanism authenticates it (Weir has no SASL yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Principal type (`User`).
    pub kind: String,
    /// Principal name.
    pub name: String,
}

impl Principal {
    /// Kafka's `User:ANONYMOUS`: the principal of an unauthenticated PLAINTEXT connection.
    pub fn anonymous() -> Self {
        Principal {
            kind: "User".into(),
            name: "ANONYMOUS".into(),
        }
    }
}

/// One request's context, built by the connection and handed to the pipeline.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request header (API key, version, correlation id, client id).
    pub header: RequestHeader,
    /// The API version the request was decoded with.
    pub api_version: i16,
    /// The peer's address.
    pub client_addr: SocketAddr,
    /// The listener the connection arrived on (`PLAINTEXT`).
    pub listener: String,
    /// Who the connection authenticated as.
    pub principal: Principal,
    /// This connection's id, unique within the process (share sessions are bound to the
    /// connection that opened them, as Kafka's `connectionId`).
    pub connection_id: u64,
    /// The connection sends Fetch record sets straight from segment files (`sendfile`): a
    /// plaintext TCP socket. Handlers then may answer with placeholders
    /// (`weir_protocol::placeholder`) that only this connection's writer can send.
    pub send_files: bool,
    /// When the connection had read the whole request frame (the start of its `TotalTimeMs`
    /// and `RequestQueueTimeMs`, see `crate::metrics::stages`).
    pub received: Instant,
}

impl RequestContext {
    /// The client host as Kafka reports it in group descriptions (`/127.0.0.1`).
    pub fn client_host(&self) -> String {
        format!("/{}", self.client_addr.ip())
    }

    /// The `client.id` the client sent ("" when none).
    pub fn client_id(&self) -> &str {
        self.header.client_id.as_deref().unwrap_or("")
    }
}
