//! Transport security and authentication of client connections: TLS (`tls`), the mTLS
//! principal (`principal`), SASL (`sasl`), and the per-connection gate the connection asks
//! before serving each request.
//!
//! The other direction, this broker's connections to other brokers, is `crate::inter_broker`;
//! the rustls configurations of both are built by `crate::tls_config`. Logins that are not a
//! SASL exchange (the HTTP console's) check a password against the same users with
//! [`passwords::PasswordVerifier`].
//!
//! A listener's [`ListenerSecurityRuntime`] is built once at start-up from its
//! [`ListenerSecurity`] config (so a bad key or trust store stops the broker with a clear
//! error). Each connection then owns a [`ConnectionSecurity`]: after the TLS handshake it holds
//! the certificate principal; on SASL listeners it owns the SASL session, which answers
//! SaslHandshake/SaslAuthenticate and refuses everything but ApiVersions before authentication.

pub mod passwords;
pub mod principal;
pub mod sasl;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use crate::api::Principal;
use crate::config::principal_rules::PrincipalRules;
use crate::config::security::{ListenerSecurity, SecurityProtocol};
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use sasl::{SaslReply, SaslServer, SaslSession};

/// What a listener needs at run time to secure its connections.
pub struct ListenerSecurityRuntime {
    /// The listener's protocol.
    pub protocol: SecurityProtocol,
    /// The TLS acceptor of SSL / SASL_SSL listeners.
    pub tls: Option<TlsAcceptor>,
    /// The SASL settings of SASL_PLAINTEXT / SASL_SSL listeners.
    pub sasl: Option<Arc<SaslServer>>,
    /// `ssl.principal.mapping.rules`.
    pub principal_mapping_rules: PrincipalRules,
}

impl std::fmt::Debug for ListenerSecurityRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerSecurityRuntime")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|s| &s.mechanisms))
            .finish()
    }
}

impl ListenerSecurityRuntime {
    /// PLAINTEXT: no TLS, no SASL.
    pub fn plaintext() -> Self {
        ListenerSecurityRuntime {
            protocol: SecurityProtocol::Plaintext,
            tls: None,
            sasl: None,
            principal_mapping_rules: PrincipalRules::default(),
        }
    }

    /// Build from the listener's config: reads and checks the PEM files (errors are config
    /// errors naming the key).
    pub fn build(
        sec: &ListenerSecurity,
        reauth_ms: i64,
        view: Arc<MetadataView>,
    ) -> Result<Self, BrokerError> {
        let tls = match &sec.tls {
            Some(t) if sec.protocol.uses_tls() => Some(crate::tls_config::acceptor(t)?),
            _ => None,
        };
        let sasl = sec.protocol.uses_sasl().then(|| {
            Arc::new(SaslServer {
                mechanisms: sec.sasl_mechanisms.clone(),
                plain_users: sec.plain_users.clone(),
                reauth_ms,
                view,
            })
        });
        Ok(ListenerSecurityRuntime {
            protocol: sec.protocol,
            tls,
            sasl,
            principal_mapping_rules: PrincipalRules::parse(&sec.principal_mapping_rules)
                .map_err(|e| BrokerError::Config(format!("ssl.principal.mapping.rules: {e}")))?,
        })
    }
}

/// What the connection does with one decoded request.
#[derive(Debug)]
pub enum Gate {
    /// Serve it as this principal.
    Serve(RequestKind, Principal),
    /// Answer it with this response (a SASL request); close afterwards when the reason is set.
    Answer(ResponseKind, Option<String>),
    /// Close the connection without an answer, for this reason.
    Close(String),
}

/// One connection's authentication state.
#[derive(Debug)]
pub struct ConnectionSecurity {
    peer: SocketAddr,
    transport_principal: Principal,
    sasl: Option<(Arc<SaslServer>, SaslSession)>,
}

