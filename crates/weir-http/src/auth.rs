//! Login and ACLs for the console and its API. When the broker's security is on — a SASL
//! listener, or an authorizer (`authorizer.class.name`) — every console page and `/api/v1`
//! call needs HTTP Basic authentication against the broker's SASL users (PLAIN users of the
//! JAAS configs, SCRAM credentials of the metadata; see
//! [`weir_broker::security::passwords`]): 401 with `WWW-Authenticate: Basic realm="weir"`
//! without credentials or with wrong ones. The handler then gets the caller as [`Caller`], the
//! principal `User:<name>` under the same authorizer as Kafka requests, and refuses what the
//! ACLs deny with 403. `/health`, `/ready` and `/metrics` stay open (they are not routed
//! through [`require_login`]).
//!
//! Without security every caller is anonymous and allowed everything (as a Kafka client of a
//! PLAINTEXT listener without an authorizer).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use weir_broker::authz::Authz;
use weir_broker::config::security::SecurityConfig;
use weir_broker::security::passwords::PasswordVerifier;
use weir_broker::Broker;
use weir_meta::acl::{AclOperation, ResourceType};

use crate::error::ApiError;
use crate::state::HttpState;

/// Password checks running at once: a SCRAM check derives a key (thousands of PBKDF2 rounds),
/// so a flood of wrong passwords is queued here rather than taking every core.
static CHECKING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The `WWW-Authenticate` challenge.
pub const CHALLENGE: &str = "Basic realm=\"weir\", charset=\"UTF-8\"";

/// The authenticated caller of a console request and what the ACLs let it do.
#[derive(Clone)]
pub struct Caller {
    authz: Authz,
}

impl Caller {
    /// May the caller do `op` on the resource, else 403 naming what was refused.
    pub fn require(
        &self,
        op: AclOperation,
        kind: ResourceType,
        name: &str,
    ) -> Result<(), ApiError> {
        if self.authz.allows(op, kind, name) {
            return Ok(());
        }
        Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "{} is not authorized to {op} {kind} {name}",
                self.authz.principal()
            ),
        ))
    }

    /// True when the caller may do `op` on topic `name`.
    pub fn topic(&self, op: AclOperation, name: &str) -> bool {
        self.authz.topic(op, name)
    }

    /// True when the caller may do `op` on group `name`.
    pub fn group(&self, op: AclOperation, name: &str) -> bool {
        self.authz.group(op, name)
    }
}

/// True when the broker's security is on: any SASL listener, or an authorizer.
pub fn login_required(security: &SecurityConfig, authorizer_enabled: bool) -> bool {
    authorizer_enabled || security.listeners.values().any(|l| l.protocol.uses_sasl())
}

/// `user` and `password` of an `Authorization: Basic …` header; None when absent or malformed.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(B64.decode(token.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Middleware of the console and API routes: admit the request with its [`Caller`], or answer
/// 401 (503 while the broker is still opening: its users are not known yet).
pub async fn require_login(State(s): State<HttpState>, mut req: Request, next: Next) -> Response {
    let b = match s.open_broker() {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let host = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let user = if login_required(&b.config.security, b.config.authorizer.enabled) {
        match authenticate(&s, &b, req.headers()).await {
            Some(user) => user,
            None => return unauthorized(),
        }
    } else {
        "ANONYMOUS".to_string()
    };
    let authz = Authz::new(&b.config.authorizer, &b.view, ("User", &user), host);
    req.extensions_mut().insert(Caller { authz });
    next.run(req).await
}

/// The user name when the request's Basic credentials are right.
async fn authenticate(s: &HttpState, b: &Arc<Broker>, headers: &HeaderMap) -> Option<String> {
    let (user, password) = basic_credentials(headers)?;
    let verifier = s
        .passwords
        .get_or_init(|| Arc::new(PasswordVerifier::new(&b.config.security, b.view.clone())))
        .clone();
    let name = user.clone();
    // PBKDF2 for a SCRAM user's first login: off the runtime's worker threads, two at a time.
    let Ok(_permit) = CHECKING.acquire().await else {
        return None;
    };
    let ok = tokio::task::spawn_blocking(move || verifier.verify(&name, &password))
        .await
        .unwrap_or(false);
    if ok {
        Some(user)
    } else {
        tracing::debug!(%user, "console login refused");
        None
    }
}

/// 401 with the Basic challenge (and a JSON `{"error": …}` body, as every API error).
fn unauthorized() -> Response {
    (
        [(header::WWW_AUTHENTICATE, CHALLENGE)],
        ApiError(
            StatusCode::UNAUTHORIZED,
            "log in with a user of the broker's SASL configuration (PLAIN or SCRAM)".into(),
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn parses_basic_credentials_and_refuses_anything_else() {
        let token = B64.encode("alice:pa:ss");
        assert_eq!(
            basic_credentials(&with(&format!("Basic {token}"))),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(
            basic_credentials(&with(&format!("basic  {token}"))).map(|c| c.0),
            Some("alice".into())
        );
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
        assert_eq!(basic_credentials(&with("Bearer abc")), None);
        assert_eq!(basic_credentials(&with("Basic !!!")), None);
        assert_eq!(
            basic_credentials(&with(&format!("Basic {}", B64.encode("nocolon")))),
            None
        );
        assert_eq!(
            basic_credentials(&with(&format!("Basic {}", B64.encode([0xff, b':'])))),
            None
        );
    }
}
