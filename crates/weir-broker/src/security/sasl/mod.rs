//! SASL on a connection: SaslHandshake (17) and SaslAuthenticate (36) with PLAIN and
//! SCRAM-SHA-256/512, the gate that serves nothing but ApiVersions before authentication, and
//! session expiry with re-authentication (KIP-368).
//!
//! The connection owns one [`SaslSession`] and hands it every SASL request (in order, like any
//! other request) and asks it to [`SaslSession::admit`] every other one. A failed
//! authentication is answered (SASL_AUTHENTICATION_FAILED with a message, or
//! UNSUPPORTED_SASL_MECHANISM with the enabled list) and the connection is then closed.

pub mod scram;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::{Duration, Instant};

use crate::api::Principal;
use crate::config::security::Secret;
use crate::metadata::view::MetadataView;
use scram::{ScramExchange, ScramStep};
use weir_meta::scram::ScramHash;

/// A SASL listener's settings, shared by its connections.
#[derive(Debug)]
pub struct SaslServer {
    /// `sasl.enabled.mechanisms` (supported ones).
    pub mechanisms: Vec<String>,
    /// PLAIN users from the listener's JAAS config.
    pub plain_users: BTreeMap<String, Secret>,
    /// `connections.max.reauth.ms` (0 = no expiry).
    pub reauth_ms: i64,
    /// Where SCRAM credentials are looked up (the replicated metadata).
    pub view: Arc<MetadataView>,
}

#[derive(Debug)]
enum Exchange {
    Plain,
    Scram(Box<ScramExchange>),
}

#[derive(Debug)]
enum Phase {
    /// Waiting for SaslHandshake (first authentication or a re-authentication).
    Handshake,
    /// Handshake done; SaslAuthenticate round trips with this mechanism.
    Authenticate(String, Exchange),
    /// Between exchanges of a SCRAM authentication, the state moved out temporarily.
    Busy,
}

/// The SASL state of one connection.
#[derive(Debug)]
pub struct SaslSession {
    phase: Phase,
    /// The authenticated principal and mechanism (kept during a re-authentication).
    authenticated: Option<(Principal, String)>,
    expires_at: Option<Instant>,
    authentications: u64,
}

/// What the connection does with a SASL request.
#[derive(Debug)]
pub enum SaslReply {
    /// Send this response and carry on.
    Respond(ResponseKind),
    /// Send this response, then close the connection (the reason is logged).
    RespondAndClose(ResponseKind, String),
}

impl Default for SaslSession {
    fn default() -> Self {
        Self::new()
    }
}

impl SaslSession {
    /// A connection that has not authenticated yet.
    pub fn new() -> Self {
        SaslSession {
            phase: Phase::Handshake,
            authenticated: None,
            expires_at: None,
            authentications: 0,
        }
    }

    /// The authenticated principal, if any.
    pub fn principal(&self) -> Option<&Principal> {
        self.authenticated.as_ref().map(|(p, _)| p)
    }

    /// How many authentications succeeded on this connection (the first one and every
    /// re-authentication).
    pub fn authentications(&self) -> u64 {
        self.authentications
    }

    /// True for the requests this session answers itself.
    pub fn handles(api_key: ApiKey) -> bool {
        matches!(api_key, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)
    }

    /// May a non-SASL request be served now? Before authentication only ApiVersions; after
    /// it, anything until the session expires (`Err` = close the connection, with the reason).
    pub fn admit(&self, api_key: ApiKey) -> Result<(), String> {
        if self.authenticated.is_none() {
            if api_key == ApiKey::ApiVersions {
                return Ok(());
            }
            return Err(format!(
                "unexpected {api_key:?} request before SASL authentication"
            ));
        }
        if self.expires_at.is_some_and(|t| Instant::now() >= t) {
            return Err(
                "SASL session expired without re-authentication (connections.max.reauth.ms)".into(),
            );
        }
        Ok(())
    }

    /// Answer SaslHandshake or SaslAuthenticate.
    pub fn handle(&mut self, server: &SaslServer, version: i16, body: RequestKind) -> SaslReply {
        match body {
            RequestKind::SaslHandshake(r) => self.handshake(server, r.mechanism.as_str()),
            RequestKind::SaslAuthenticate(r) => self.authenticate(server, version, &r.auth_bytes),
            other => SaslReply::RespondAndClose(
                ResponseKind::SaslHandshake(illegal_handshake(server)),
                format!("not a SASL request: {other:?}"),
            ),
        }
    }

