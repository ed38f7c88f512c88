//! The server side of a SCRAM exchange (RFC 5802), two SaslAuthenticate round trips:
//! client-first → server-first (our nonce, the salt, the iterations), client-final (proof) →
//! server-final (our signature). No channel binding (`n,,` only), as Kafka.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use weir_meta::scram::ScramCredential;

use weir_meta::scram::ScramHash;

/// Where an exchange stands.
#[derive(Debug)]
pub enum ScramExchange {
    /// Waiting for the client-first message.
    Start(ScramHash),
    /// Server-first sent; waiting for the client-final message.
    Sent {
        /// Hash.
        hash: ScramHash,
        /// Who is authenticating.
        user: String,
        /// The user's stored credential.
        credential: ScramCredential,
        /// client-first-message-bare.
        client_first_bare: String,
        /// server-first-message.
        server_first: String,
        /// The gs2 header of the client-first message (for the `c=` check).
        gs2_header: String,
        /// Client nonce + server nonce.
        nonce: String,
    },
}

/// One step's result.
#[derive(Debug)]
pub enum ScramStep {
    /// Send this and wait for the next message.
    Continue(Vec<u8>, ScramExchange),
    /// Authenticated as the user; send this last message.
    Done(String, Vec<u8>),
    /// Authentication failed, with the message for SASL_AUTHENTICATION_FAILED.
    Failed(String),
}

