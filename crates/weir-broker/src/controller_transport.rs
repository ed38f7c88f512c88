//! The CONTROLLER listener's transport (what secures the metadata quorum's connections, both
//! directions), from `listener.security.protocol.map`:
//!
//! - `PLAINTEXT`: plain TCP;
//! - `SSL`: TLS with mutual authentication (both sides present the listener's key store and
//!   trust only its trust store);
//! - `SASL_PLAINTEXT` / `SASL_SSL`: (TLS as the listener's `ssl.*` configs say, then) a Kafka
//!   SASL exchange before the first Raft frame. The dialing side sends SaslHandshake v1 and
//!   SaslAuthenticate v2 requests, Kafka-framed, with `sasl.mechanism.controller.protocol`
//!   (PLAIN) and the `username` / `password` of the listener's JAAS config; the accepting side
//!   answers them with the broker's own SASL session against the JAAS `user_<name>` entries.
//!   Only after a successful SaslAuthenticate does the connection carry Weir's length-prefixed
//!   JSON Raft frames; a failed one is answered (SASL_AUTHENTICATION_FAILED and its message,
//!   which the dialing side reports) and closed. There is no re-authentication on it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ResponseKind;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use uuid::Uuid;
use weir_meta::raft::transport::{PlainTransport, RaftStream, RaftTransport, Secured};
use weir_meta::MetadataImage;

use crate::config::security::{ClientAuth, ClientSasl, ListenerSecurity, SecurityProtocol};
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::metadata::view::{MetadataView, NodeIdentity, StaticImages};
use crate::security::sasl::{SaslReply, SaslServer, SaslSession};

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
        (Some(client), true) => Some((sasl_server(sec), client.clone())),
        (None, true) => return Err(bad("SASL without sasl.mechanism.controller.protocol")),
        _ => None,
    };
    tracing::info!(
        "CONTROLLER listener: {}",
        match (sec.protocol, &sasl) {
            (SecurityProtocol::Plaintext, _) => "plaintext".to_string(),
            (SecurityProtocol::Ssl, _) => "mutual TLS".to_string(),
            (p, Some((_, (mech, user, _)))) => format!("{p:?} with {mech} as {user}"),
            (p, None) => format!("{p:?}"),
        }
    );
    if tls.is_none() && sasl.is_none() {
        return Ok(Arc::new(PlainTransport));
    }
    Ok(Arc::new(ControllerTransport { tls, sasl }))
}

/// The SASL server of the CONTROLLER listener: PLAIN only (SCRAM needs the metadata this
/// listener carries), no session expiry, an empty image (nothing looks SCRAM users up).
fn sasl_server(sec: &ListenerSecurity) -> Arc<SaslServer> {
    let identity = NodeIdentity {
        node_id: -1,
        incarnation: Uuid::nil(),
        is_broker: false,
        rack: None,
        advertised: None,
        advertised_listeners: Vec::new(),
        rack_aware_selector: false,
    };
    Arc::new(SaslServer {
        mechanisms: sec
            .sasl_mechanisms
            .iter()
            .filter(|m| *m == "PLAIN")
            .cloned()
            .collect(),
        plain_users: sec.plain_users.clone(),
        reauth_ms: 0,
        view: Arc::new(MetadataView::new(
            Arc::new(StaticImages::new(MetadataImage::default(), None)),
            identity,
        )),
    })
}

/// TLS and/or SASL on the controller listener.
struct ControllerTransport {
    tls: Option<(TlsAcceptor, TlsConnector)>,
    sasl: Option<(Arc<SaslServer>, ClientSasl)>,
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
        if let Some((server, _)) = &self.sasl {
            let user = sasl_accept(&mut s, server).await?;
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

/// Answer Kafka-framed SaslHandshake / SaslAuthenticate requests until the peer is
/// authenticated (its user name) or refused (`Err`, after the answer is sent). Any other
/// request is refused.
async fn sasl_accept(s: &mut RaftStream, server: &SaslServer) -> std::io::Result<String> {
    let mut session = SaslSession::new();
    loop {
        let mut prefix = [0u8; 4];
        s.read_exact(&mut prefix).await?;
        let len = weir_protocol::frame::frame_length(prefix, MAX_SASL_FRAME)
            .map_err(|e| io_err(e.to_string()))?;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await?;
        let req = weir_protocol::request::decode_request(Bytes::from(body)).map_err(|e| {
            io_err(format!(
                "expected SASL authentication on the CONTROLLER listener: {e}"
            ))
        })?;
        if !SaslSession::handles(req.api_key) {
            return Err(io_err(format!(
                "{:?} before SASL authentication on the CONTROLLER listener",
                req.api_key
            )));
        }
        let (resp, close): (ResponseKind, Option<String>) =
            match session.handle(server, req.api_version, req.body) {
                SaslReply::Respond(r) => (r, None),
                SaslReply::RespondAndClose(r, why) => (r, Some(why)),
            };
        let frame = weir_protocol::response::encode_response(
            req.header.correlation_id,
            req.api_key,
            req.api_version,
            &resp,
        )
        .map_err(|e| io_err(e.to_string()))?;
        s.write_all(&frame).await?;
        s.flush().await?;
        if let Some(why) = close {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                why,
            ));
        }
        if let Some(p) = session.principal() {
            return Ok(p.name.clone());
        }
    }
}
