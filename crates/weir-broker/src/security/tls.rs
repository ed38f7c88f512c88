//! TLS for SSL and SASL_SSL listeners: the handshake of one accepted connection (with the
//! acceptor of `crate::tls_config`), which yields the client certificate's principal under mTLS.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::principal::subject_dn;
use crate::api::Principal;
use crate::config::principal_rules::PrincipalRules;

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

/// The principal of a TLS connection: `User:<name>` for the verified client certificate's
/// subject DN mapped by `ssl.principal.mapping.rules`, or `User:ANONYMOUS` without a
/// certificate (as Kafka). `Err` when no rule maps the name (the connection is refused, as
/// Kafka does) or the subject cannot be read.
pub fn peer_principal(
    stream: &TlsStream<TcpStream>,
    rules: &PrincipalRules,
) -> Result<Principal, String> {
    let Some(cert) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    else {
        return Ok(Principal::anonymous());
    };
    let dn = subject_dn(cert.as_ref()).ok_or("client certificate subject unreadable")?;
    let name = rules
        .apply(&dn)
        .ok_or_else(|| format!("no ssl.principal.mapping.rules rule maps {dn:?}"))?;
    Ok(Principal {
        kind: "User".into(),
        name,
    })
}
