//! SCRAM credentials (RFC 5802) as the metadata holds them, like Kafka's
//! `UserScramCredentialRecord`: per user and mechanism the salt, the iteration count and the
//! derived StoredKey / ServerKey, never the password — and the RFC 5802 primitives for SHA-256
//! and SHA-512 (RFC 7677 and Kafka's SCRAM-SHA-512) that derive them, on the RustCrypto
//! `hmac`, `sha2` and `pbkdf2` crates ([`ScramHash`]).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

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

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256 (Kafka mechanism type 1).
    Sha256,
    /// SCRAM-SHA-512 (Kafka mechanism type 2).
    Sha512,
}

impl ScramHash {
    /// By SASL mechanism name.
    pub fn from_mechanism(name: &str) -> Option<Self> {
        match name {
            "SCRAM-SHA-256" => Some(ScramHash::Sha256),
            "SCRAM-SHA-512" => Some(ScramHash::Sha512),
            _ => None,
        }
    }

    /// By Kafka's `ScramMechanism` type id.
    pub fn from_type(id: i8) -> Option<Self> {
        match id {
            1 => Some(ScramHash::Sha256),
            2 => Some(ScramHash::Sha512),
            _ => None,
        }
    }

    /// Kafka's `ScramMechanism` type id.
    pub fn type_id(self) -> i8 {
        match self {
            ScramHash::Sha256 => 1,
            ScramHash::Sha512 => 2,
        }
    }

    /// `H(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, data)`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        match self {
            ScramHash::Sha256 => match Hmac::<Sha256>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
            ScramHash::Sha512 => match Hmac::<Sha512>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
        }
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with this HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramHash::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }

    /// The stored credential of a salted password: StoredKey = H(HMAC(SP, "Client Key")),
    /// ServerKey = HMAC(SP, "Server Key").
    pub fn credential(
        self,
        salted_password: &[u8],
        salt: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let client_key = self.hmac(salted_password, b"Client Key");
        ScramCredential {
            salt: salt.to_vec(),
            stored_key: self.hash(&client_key),
            server_key: self.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }
}

/// The client side of a SCRAM exchange (RFC 5802), sans I/O: `client_first`, then
/// `client_final` from the server-first message, then `check_server_final`. No channel binding
/// (`n,,`), as Kafka.
#[derive(Debug, Clone)]
pub struct ScramClient {
    hash: ScramHash,
    first_bare: String,
    nonce: String,
    server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    /// An exchange for `user` with the client nonce `nonce` (random, printable, no comma).
    pub fn new(hash: ScramHash, user: &str, nonce: &str) -> Self {
        let name = user.replace('=', "=3D").replace(',', "=2C");
        ScramClient {
            hash,
            first_bare: format!("n={name},r={nonce}"),
            nonce: nonce.to_string(),
            server_signature: None,
        }
    }

    /// The client-first message.
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.first_bare).into_bytes()
    }

    /// The client-final message (with the proof) for the server-first message.
    pub fn client_final(&mut self, server_first: &[u8], password: &str) -> Result<Vec<u8>, String> {
        let server_first =
            std::str::from_utf8(server_first).map_err(|_| "SCRAM server-first is not UTF-8")?;
        let attr = |k: &str| {
            server_first
                .split(',')
                .find_map(|a| a.strip_prefix(k).map(str::to_string))
        };
        let nonce = attr("r=")
            .filter(|n| n.starts_with(&self.nonce) && n.len() > self.nonce.len())
            .ok_or("SCRAM server-first with a bad nonce")?;
        let salt = attr("s=")
            .and_then(|s| B64.decode(s).ok())
            .ok_or("SCRAM server-first with a bad salt")?;
        let iterations: u32 = attr("i=")
            .and_then(|i| i.parse().ok())
            .filter(|i| *i >= 1)
            .ok_or("SCRAM server-first with bad iterations")?;
        let salted = self
            .hash
            .salted_password(password.as_bytes(), &salt, iterations);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{},{server_first},{without_proof}", self.first_bare);
        let client_key = self.hash.hmac(&salted, b"Client Key");
        let signature = self
            .hash
            .hmac(&self.hash.hash(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = self.hash.hmac(&salted, b"Server Key");
        self.server_signature = Some(self.hash.hmac(&server_key, auth.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Check the server-final message (`v=<server signature>`).
    pub fn check_server_final(&self, msg: &[u8]) -> Result<(), String> {
        let expected = self
            .server_signature
            .as_ref()
            .ok_or("SCRAM server-final before client-final")?;
        if msg == format!("v={}", B64.encode(expected)).as_bytes() {
            Ok(())
        } else {
            Err("the server's SCRAM signature is wrong".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7677_test_vector() {
        // RFC 7677 section 3: user "user", password "pencil".
        let h = ScramHash::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let sp = h.salted_password(b"pencil", &salt, 4096);
        let cred = h.credential(&sp, &salt, 4096);
        let auth = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let client_sig = h.hmac(&cred.stored_key, auth.as_bytes());
        let client_key = h.hmac(&sp, b"Client Key");
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_sig)
            .map(|(a, b)| a ^ b)
            .collect();
        assert_eq!(
            B64.encode(proof),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let server_sig = h.hmac(&cred.server_key, auth.as_bytes());
        assert_eq!(
            B64.encode(server_sig),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }
}
