//! The SASL/PLAIN credential check, shared by the client listeners' SASL sessions
//! (`crate::security::sasl`) and the CONTROLLER listener (`crate::controller_transport`).

use std::collections::BTreeMap;

use subtle::ConstantTimeEq;

use crate::config::security::Secret;

/// Check a PLAIN (RFC 4616) token: `[authzid] NUL authcid NUL passwd`, against `users` (the
/// `user_<name>` entries of a listener's JAAS config), in constant time per password: the user
/// name, or the message Kafka answers a failure with.
pub fn check_plain(users: &BTreeMap<String, Secret>, token: &[u8]) -> Result<String, String> {
    let mut parts = token.split(|b| *b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Invalid SASL/PLAIN response: expected 3 tokens".into());
    };
    let user = std::str::from_utf8(user).map_err(|_| "Invalid SASL/PLAIN user name")?;
    if user.is_empty() {
        return Err("Authentication failed: username not specified".into());
    }
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err("Authentication failed: Client requested an authorization id that is different from username".into());
    }
    let ok = users
        .get(user)
        .is_some_and(|expected| bool::from(expected.0.as_bytes().ct_eq(password)));
    if ok {
        Ok(user.to_string())
    } else {
        Err("Authentication failed: Invalid username or password".into())
    }
}
