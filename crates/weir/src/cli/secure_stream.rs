//! The connection of a raw protocol call (`raw.rs`) secured as `--command-config` says: TLS
//! with rustls (`ssl.ca.location`, optional client certificate `ssl.certificate.location` +
//! `ssl.key.location`), then SASL (`sasl.mechanism` PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with
//! `sasl.username` / `sasl.password`) before the request is sent.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rand::RngCore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use weir_meta::scram::{ScramClient, ScramHash};

use super::client_security::get;

/// A byte stream to a broker (plain TCP or TLS).
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

fn err(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::other(msg.into())
}

/// Secure `tcp` (connected to `host`) per `security.protocol`.
pub fn secure(tcp: TcpStream, host: &str) -> std::io::Result<Box<dyn Stream>> {
    let protocol = get("security.protocol")
        .unwrap_or("PLAINTEXT")
        .to_ascii_uppercase();
    let mut stream: Box<dyn Stream> = match protocol.as_str() {
        "PLAINTEXT" | "SASL_PLAINTEXT" => Box::new(tcp),
        "SSL" | "SASL_SSL" => Box::new(tls(tcp, host)?),
        other => return Err(err(format!("unknown security.protocol {other}"))),
    };
    if protocol.starts_with("SASL_") {
        authenticate(&mut stream)?;
    }
    Ok(stream)
}

fn read_pem(key: &str) -> std::io::Result<Option<Vec<u8>>> {
    match get(key) {
        Some(path) => std::fs::read(path)
            .map(Some)
            .map_err(|e| err(format!("{key}={path}: {e}"))),
        None => Ok(None),
    }
}

fn tls(
    tcp: TcpStream,
    host: &str,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = read_pem("ssl.ca.location")?
        .ok_or_else(|| err("TLS needs ssl.ca.location (a PEM CA file) in --command-config"))?;
    for cert in CertificateDer::pem_slice_iter(&ca) {
        let cert = cert.map_err(|e| err(format!("ssl.ca.location: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| err(format!("ssl.ca.location: {e}")))?;
    }
    #[allow(deprecated)] // ring: see weir_broker::security::tls
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (
        read_pem("ssl.certificate.location")?,
        read_pem("ssl.key.location")?,
    ) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("ssl.certificate.location: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(&key)
                .map_err(|e| err(format!("ssl.key.location: {e}")))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| err(format!("client certificate: {e}")))?
        }
        _ => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| err(format!("server name {host}: {e}")))?;
    let conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| err(e.to_string()))?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// One request/response on `s` (correlation id 0: nothing else is in flight).
pub fn round_trip<Q: Encodable, R: Decodable>(
    s: &mut dyn Stream,
    key: ApiKey,
    version: i16,
    req: &Q,
) -> std::io::Result<R> {
    let frame = weir_protocol::client::encode_request(key, version, 0, "weir-cli", req)
        .map_err(|e| err(e.to_string()))?;
    s.write_all(&frame)?;
    s.flush()?;
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)?;
    let len =
        weir_protocol::frame::frame_length(prefix, 64 << 20).map_err(|e| err(e.to_string()))?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    weir_protocol::client::decode_response(key, version, 0, Bytes::from(body))
        .map_err(|e| err(format!("{key:?}: {e}")))
}

fn code_name(code: i16) -> String {
    match kafka_protocol::error::ResponseError::try_from_code(code) {
        Some(e) => format!("{e:?} ({code})"),
        None => format!("error code {code}"),
    }
}

fn sasl_step(s: &mut dyn Stream, token: Vec<u8>) -> std::io::Result<Bytes> {
    let mut req = SaslAuthenticateRequest::default();
    req.auth_bytes = Bytes::from(token);
    let resp: SaslAuthenticateResponse = round_trip(s, ApiKey::SaslAuthenticate, 2, &req)?;
    if resp.error_code != 0 {
        return Err(err(format!(
            "SASL authentication failed: {}: {}",
            code_name(resp.error_code),
            resp.error_message.as_ref().map_or("", |m| m.as_str())
        )));
    }
    Ok(resp.auth_bytes)
}

fn authenticate(s: &mut Box<dyn Stream>) -> std::io::Result<()> {
    let mechanism = get("sasl.mechanism")
        .unwrap_or("GSSAPI")
        .to_ascii_uppercase();
    let user = get("sasl.username").ok_or_else(|| err("SASL needs sasl.username"))?;
    let password = get("sasl.password").ok_or_else(|| err("SASL needs sasl.password"))?;
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = StrBytes::from_string(mechanism.clone());
    let resp: SaslHandshakeResponse = round_trip(s.as_mut(), ApiKey::SaslHandshake, 1, &hs)?;
    if resp.error_code != 0 {
        let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(err(format!(
            "SASL handshake for {mechanism} failed: {} (the broker enables {})",
            code_name(resp.error_code),
            enabled.join(", ")
        )));
    }
    if mechanism == "PLAIN" {
        sasl_step(s.as_mut(), format!("\0{user}\0{password}").into_bytes())?;
        return Ok(());
    }
    let hash = ScramHash::from_mechanism(&mechanism)
        .ok_or_else(|| err(format!("unsupported sasl.mechanism {mechanism}")))?;
    let mut raw_nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut raw_nonce);
    let mut client = ScramClient::new(hash, user, &B64.encode(raw_nonce));
    let server_first = sasl_step(s.as_mut(), client.client_first())?;
    let last = client.client_final(&server_first, password).map_err(err)?;
    let server_final = sasl_step(s.as_mut(), last)?;
    client.check_server_final(&server_final).map_err(err)?;
    Ok(())
}
