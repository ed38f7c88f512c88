//! TLS for SSL and SASL_SSL listeners: the handshake of one accepted connection (with the
//! acceptor of `crate::tls_config`), which yields the client certificate's principal under mTLS.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::principal::{map_principal, subject_dn};
use crate::api::Principal;

/// Run the server side of the TLS handshake within `timeout`. Garbage instead of a
/// ClientHello, a refused client certificate or a timeout is an `Err` with the reason (the
/// caller logs it with the peer address and drops the socket).
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, String> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
        Err(_) => Err("TLS handshake timed out".into()),
    }
}

/// The principal of a TLS connection: `User:<mapped subject DN>` of the verified client
/// certificate, or `User:ANONYMOUS` without one (as Kafka).
pub fn peer_principal(stream: &TlsStream<TcpStream>, rules: &str, peer: SocketAddr) -> Principal {
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first());
    match cert.map(|c| subject_dn(c.as_ref())) {
        Some(Some(dn)) => Principal {
            kind: "User".into(),
            name: map_principal(rules, &dn),
        },
        Some(None) => {
            tracing::warn!(%peer, "client certificate subject unreadable; principal is ANONYMOUS");
            Principal::anonymous()
        }
        None => Principal::anonymous(),
    }
}
