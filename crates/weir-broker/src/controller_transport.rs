//! The CONTROLLER listener's transport (what secures the metadata quorum's connections, both
//! directions), from `listener.security.protocol.map`:
//!
//! - `PLAINTEXT`: plain TCP;
//! - `SSL`: TLS with mutual authentication (both sides present the listener's key store and
//!   trust only its trust store);
//! - `SASL_PLAINTEXT` / `SASL_SSL`: (TLS as the listener's `ssl.*` configs say, then) a Kafka
//!   SASL exchange before the first Raft frame. The dialing side sends SaslHandshake v1 and
//!   SaslAuthenticate v2 requests, Kafka-framed, with `sasl.mechanism.controller.protocol`
//!   (PLAIN) and the `username` / `password` of the listener's JAAS config (the broker's own
//!   inter-broker SASL client); the accepting side answers them as a Kafka broker does, checking
//!   the JAAS `user_<name>` entries with the client listeners' PLAIN check.
//!   Only after a successful SaslAuthenticate does the connection carry Weir's length-prefixed
//!   JSON Raft frames; a failed one is answered (SASL_AUTHENTICATION_FAILED and its message,
//!   which the dialing side reports) and closed. There is no re-authentication on it.

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use weir_meta::raft::transport::{PlainTransport, RaftStream, RaftTransport, Secured};
use weir_protocol::request::DecodedRequest;

use crate::config::security::{ClientAuth, ClientSasl, Secret, SecurityProtocol};
use crate::config::BrokerConfig;
use crate::error::BrokerError;

/// How long a controller connection's TLS handshake and SASL exchange may take.
const CONTROLLER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest SASL request accepted on the CONTROLLER listener (Kafka's
/// `sasl.server.max.receive.size` default).
const MAX_SASL_FRAME: usize = 524_288;

fn io_err(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::other(msg.into())
}

/// The CONTROLLER listener's transport for this node's config (plain TCP when there is no
/// CONTROLLER listener). Key and trust stores are read now: a bad one is a config error.
pub fn controller_transport(config: &BrokerConfig) -> Result<Arc<dyn RaftTransport>, BrokerError> {
    let Some(sec) = config
        .security
        .listeners
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("CONTROLLER"))
        .map(|(_, s)| s)
    else {
        return Ok(Arc::new(PlainTransport));
    };
    let bad = |why: &str| BrokerError::Config(format!("the CONTROLLER listener: {why}"));
    let tls = match (&sec.tls, sec.protocol.uses_tls()) {
        (Some(tls), true) => {
            if tls.truststore_location.is_none() && tls.truststore_certificates.is_none() {
                return Err(bad(
                    "TLS needs ssl.truststore.location (nodes check each other's certificates)",
                ));
            }
            let mut server = tls.clone();
            if sec.protocol == SecurityProtocol::Ssl {
                // Without SASL the certificate is the only proof of who dials.
                server.client_auth = ClientAuth::Required;
            }
            Some((
                crate::tls_config::acceptor(&server)?,
                TlsConnector::from(Arc::new(crate::tls_config::client_config(tls)?)),
            ))
        }
        _ => None,
    };
    let sasl = match (&config.security.controller_sasl, sec.protocol.uses_sasl()) {
        (Some(client), true) => Some((sec.plain_users.clone(), client.clone())),
        (None, true) => return Err(bad("SASL without sasl.mechanism.controller.protocol")),
        _ => None,
    };
    tracing::info!(
        "CONTROLLER listener: {}",
        match (sec.protocol, &sasl) {
            (SecurityProtocol::Plaintext, _) => "plaintext".to_string(),
            (SecurityProtocol::Ssl, _) => "mutual TLS".to_string(),
            (SecurityProtocol::SaslSsl, Some((_, (mech, user, _)))) =>
                format!("SASL_SSL with {mech} as {user}"),
            (_, Some((_, (mech, user, _)))) => format!("SASL_PLAINTEXT with {mech} as {user}"),
            (_, None) => "no SASL credentials".to_string(),
        }
    );
    if tls.is_none() && sasl.is_none() {
        return Ok(Arc::new(PlainTransport));
    }
    Ok(Arc::new(ControllerTransport { tls, sasl }))
}

/// TLS and/or SASL on the controller listener.
struct ControllerTransport {
    tls: Option<(TlsAcceptor, TlsConnector)>,
    /// The JAAS `user_<name>` entries (accepting side) and this node's credentials (dialing).
    sasl: Option<(BTreeMap<String, Secret>, ClientSasl)>,
}

impl std::fmt::Debug for ControllerTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerTransport")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|(_, (m, u, _))| (m, u)))
            .finish()
    }
}

