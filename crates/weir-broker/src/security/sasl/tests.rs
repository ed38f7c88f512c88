//! The SASL session state machine, with PLAIN users and a hand-built image.

use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use uuid::Uuid;
use weir_meta::MetadataImage;

use super::*;
use crate::metadata::view::{NodeIdentity, StaticImages};

fn server(reauth_ms: i64) -> SaslServer {
    let mut users = BTreeMap::new();
    users.insert("alice".to_string(), Secret("alice-pw".into()));
    SaslServer {
        mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
        plain_users: users,
        reauth_ms,
        view: Arc::new(MetadataView::new(
            Arc::new(StaticImages::new(MetadataImage::default(), None)),
            NodeIdentity {
                node_id: 1,
                incarnation: Uuid::nil(),
                is_broker: true,
                rack: None,
                advertised: None,
                advertised_listeners: Vec::new(),
                rack_aware_selector: false,
            },
        )),
    }
}

fn handshake(mech: &str) -> RequestKind {
    let mut r = SaslHandshakeRequest::default();
    r.mechanism = StrBytes::from_string(mech.into());
    RequestKind::SaslHandshake(r)
}

fn plain(user: &str, pw: &str) -> RequestKind {
    let mut r = SaslAuthenticateRequest::default();
    r.auth_bytes = Bytes::from(format!("\0{user}\0{pw}"));
    RequestKind::SaslAuthenticate(r)
}

fn code(reply: &SaslReply) -> (i16, bool) {
    let (resp, close) = match reply {
        SaslReply::Respond(r) => (r, false),
        SaslReply::RespondAndClose(r, _) => (r, true),
    };
    let code = match resp {
        ResponseKind::SaslHandshake(r) => r.error_code,
        ResponseKind::SaslAuthenticate(r) => r.error_code,
        _ => -1,
    };
    (code, close)
}

#[tokio::test]
async fn plain_authenticates_and_gates_requests() {
    let s = server(0);
    let mut sess = SaslSession::new();
    assert!(sess.admit(ApiKey::ApiVersions).is_ok());
    assert!(sess.admit(ApiKey::Metadata).is_err());
    assert_eq!(code(&sess.handle(&s, 1, handshake("PLAIN"))), (0, false));
    assert_eq!(
        code(&sess.handle(&s, 2, plain("alice", "alice-pw"))),
        (0, false)
    );
    assert_eq!(sess.principal().unwrap().name, "alice");
    assert!(sess.admit(ApiKey::Metadata).is_ok());
}

#[tokio::test]
async fn bad_password_unknown_user_and_mechanism_close() {
    let s = server(0);
    for (user, pw) in [("alice", "nope"), ("mallory", "alice-pw"), ("", "")] {
        let mut sess = SaslSession::new();
        sess.handle(&s, 1, handshake("PLAIN"));
        assert_eq!(code(&sess.handle(&s, 2, plain(user, pw))), (58, true));
        assert!(sess.principal().is_none());
    }
    let mut sess = SaslSession::new();
    assert_eq!(code(&sess.handle(&s, 1, handshake("GSSAPI"))), (33, true));
    let mut sess = SaslSession::new();
    assert_eq!(
        code(&sess.handle(&s, 2, plain("alice", "alice-pw"))),
        (34, true)
    );
    // A truncated PLAIN token.
    let mut sess = SaslSession::new();
    sess.handle(&s, 1, handshake("PLAIN"));
    let mut r = SaslAuthenticateRequest::default();
    r.auth_bytes = Bytes::from_static(b"\0alice");
    assert_eq!(
        code(&sess.handle(&s, 2, RequestKind::SaslAuthenticate(r))),
        (58, true)
    );
    // SCRAM for a user without credentials.
    let mut sess = SaslSession::new();
    sess.handle(&s, 1, handshake("SCRAM-SHA-256"));
    let mut r = SaslAuthenticateRequest::default();
    r.auth_bytes = Bytes::from_static(b"n,,n=alice,r=abc");
    assert_eq!(
        code(&sess.handle(&s, 2, RequestKind::SaslAuthenticate(r))),
        (58, true)
    );
}

#[tokio::test]
async fn sessions_expire_and_reauthentication_keeps_the_principal() {
    let s = server(50);
    let mut sess = SaslSession::new();
    sess.handle(&s, 1, handshake("PLAIN"));
    match sess.handle(&s, 2, plain("alice", "alice-pw")) {
        SaslReply::Respond(ResponseKind::SaslAuthenticate(r)) => {
            assert_eq!(r.session_lifetime_ms, 50)
        }
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(sess.admit(ApiKey::Metadata).is_err(), "expired");
    assert_eq!(code(&sess.handle(&s, 1, handshake("PLAIN"))), (0, false));
    assert_eq!(
        code(&sess.handle(&s, 2, plain("alice", "alice-pw"))),
        (0, false)
    );
    assert!(sess.admit(ApiKey::Metadata).is_ok(), "re-authenticated");
    // Re-authenticating with another mechanism is refused.
    assert_eq!(
        code(&sess.handle(&s, 1, handshake("SCRAM-SHA-256"))),
        (34, true)
    );
}
