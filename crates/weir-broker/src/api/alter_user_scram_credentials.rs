//! AlterUserScramCredentials (key 51): upsert or delete users' SCRAM credentials. The client
//! sends the salt, the iteration count and the salted password (never the password); the
//! broker derives StoredKey / ServerKey and commits them to the replicated metadata.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use weir_meta::scram::{MAX_ITERATIONS, MIN_ITERATIONS};

use crate::admin::proposal::CONFIG_CHANGE_TIMEOUT;
use crate::admin::scram::ScramChange;
use crate::admin::topics::TopicAdmin;
use crate::metadata::view::MetadataView;
use weir_meta::scram::ScramHash;

type Refusal = (ResponseError, String);

/// Validate every change, commit the valid users' changes in one proposal, and answer one
/// result per user (in order of first appearance). Per user: an empty name or a bad iteration
/// count / empty salt or salted password → UNACCEPTABLE_CREDENTIAL; an unknown mechanism →
/// UNSUPPORTED_SASL_MECHANISM; the same user and mechanism twice → DUPLICATE_RESOURCE;
/// deleting a credential that does not exist → RESOURCE_NOT_FOUND.
pub async fn handle(
    admin: &TopicAdmin,
    view: &MetadataView,
    _version: i16,
    req: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let image = view.image();
    let mut order: Vec<String> = Vec::new();
    let mut refused: BTreeMap<String, Refusal> = BTreeMap::new();
    let mut changes: BTreeMap<String, Vec<ScramChange>> = BTreeMap::new();
    let mut seen: Vec<(String, i8)> = Vec::new();
    let items = req
        .deletions
        .iter()
        .map(|d| (d.name.to_string(), d.mechanism, None))
        .chain(req.upsertions.iter().map(|u| {
            (
                u.name.to_string(),
                u.mechanism,
                Some((u.iterations, u.salt.clone(), u.salted_password.clone())),
            )
        }));
    for (user, mechanism, upsert) in items {
        if !order.contains(&user) {
            order.push(user.clone());
        }
        let dup = seen.contains(&(user.clone(), mechanism));
        seen.push((user.clone(), mechanism));
        let check = || -> Result<ScramChange, Refusal> {
            if user.is_empty() {
                return Err((
                    ResponseError::UnacceptableCredential,
                    "Username must not be empty".into(),
                ));
            }
            let hash = ScramHash::from_type(mechanism).ok_or_else(|| {
                (
                    ResponseError::UnsupportedSaslMechanism,
                    format!("Unknown SCRAM mechanism {mechanism}"),
                )
            })?;
            if dup {
                return Err((
                    ResponseError::DuplicateResource,
                    "A user credential cannot be altered twice in the same request".into(),
                ));
            }
            let credential = match upsert.as_ref() {
                None => {
                    let exists = image
                        .scram_credentials
                        .get(&user)
                        .is_some_and(|m| m.contains_key(&mechanism));
                    if !exists {
                        return Err((
                            ResponseError::ResourceNotFound,
                            "Attempt to delete a user credential that does not exist".into(),
                        ));
                    }
                    None
                }
                Some((iterations, salt, salted)) => {
                    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(iterations) {
                        return Err((
                            ResponseError::UnacceptableCredential,
                            format!(
                                "Iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}"
                            ),
                        ));
                    }
                    if salt.is_empty() || salted.is_empty() {
                        return Err((
                            ResponseError::UnacceptableCredential,
                            "Salt and salted password must not be empty".into(),
                        ));
                    }
                    Some(hash.credential(salted, salt, *iterations))
                }
            };
            Ok(ScramChange {
                user: user.clone(),
                mechanism,
                credential,
            })
        };
        match check() {
            Ok(c) => changes.entry(user.clone()).or_default().push(c),
            Err(e) => {
                refused.entry(user.clone()).or_insert(e);
            }
        }
    }
    let valid: Vec<ScramChange> = changes
        .iter()
        .filter(|(u, _)| !refused.contains_key(*u))
        .flat_map(|(_, c)| c.iter().cloned())
        .collect();
    let deadline = tokio::time::Instant::now() + CONFIG_CHANGE_TIMEOUT;
    let committed = admin.alter_scram_credentials(valid, deadline).await;
    let mut resp = AlterUserScramCredentialsResponse::default();
    for user in order {
        let mut r = AlterUserScramCredentialsResult::default();
        r.user = StrBytes::from_string(user.clone());
        if let Some((code, msg)) = refused.get(&user) {
            r.error_code = code.code();
            r.error_message = Some(StrBytes::from_string(msg.clone()));
        } else if let Err(e) = &committed {
            r.error_code = e.code();
            r.error_message = Some(StrBytes::from_string(e.to_string()));
        }
        resp.results.push(r);
    }
    resp
}
