//! SCRAM credentials (RFC 5802) as the metadata holds them, like Kafka's
//! `UserScramCredentialRecord`: per user and mechanism the salt, the iteration count and the
//! derived StoredKey / ServerKey, never the password.

use serde::{Deserialize, Serialize};

/// One user's credential for one SCRAM mechanism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    /// The random salt the salted password was derived with.
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: i32,
}

/// The SCRAM mechanisms Weir knows, by Kafka's `ScramMechanism` type id (1 = SHA-256,
/// 2 = SHA-512) and SASL name.
pub const SCRAM_MECHANISMS: &[(i8, &str)] = &[(1, "SCRAM-SHA-256"), (2, "SCRAM-SHA-512")];

/// The SASL name of a mechanism type id, if known.
pub fn mechanism_name(id: i8) -> Option<&'static str> {
    SCRAM_MECHANISMS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| *n)
}

/// Kafka's bounds on iterations (`ScramMechanism` minimum 4096, maximum 16384).
pub const MIN_ITERATIONS: i32 = 4096;
/// See [`MIN_ITERATIONS`].
pub const MAX_ITERATIONS: i32 = 16384;