    fn handshake(&mut self, server: &SaslServer, mechanism: &str) -> SaslReply {
        let mut resp = SaslHandshakeResponse::default();
        resp.mechanisms = server
            .mechanisms
            .iter()
            .map(|m| StrBytes::from_string(m.clone()))
            .collect();
        if !matches!(self.phase, Phase::Handshake) {
            resp.error_code = ResponseError::IllegalSaslState.code();
            return SaslReply::RespondAndClose(
                ResponseKind::SaslHandshake(resp),
                "SaslHandshake in the middle of an authentication".into(),
            );
        }
        if !server.mechanisms.iter().any(|m| m == mechanism) {
            resp.error_code = ResponseError::UnsupportedSaslMechanism.code();
            return SaslReply::RespondAndClose(
                ResponseKind::SaslHandshake(resp),
                format!(
                    "unsupported SASL mechanism {mechanism:?} (enabled: {})",
                    server.mechanisms.join(", ")
                ),
            );
        }
        if let Some((_, old)) = &self.authenticated {
            if old != mechanism {
                resp.error_code = ResponseError::IllegalSaslState.code();
                return SaslReply::RespondAndClose(
                    ResponseKind::SaslHandshake(resp),
                    format!("re-authentication with {mechanism} instead of {old}"),
                );
            }
        }
        let exchange = match ScramHash::from_mechanism(mechanism) {
            Some(h) => Exchange::Scram(Box::new(ScramExchange::Start(h))),
            None => Exchange::Plain,
        };
        self.phase = Phase::Authenticate(mechanism.to_string(), exchange);
        SaslReply::Respond(ResponseKind::SaslHandshake(resp))
    }

    fn authenticate(&mut self, server: &SaslServer, version: i16, token: &[u8]) -> SaslReply {
        let (mechanism, exchange) = match std::mem::replace(&mut self.phase, Phase::Busy) {
            Phase::Authenticate(m, e) => (m, e),
            other => {
                self.phase = other;
                let mut resp = SaslAuthenticateResponse::default();
                resp.error_code = ResponseError::IllegalSaslState.code();
                resp.error_message = Some(StrBytes::from_static_str(
                    "SaslAuthenticate before a successful SaslHandshake",
                ));
                return SaslReply::RespondAndClose(
                    ResponseKind::SaslAuthenticate(resp),
                    "SaslAuthenticate before SaslHandshake".into(),
                );
            }
        };
        match exchange {
            Exchange::Plain => match check_plain(server, token) {
                Ok(user) => self.succeed(server, version, mechanism, user, Bytes::new()),
                Err(msg) => fail(msg),
            },
            Exchange::Scram(ex) => {
                let hash = match *ex {
                    ScramExchange::Start(h) | ScramExchange::Sent { hash: h, .. } => h,
                };
                let lookup = |user: &str| {
                    server
                        .view
                        .image()
                        .scram_credentials
                        .get(user)
                        .and_then(|m| m.get(&hash.type_id()))
                        .cloned()
                };
                match ex.step(token, lookup) {
                    ScramStep::Continue(msg, next) => {
                        self.phase =
                            Phase::Authenticate(mechanism, Exchange::Scram(Box::new(next)));
                        let mut resp = SaslAuthenticateResponse::default();
                        resp.auth_bytes = Bytes::from(msg);
                        SaslReply::Respond(ResponseKind::SaslAuthenticate(resp))
                    }
                    ScramStep::Done(user, last) => {
                        self.succeed(server, version, mechanism, user, Bytes::from(last))
                    }
                    ScramStep::Failed(msg) => fail(msg),
                }
            }
        }
    }

    fn succeed(
        &mut self,
        server: &SaslServer,
        version: i16,
        mechanism: String,
        user: String,
        last: Bytes,
    ) -> SaslReply {
        let principal = Principal {
            kind: "User".into(),
            name: user,
        };
        if let Some((old, _)) = &self.authenticated {
            if *old != principal {
                return fail(format!(
                    "Cannot change principals during re-authentication from {}:{} to {}:{}",
                    old.kind, old.name, principal.kind, principal.name
                ));
            }
        }
        self.phase = Phase::Handshake;
        self.authenticated = Some((principal, mechanism));
        self.authentications += 1;
        let lifetime = server.reauth_ms.max(0);
        self.expires_at =
            (lifetime > 0).then(|| Instant::now() + Duration::from_millis(lifetime.unsigned_abs()));
        let mut resp = SaslAuthenticateResponse::default();
        resp.auth_bytes = last;
        if version >= 1 {
            resp.session_lifetime_ms = lifetime;
        }
        SaslReply::Respond(ResponseKind::SaslAuthenticate(resp))
    }
}

fn illegal_handshake(server: &SaslServer) -> SaslHandshakeResponse {
    let mut resp = SaslHandshakeResponse::default();
    resp.error_code = ResponseError::IllegalSaslState.code();
    resp.mechanisms = server
        .mechanisms
        .iter()
        .map(|m| StrBytes::from_string(m.clone()))
        .collect();
    resp
}

fn fail(message: String) -> SaslReply {
    let mut resp = SaslAuthenticateResponse::default();
    resp.error_code = ResponseError::SaslAuthenticationFailed.code();
    resp.error_message = Some(StrBytes::from_string(message.clone()));
    SaslReply::RespondAndClose(
        ResponseKind::SaslAuthenticate(resp),
        format!("SASL authentication failed: {message}"),
    )
}

/// PLAIN against the listener's JAAS users (see [`crate::sasl_plain`]).
fn check_plain(server: &SaslServer, token: &[u8]) -> Result<String, String> {
    crate::sasl_plain::check_plain(&server.plain_users, token)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