impl ControllerTransport {
    async fn accept_inner(&self, tcp: TcpStream) -> std::io::Result<RaftStream> {
        let mut s: RaftStream = match &self.tls {
            Some((acceptor, _)) => Box::new(acceptor.accept(tcp).await?),
            None => Box::new(tcp),
        };
        if let Some((users, _)) = &self.sasl {
            let user = sasl_accept(&mut s, users).await?;
            tracing::debug!(principal = %format!("User:{user}"), "controller connection authenticated");
        }
        Ok(s)
    }

    async fn connect_inner(&self, tcp: TcpStream, addr: &str) -> std::io::Result<RaftStream> {
        let mut s: RaftStream = match &self.tls {
            Some((_, connector)) => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                    .map_err(|e| io_err(format!("server name {host}: {e}")))?;
                Box::new(connector.connect(name, tcp).await?)
            }
            None => Box::new(tcp),
        };
        if let Some((_, (mech, user, password))) = &self.sasl {
            crate::inter_broker::authenticate(&mut s, "controller", mech, user, &password.0)
                .await?;
        }
        Ok(s)
    }
}

impl RaftTransport for ControllerTransport {
    fn accept(&self, tcp: TcpStream) -> Secured<'_> {
        Box::pin(async move {
            tokio::time::timeout(CONTROLLER_HANDSHAKE_TIMEOUT, self.accept_inner(tcp))
                .await
                .map_err(|_| io_err("TLS handshake / SASL authentication timed out"))?
        })
    }

    fn connect<'a>(&'a self, tcp: TcpStream, addr: &'a str) -> Secured<'a> {
        Box::pin(async move {
            tokio::time::timeout(CONTROLLER_HANDSHAKE_TIMEOUT, self.connect_inner(tcp, addr))
                .await
                .map_err(|_| io_err("TLS handshake / SASL authentication timed out"))?
        })
    }
}

/// Read one Kafka request frame (bounded by [`MAX_SASL_FRAME`]).
async fn read_request(s: &mut RaftStream) -> std::io::Result<DecodedRequest> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).await?;
    let len = weir_protocol::frame::frame_length(prefix, MAX_SASL_FRAME)
        .map_err(|e| io_err(e.to_string()))?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    weir_protocol::request::decode_request(Bytes::from(body)).map_err(|e| {
        io_err(format!(
            "expected SASL authentication on the CONTROLLER listener: {e}"
        ))
    })
}

async fn respond(
    s: &mut RaftStream,
    req: &DecodedRequest,
    resp: &ResponseKind,
) -> std::io::Result<()> {
    let frame = weir_protocol::response::encode_response(
        req.header.correlation_id,
        req.api_key,
        req.api_version,
        resp,
    )
    .map_err(|e| io_err(e.to_string()))?;
    s.write_all(&frame).await?;
    s.flush().await
}

fn refused(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, why)
}

/// The accepting side of the SASL exchange, as a Kafka broker answers it: SaslHandshake (PLAIN
/// only, else UNSUPPORTED_SASL_MECHANISM), then one SaslAuthenticate checked against the JAAS
/// users (else SASL_AUTHENTICATION_FAILED with Kafka's message). Returns the user; any other
/// request, or a failure (after its answer is sent), is an `Err` that closes the connection.
async fn sasl_accept(
    s: &mut RaftStream,
    users: &BTreeMap<String, Secret>,
) -> std::io::Result<String> {
    let req = read_request(s).await?;
    let RequestKind::SaslHandshake(hs) = &req.body else {
        return Err(refused(format!(
            "{:?} before SaslHandshake on the CONTROLLER listener",
            req.api_key
        )));
    };
    let mechanism = hs.mechanism.to_string();
    let mut resp = SaslHandshakeResponse::default();
    resp.mechanisms = vec![StrBytes::from_static_str("PLAIN")];
    if mechanism != "PLAIN" {
        resp.error_code = ResponseError::UnsupportedSaslMechanism.code();
    }
    respond(s, &req, &ResponseKind::SaslHandshake(resp)).await?;
    if mechanism != "PLAIN" {
        return Err(refused(format!(
            "unsupported SASL mechanism {mechanism:?} on the CONTROLLER listener (enabled: PLAIN)"
        )));
    }
    let req = read_request(s).await?;
    let RequestKind::SaslAuthenticate(auth) = &req.body else {
        return Err(refused(format!(
            "{:?} instead of SaslAuthenticate on the CONTROLLER listener",
            req.api_key
        )));
    };
    let checked = crate::sasl_plain::check_plain(users, &auth.auth_bytes);
    let mut resp = SaslAuthenticateResponse::default();
    if let Err(msg) = &checked {
        resp.error_code = ResponseError::SaslAuthenticationFailed.code();
        resp.error_message = Some(StrBytes::from_string(msg.clone()));
    }
    respond(s, &req, &ResponseKind::SaslAuthenticate(resp)).await?;
    checked.map_err(|msg| refused(format!("SASL authentication failed: {msg}")))
}

#[cfg(test)]
#[path = "controller_transport_tests.rs"]
mod tests;
