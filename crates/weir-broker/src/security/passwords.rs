//! A user name and password checked against the users SASL authenticates, for logins that are
//! not a SASL exchange (the HTTP console's Basic authentication): the PLAIN users of the SASL
//! listeners' JAAS configs (`listener.name.<l>.plain.sasl.jaas.config`) and the SCRAM
//! credentials of the replicated metadata (`weir users` / AlterUserScramCredentials).
//!
//! A SCRAM password is verified as the SCRAM exchange does, without the password ever being
//! stored: `Hi(password, salt, iterations)` with the credential's salt and iterations gives
//! the StoredKey, compared in constant time. That derivation is deliberately slow (4096–16384
//! PBKDF2 rounds), so a successful check is remembered — as a keyed hash of the password (the
//! key is random per process) together with the credentials it was checked against — and a
//! repeated login is answered from memory while the user's credentials in the metadata are
//! unchanged. Changing or deleting them forgets it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use rand::RngCore;
use subtle::ConstantTimeEq;
use weir_meta::scram::{ScramCredential, ScramHash};

use crate::config::security::{Secret, SecurityConfig};
use crate::metadata::view::MetadataView;

/// At most this many remembered logins; the memory is cleared when it is full.
const MAX_REMEMBERED: usize = 1024;

/// A user's SCRAM credentials by mechanism type id.
type Credentials = BTreeMap<i8, ScramCredential>;

/// Checks passwords against the broker's SASL users (see the module docs).
pub struct PasswordVerifier {
    plain: BTreeMap<String, Secret>,
    view: Arc<MetadataView>,
    key: [u8; 32],
    remembered: Mutex<HashMap<String, (Vec<u8>, Credentials)>>,
}

impl std::fmt::Debug for PasswordVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordVerifier")
            .field("plain_users", &self.plain.len())
            .finish()
    }
}

impl PasswordVerifier {
    /// The PLAIN users of every SASL listener of `security` that enables PLAIN (a user named by
    /// two listeners has the password of the first by listener name), and the SCRAM
    /// credentials of `view`'s current image at each check.
    pub fn new(security: &SecurityConfig, view: Arc<MetadataView>) -> Self {
        let mut plain = BTreeMap::new();
        for l in security.listeners.values() {
            if l.protocol.uses_sasl() && l.sasl_mechanisms.iter().any(|m| m == "PLAIN") {
                for (user, pw) in &l.plain_users {
                    plain.entry(user.clone()).or_insert_with(|| pw.clone());
                }
            }
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        PasswordVerifier {
            plain,
            view,
            key,
            remembered: Mutex::new(HashMap::new()),
        }
    }

    /// True when `password` is `user`'s: the PLAIN password of the JAAS config, or one that
    /// derives the stored SCRAM credential of either mechanism. May take tens of milliseconds
    /// (PBKDF2) the first time: call it off the async runtime's worker threads.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        if user.is_empty() {
            return false;
        }
        if let Some(expected) = self.plain.get(user) {
            if bool::from(expected.0.as_bytes().ct_eq(password.as_bytes())) {
                return true;
            }
        }
        let Some(creds) = self.view.image().scram_credentials.get(user).cloned() else {
            return false;
        };
        let tag = ScramHash::Sha256.hmac(&self.key, password.as_bytes());
        if let Ok(mem) = self.remembered.lock() {
            if let Some((t, c)) = mem.get(user) {
                if *c == creds && bool::from(t.ct_eq(&tag)) {
                    return true;
                }
            }
        }
        let ok = creds.iter().any(|(id, c)| scram_matches(*id, c, password));
        if ok {
            if let Ok(mut mem) = self.remembered.lock() {
                if mem.len() >= MAX_REMEMBERED {
                    mem.clear();
                }
                mem.insert(user.to_string(), (tag, creds));
            }
        }
        ok
    }
}

/// True when `password` derives `cred` under the mechanism `type_id`.
fn scram_matches(type_id: i8, cred: &ScramCredential, password: &str) -> bool {
    let Some(hash) = ScramHash::from_type(type_id) else {
        return false;
    };
    let Ok(iterations) = u32::try_from(cred.iterations) else {
        return false;
    };
    let salted = hash.salted_password(password.as_bytes(), &cred.salt, iterations);
    let derived = hash.credential(&salted, &cred.salt, cred.iterations);
    bool::from(derived.stored_key.ct_eq(&cred.stored_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scram_password_matches_only_its_credential() {
        for h in [ScramHash::Sha256, ScramHash::Sha512] {
            let salt = b"salt-of-the-earth".to_vec();
            let cred = h.credential(&h.salted_password(b"s3cret", &salt, 4096), &salt, 4096);
            assert!(scram_matches(h.type_id(), &cred, "s3cret"));
            assert!(!scram_matches(h.type_id(), &cred, "s3cret "));
            assert!(!scram_matches(h.type_id(), &cred, ""));
            assert!(!scram_matches(9, &cred, "s3cret"));
            let negative = ScramCredential {
                iterations: -1,
                ..cred
            };
            assert!(!scram_matches(h.type_id(), &negative, "s3cret"));
        }
    }
}