/// `=2C` → `,`, `=3D` → `=` (RFC 5802 saslname); None on a bad escape.
fn decode_saslname(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 3) {
            Some("2C") => out.push(','),
            Some("3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn failed(hash: ScramHash) -> ScramStep {
    let mech = match hash {
        ScramHash::Sha256 => "SCRAM-SHA-256",
        ScramHash::Sha512 => "SCRAM-SHA-512",
    };
    ScramStep::Failed(format!(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {mech}"
    ))
}

impl ScramExchange {
    /// Feed the next client message; `lookup` finds a user's credential for this hash.
    pub fn step(
        self,
        msg: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> ScramStep {
        let Ok(msg) = std::str::from_utf8(msg) else {
            return ScramStep::Failed("SCRAM message is not UTF-8".into());
        };
        match self {
            ScramExchange::Start(hash) => client_first(hash, msg, lookup),
            ScramExchange::Sent {
                hash,
                user,
                credential,
                client_first_bare,
                server_first,
                gs2_header,
                nonce,
            } => {
                // client-final-message = c=<b64 gs2>,r=<nonce>[,ext...],p=<b64 proof>
                let Some((without_proof, proof)) = msg.rsplit_once(",p=") else {
                    return ScramStep::Failed("SCRAM client-final message without proof".into());
                };
                let mut attrs = without_proof.split(',');
                let c = attrs.next().and_then(|a| a.strip_prefix("c="));
                let r = attrs.next().and_then(|a| a.strip_prefix("r="));
                if c != Some(B64.encode(gs2_header.as_bytes()).as_str()) {
                    return ScramStep::Failed("SCRAM channel binding does not match".into());
                }
                if r != Some(nonce.as_str()) {
                    return ScramStep::Failed("SCRAM nonce does not match".into());
                }
                let Ok(proof) = B64.decode(proof) else {
                    return ScramStep::Failed("SCRAM proof is not base64".into());
                };
                let auth = format!("{client_first_bare},{server_first},{without_proof}");
                let client_sig = hash.hmac(&credential.stored_key, auth.as_bytes());
                if proof.len() != client_sig.len() {
                    return failed(hash);
                }
                let client_key: Vec<u8> =
                    proof.iter().zip(&client_sig).map(|(a, b)| a ^ b).collect();
                let stored = hash.hash(&client_key);
                if !bool::from(stored.ct_eq(&credential.stored_key)) {
                    return failed(hash);
                }
                let server_sig = hash.hmac(&credential.server_key, auth.as_bytes());
                ScramStep::Done(user, format!("v={}", B64.encode(server_sig)).into_bytes())
            }
        }
    }
}

fn client_first(
    hash: ScramHash,
    msg: &str,
    lookup: impl FnOnce(&str) -> Option<ScramCredential>,
) -> ScramStep {
    // gs2-header = cbind-flag "," [authzid] ","
    let mut parts = msg.splitn(3, ',');
    let (Some(cbind), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next())
    else {
        return ScramStep::Failed("bad SCRAM client-first message".into());
    };
    if cbind != "n" && cbind != "y" {
        return ScramStep::Failed("SCRAM channel binding is not supported".into());
    }
    let gs2_header = format!("{cbind},{authzid},");
    let mut user = None;
    let mut client_nonce = None;
    for attr in bare.split(',') {
        if let Some(u) = attr.strip_prefix("n=") {
            user = decode_saslname(u);
        } else if let Some(r) = attr.strip_prefix("r=") {
            client_nonce = Some(r.to_string());
        } else if attr.starts_with("m=") {
            return ScramStep::Failed("SCRAM mandatory extensions are not supported".into());
        }
    }
    let (Some(user), Some(client_nonce)) = (user, client_nonce) else {
        return ScramStep::Failed("SCRAM client-first message without user or nonce".into());
    };
    if client_nonce.is_empty() || user.is_empty() {
        return ScramStep::Failed("SCRAM client-first message with an empty user or nonce".into());
    }
    if let Some(a) = authzid.strip_prefix("a=") {
        if decode_saslname(a).as_deref() != Some(user.as_str()) {
            return ScramStep::Failed(
                "SCRAM authorization id differs from the authenticated user".into(),
            );
        }
    }
    let Some(credential) = lookup(&user) else {
        return failed(hash);
    };
    let mut server_nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut server_nonce);
    let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
    let server_first = format!(
        "r={nonce},s={},i={}",
        B64.encode(&credential.salt),
        credential.iterations
    );
    ScramStep::Continue(
        server_first.clone().into_bytes(),
        ScramExchange::Sent {
            hash,
            user,
            credential,
            client_first_bare: bare.to_string(),
            server_first,
            gs2_header,
            nonce,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_final(
        hash: ScramHash,
        password: &str,
        cfb: &str,
        server_first: &str,
    ) -> (String, Vec<u8>) {
        let attrs: Vec<&str> = server_first.split(',').collect();
        let nonce = &attrs[0][2..];
        let salt = B64.decode(&attrs[1][2..]).unwrap();
        let iters: u32 = attrs[2][2..].parse().unwrap();
        let sp = hash.salted_password(password.as_bytes(), &salt, iters);
        let without = format!("c=biws,r={nonce}");
        let auth = format!("{cfb},{server_first},{without}");
        let ck = hash.hmac(&sp, b"Client Key");
        let sig = hash.hmac(&hash.hash(&ck), auth.as_bytes());
        let proof: Vec<u8> = ck.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let ss = hash.hmac(&hash.hmac(&sp, b"Server Key"), auth.as_bytes());
        (format!("{without},p={}", B64.encode(proof)), ss)
    }

    fn run(password: &str, user: &str) -> ScramStep {
        let h = ScramHash::Sha512;
        let salt = b"saltsalt".to_vec();
        let cred = h.credential(&h.salted_password(b"secret", &salt, 4096), &salt, 4096);
        let cfb = format!("n={user},r=abc");
        let first = ScramExchange::Start(h).step(format!("n,,{cfb}").as_bytes(), |u| {
            (u == "alice").then(|| cred.clone())
        });
        let (server_first, next) = match first {
            ScramStep::Continue(m, next) => (String::from_utf8(m).unwrap(), next),
            other => return other,
        };
        let (msg, expected_sig) = client_final(h, password, &cfb, &server_first);
        match next.step(msg.as_bytes(), |_| None) {
            ScramStep::Done(u, last) => {
                assert_eq!(last, format!("v={}", B64.encode(expected_sig)).into_bytes());
                ScramStep::Done(u, last)
            }
            other => other,
        }
    }

    #[test]
    fn good_password_authenticates_bad_one_and_unknown_user_fail() {
        assert!(matches!(run("secret", "alice"), ScramStep::Done(u, _) if u == "alice"));
        assert!(matches!(run("wrong", "alice"), ScramStep::Failed(_)));
        assert!(matches!(run("secret", "bob"), ScramStep::Failed(_)));
    }

    #[test]
    fn a_replayed_client_final_message_is_refused() {
        let h = ScramHash::Sha256;
        let salt = b"pepper".to_vec();
        let cred = h.credential(&h.salted_password(b"secret", &salt, 4096), &salt, 4096);
        let lookup = |_: &str| Some(cred.clone());
        let first = b"n,,n=alice,r=fixednonce";
        let start = |()| match ScramExchange::Start(h).step(first, lookup) {
            ScramStep::Continue(m, next) => (String::from_utf8(m).unwrap(), next),
            other => panic!("{other:?}"),
        };
        let (server_first, next) = start(());
        let (recorded, _) = client_final(h, "secret", "n=alice,r=fixednonce", &server_first);
        assert!(matches!(
            next.step(recorded.as_bytes(), lookup),
            ScramStep::Done(..)
        ));
        // The same client messages on a new exchange: the server nonce differs.
        let (_, next) = start(());
        assert!(matches!(
            next.step(recorded.as_bytes(), lookup),
            ScramStep::Failed(_)
        ));
    }

    #[test]
    fn garbage_and_truncated_messages_fail_cleanly() {
        for m in ["", "n", "n,,", "p=x,,n=a,r=b", "n,,n=a", "n,,n=a=ZZ,r=x"] {
            let s = ScramExchange::Start(ScramHash::Sha256).step(m.as_bytes(), |_| None);
            assert!(matches!(s, ScramStep::Failed(_)), "{m}");
        }
        assert_eq!(decode_saslname("a=2Cb=3D").as_deref(), Some("a,b="));
    }
}
