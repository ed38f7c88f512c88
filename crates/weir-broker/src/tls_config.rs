//! The rustls configurations of Weir's TLS, from PEM files with Kafka's config names: the
//! server side of SSL / SASL_SSL listeners (`acceptor`) and the client side of inter-broker
//! connections (`client_config`). Any problem is a config error at start-up.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::security::{ClientAuth, Secret, SecurityConfig, TlsSettings};
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
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(config_error(format!(
            "{source}: legacy OpenSSL-encrypted keys are not supported; convert it to an \
             encrypted PKCS#8 key (`openssl pkcs8 -topk8`) or decrypt it (`openssl pkey`)"
        )));
    }
    let key = if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        decrypt_pkcs8(&text, s.key_password.as_ref(), &source)?
    } else {
        PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| config_error(format!("{source}: no usable PEM private key: {e}")))?
    };
    Ok((certs, key))
}

/// An encrypted PKCS#8 key (`ENCRYPTED PRIVATE KEY`, PBES2 as `openssl pkcs8 -topk8` writes
/// it) decrypted with `ssl.key.password`.
fn decrypt_pkcs8(
    pem: &str,
    password: Option<&Secret>,
    source: &str,
) -> Result<PrivateKeyDer<'static>, BrokerError> {
    let password = password.ok_or_else(|| {
        config_error(format!(
            "{source}: the private key is encrypted and ssl.key.password is not set"
        ))
    })?;
    let begin = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    let end = "-----END ENCRYPTED PRIVATE KEY-----";
    let block = pem
        .find(begin)
        .and_then(|i| pem[i..].find(end).map(|j| &pem[i..i + j + end.len()]))
        .ok_or_else(|| config_error(format!("{source}: truncated encrypted private key")))?;
    let (_, doc) = pkcs8::SecretDocument::from_pem(block)
        .map_err(|e| config_error(format!("{source}: bad encrypted private key: {e}")))?;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
        .map_err(|e| config_error(format!("{source}: bad encrypted private key: {e}")))?;
    let plain = info.decrypt(password.0.as_bytes()).map_err(|e| {
        config_error(format!(
            "{source}: cannot decrypt the private key with ssl.key.password: {e}"
        ))
    })?;
    Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()))
}

/// Build every TLS listener's acceptor once, so a bad key, password or trust store stops the
/// start (with the config error) before anything is opened.
pub fn check_listeners(security: &SecurityConfig) -> Result<(), BrokerError> {
    for sec in security.listeners.values() {
        if let Some(t) = sec.tls.as_ref().filter(|_| sec.protocol.uses_tls()) {
            acceptor(t)?;
        }
    }
    Ok(())
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

/// The client config of inter-broker connections: trust the listener's trust store and present
/// its key store (for peers that require client certificates).
pub fn client_config(s: &TlsSettings) -> Result<rustls::ClientConfig, BrokerError> {
    #[allow(deprecated)] // ring: see `acceptor`
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = trust_roots(s)?;
    let (certs, key) = identity(s)?;
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| config_error(format!("ssl.keystore: certificate and key: {e}")))
}