impl ConnectionSecurity {
    /// A connection on a listener with `sasl` (if any), whose transport authenticated
    /// `transport_principal` (the mTLS certificate's, else `User:ANONYMOUS`).
    pub fn new(
        peer: SocketAddr,
        sasl: Option<Arc<SaslServer>>,
        transport_principal: Principal,
    ) -> Self {
        ConnectionSecurity {
            peer,
            transport_principal,
            sasl: sasl.map(|s| (s, SaslSession::new())),
        }
    }

    /// Decide what happens to a request.
    pub fn gate(&mut self, api_key: ApiKey, version: i16, body: RequestKind) -> Gate {
        let Some((server, session)) = &mut self.sasl else {
            if SaslSession::handles(api_key) {
                // As Kafka: answered, and the connection stays open.
                debug!(peer = %self.peer, ?api_key, "SASL request on a listener without SASL");
                return Gate::Answer(not_a_sasl_listener(api_key), None);
            }
            return Gate::Serve(body, self.transport_principal.clone());
        };
        if SaslSession::handles(api_key) {
            let before = session.authentications();
            let reply = session.handle(server, version, body);
            if session.authentications() > before {
                let peer = self.peer;
                let principal = session
                    .principal()
                    .map(|p| format!("{}:{}", p.kind, p.name));
                if before == 0 {
                    debug!(%peer, principal = principal.as_deref().unwrap_or(""), "SASL authenticated");
                } else {
                    debug!(%peer, principal = principal.as_deref().unwrap_or(""), "SASL re-authenticated");
                }
            }
            return match reply {
                SaslReply::Respond(r) => Gate::Answer(r, None),
                SaslReply::RespondAndClose(r, why) => Gate::Answer(r, Some(why)),
            };
        }
        if let Err(why) = session.admit(api_key) {
            return Gate::Close(why);
        }
        let principal = session
            .principal()
            .cloned()
            .unwrap_or_else(Principal::anonymous);
        Gate::Serve(body, principal)
    }
}

/// SaslHandshake / SaslAuthenticate on a PLAINTEXT or SSL listener: ILLEGAL_SASL_STATE, with
/// Kafka's answers (its request handlers answer these once a connection has authenticated, which
/// a connection without SASL has; no mechanism list, Kafka's message).
fn not_a_sasl_listener(api_key: ApiKey) -> ResponseKind {
    let code = ResponseError::IllegalSaslState.code();
    if api_key == ApiKey::SaslHandshake {
        let mut r = SaslHandshakeResponse::default();
        r.error_code = code;
        ResponseKind::SaslHandshake(r)
    } else {
        let mut r = SaslAuthenticateResponse::default();
        r.error_code = code;
        r.error_message = Some(StrBytes::from_static_str(
            "SaslAuthenticate request received after successful authentication",
        ));
        ResponseKind::SaslAuthenticate(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};

    #[test]
    fn sasl_requests_on_a_listener_without_sasl_are_answered_and_keep_the_connection() {
        let mut c =
            ConnectionSecurity::new("127.0.0.1:1".parse().unwrap(), None, Principal::anonymous());
        let hs = RequestKind::SaslHandshake(SaslHandshakeRequest::default());
        let Gate::Answer(ResponseKind::SaslHandshake(r), None) =
            c.gate(ApiKey::SaslHandshake, 1, hs)
        else {
            panic!("answered, connection kept");
        };
        assert_eq!(r.error_code, ResponseError::IllegalSaslState.code());
        assert!(r.mechanisms.is_empty());
        let auth = RequestKind::SaslAuthenticate(SaslAuthenticateRequest::default());
        let Gate::Answer(ResponseKind::SaslAuthenticate(r), None) =
            c.gate(ApiKey::SaslAuthenticate, 2, auth)
        else {
            panic!("answered, connection kept");
        };
        assert_eq!(r.error_code, ResponseError::IllegalSaslState.code());
        // The connection goes on serving.
        let meta = RequestKind::Metadata(Default::default());
        assert!(matches!(
            c.gate(ApiKey::Metadata, 12, meta),
            Gate::Serve(..)
        ));
    }
}
