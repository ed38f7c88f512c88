//! The client side of inter-broker connections (replica fetchers, transaction markers,
//! share-state RPCs): TCP, then TLS when `inter.broker.listener.name` uses SSL or SASL_SSL
//! (trusting the listener's trust store, presenting its key store), then SASL with
//! `sasl.mechanism.inter.broker.protocol` and the JAAS `username` / `password` of that listener.
//! The SASL client exchange is shared with the CONTROLLER listener (`crate::controller_transport`).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rand::RngCore;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use weir_meta::scram::{ScramClient, ScramHash};

use crate::config::security::{ClientSasl, InterBrokerSecurity};

/// A connection to another broker (plain or TLS).
pub trait BrokerIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> BrokerIo for T {}

/// A boxed connection to another broker.
pub type BrokerStream = Box<dyn BrokerIo>;

/// Opens secured connections to the other brokers.
pub struct BrokerConnector {
    /// The listener whose endpoints are used.
    pub listener: String,
    tls: Option<Result<TlsConnector, String>>,
    sasl: Option<Result<ClientSasl, String>>,
}

impl std::fmt::Debug for BrokerConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConnector")
            .field("listener", &self.listener)
            .field("tls", &self.tls.as_ref().map(|t| t.is_ok()))
            .finish_non_exhaustive()
    }
}

fn io_err(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::other(msg.into())
}

impl BrokerConnector {
    /// Plain TCP on the first listener (tests, single nodes).
    pub fn plaintext(listener: &str) -> Self {
        BrokerConnector {
            listener: listener.to_string(),
            tls: None,
            sasl: None,
        }
    }

    /// Build from the config. Settings that cannot work (no trust store for TLS, no SASL
    /// credentials) do not stop a broker that may never talk to another one (a single node):
    /// they make every connection attempt fail with the reason, and are logged now when
    /// `clustered` (`controller.quorum.voters` is set).
    pub fn new(s: &InterBrokerSecurity, clustered: bool) -> Self {
        let tls = match (&s.tls, s.protocol.is_some_and(|p| p.uses_tls())) {
            (Some(t), true) => Some(
                if t.truststore_location.is_none() && t.truststore_certificates.is_none() {
                    Err(format!(
                        "inter.broker.listener.name={} uses TLS but the listener has no \
                         ssl.truststore.location (the CA of the brokers' certificates)",
                        s.listener
                    ))
                } else {
                    crate::tls_config::client_config(t)
                        .map(|c| TlsConnector::from(Arc::new(c)))
                        .map_err(|e| e.to_string())
                },
            ),
            _ => None,
        };
        if let (true, Some(Err(why))) = (clustered, &tls) {
            tracing::warn!(listener = %s.listener, reason = %why, "inter-broker TLS cannot connect; connections to other brokers will fail");
        }
        if let (true, Some(Err(why))) = (clustered, &s.sasl) {
            tracing::warn!(listener = %s.listener, reason = %why, "inter-broker SASL cannot authenticate; connections to other brokers will fail");
        }
        BrokerConnector {
            listener: s.listener.clone(),
            tls,
            sasl: s.sasl.clone(),
        }
    }

    /// Connect to `addr` (`host:port`), run TLS and SASL as configured.
    pub async fn connect(&self, addr: &str) -> std::io::Result<BrokerStream> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut stream: BrokerStream = match &self.tls {
            None => Box::new(tcp),
            Some(Err(why)) => return Err(io_err(why.clone())),
            Some(Ok(connector)) => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                    .map_err(|e| io_err(format!("server name {host}: {e}")))?;
                Box::new(connector.connect(name, tcp).await?)
            }
        };
        match &self.sasl {
            None => {}
            Some(Err(why)) => return Err(io_err(why.clone())),
            Some(Ok((mech, user, password))) => {
                authenticate(&mut stream, "inter-broker", mech, user, &password.0).await?
            }
        }
        Ok(stream)
    }
}

async fn round_trip<S: AsyncRead + AsyncWrite + Unpin, Q: Encodable, R: Decodable>(
    s: &mut S,
    key: ApiKey,
    version: i16,
    req: &Q,
) -> std::io::Result<R> {
    let frame = weir_protocol::client::encode_request(key, version, 0, "weir-broker", req)
        .map_err(|e| io_err(e.to_string()))?;
    s.write_all(&frame).await?;
    s.flush().await?;
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).await?;
    let len =
        weir_protocol::frame::frame_length(prefix, 1 << 20).map_err(|e| io_err(e.to_string()))?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    weir_protocol::client::decode_response(key, version, 0, Bytes::from(body))
        .map_err(|e| io_err(format!("{key:?}: {e}")))
}

async fn step<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    what: &str,
    token: Vec<u8>,
) -> std::io::Result<Bytes> {
    let mut req = SaslAuthenticateRequest::default();
    req.auth_bytes = Bytes::from(token);
    let resp: SaslAuthenticateResponse = round_trip(s, ApiKey::SaslAuthenticate, 2, &req).await?;
    if resp.error_code != 0 {
        return Err(io_err(format!(
            "{what} SASL authentication failed (error {}): {}",
            resp.error_code,
            resp.error_message.as_ref().map_or("", |m| m.as_str())
        )));
    }
    Ok(resp.auth_bytes)
}

/// The client side of a Kafka SASL exchange on `s`: SaslHandshake v1 for `mech`, then
/// SaslAuthenticate v2 round trips (PLAIN, or SCRAM with the server's signature checked). `what`
/// names the connection in errors ("inter-broker", "controller").
pub(crate) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    what: &str,
    mech: &str,
    user: &str,
    password: &str,
) -> std::io::Result<()> {
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = StrBytes::from_string(mech.to_string());
    let r: SaslHandshakeResponse = round_trip(s, ApiKey::SaslHandshake, 1, &hs).await?;
    if r.error_code != 0 {
        return Err(io_err(format!(
            "{what} SaslHandshake for {mech}: error {}",
            r.error_code
        )));
    }
    match ScramHash::from_mechanism(mech) {
        None => {
            step(s, what, format!("\0{user}\0{password}").into_bytes()).await?;
        }
        Some(hash) => {
            let mut raw = [0u8; 18];
            rand::rng().fill_bytes(&mut raw);
            let nonce: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            let mut client = ScramClient::new(hash, user, &nonce);
            let server_first = step(s, what, client.client_first()).await?;
            let last = client
                .client_final(&server_first, password)
                .map_err(io_err)?;
            let server_final = step(s, what, last).await?;
            client.check_server_final(&server_final).map_err(io_err)?;
        }
    }
    Ok(())
}
