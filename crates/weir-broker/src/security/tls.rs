//! TLS for SSL and SASL_SSL listeners (rustls with the ring provider): the server config built
//! from PEM key and trust stores, and the handshake of one accepted connection, which yields
//! the client certificate's principal under mTLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::principal::{map_principal, subject_dn};
use crate::api::Principal;
use crate::config::security::{ClientAuth, TlsSettings};
use crate::error::BrokerError;

fn config_error(what: impl Into<String>) -> BrokerError {
    BrokerError::Config(what.into())
}

fn read_pem(path: &std::path::Path, key: &str) -> Result<Vec<u8>, BrokerError> {
    std::fs::read(path).map_err(|e| config_error(format!("{key}={}: {e}", path.display())))
}

/// The certificate chain and private key of `s`.
fn identity(
    s: &TlsSettings,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), BrokerError> {
    let (cert_pem, key_pem, source) = match &s.keystore_location {
        Some(p) => {
            let pem = read_pem(p, "ssl.keystore.location")?;
            (
                pem.clone(),
                pem,
                format!("ssl.keystore.location={}", p.display()),
            )
        }
        None => (
            s.certificate_chain.clone().unwrap_or_default().into_bytes(),
            s.key.clone().unwrap_or_default().0.into_bytes(),
            "ssl.keystore.certificate.chain / ssl.keystore.key".to_string(),
        ),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| config_error(format!("{source}: bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(config_error(format!("{source}: no PEM certificate found")));
    }
    let text = String::from_utf8_lossy(&key_pem);
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(config_error(format!(
            "{source}: the private key is encrypted; Weir reads unencrypted PEM keys only \
             (ssl.key.password is not supported: decrypt it with `openssl pkey`)"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| config_error(format!("{source}: no usable PEM private key: {e}")))?;
    Ok((certs, key))
}

/// The trusted CA certificates of `s` (empty when no trust store is configured).
fn trust_roots(s: &TlsSettings) -> Result<RootCertStore, BrokerError> {
    let mut roots = RootCertStore::empty();
    let pem = match (&s.truststore_location, &s.truststore_certificates) {
        (Some(p), _) => read_pem(p, "ssl.truststore.location")?,
        (None, Some(text)) => text.clone().into_bytes(),
        (None, None) => return Ok(roots),
    };
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| config_error(format!("trust store: bad PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| config_error(format!("trust store: unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(config_error("trust store: no PEM CA certificate found"));
    }
    Ok(roots)
}

/// Build the TLS acceptor of a listener (start-up: any problem is a config error).
pub fn acceptor(s: &TlsSettings) -> Result<TlsAcceptor, BrokerError> {
    // ring, not aws-lc-rs: no C/CMake toolchain for aws-lc. rustls 0.23.48 deprecates the ring
    // provider only because it lacks post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (certs, key) = identity(s)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS: {e}")))?;
    let builder = match s.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let roots = Arc::new(trust_roots(s)?);
            let mut v = WebPkiClientVerifier::builder_with_provider(roots, provider);
            if auth == ClientAuth::Requested {
                v = v.allow_unauthenticated();
            }
            let verifier = v
                .build()
                .map_err(|e| config_error(format!("ssl.truststore.location: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| config_error(format!("ssl.keystore: certificate and key: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

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
