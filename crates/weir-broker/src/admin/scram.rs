//! SCRAM credentials as metadata records: AlterUserScramCredentials commits one
//! `UserScramCredential` record per upsertion or deletion, returning once this broker's image
//! shows them.

use tokio::time::Instant;
use weir_meta::records::MetadataRecord;
use weir_meta::scram::ScramCredential;

use super::topics::TopicAdmin;
use crate::error::BrokerError;

/// One validated change: set (Some) or delete (None) `user`'s credential for `mechanism`.
#[derive(Debug, Clone)]
pub struct ScramChange {
    /// User name.
    pub user: String,
    /// Mechanism type id (1 = SHA-256, 2 = SHA-512).
    pub mechanism: i8,
    /// The new credential, None to delete.
    pub credential: Option<ScramCredential>,
}

impl TopicAdmin {
    /// Apply `changes` (already validated) in one proposal, returning once applied here (or
    /// REQUEST_TIMED_OUT / NOT_CONTROLLER by `deadline`).
    pub async fn alter_scram_credentials(
        &self,
        changes: Vec<ScramChange>,
        deadline: Instant,
    ) -> Result<(), BrokerError> {
        if changes.is_empty() {
            return Ok(());
        }
        let records = changes
            .iter()
            .map(|c| MetadataRecord::UserScramCredential {
                user: c.user.clone(),
                mechanism: c.mechanism,
                credential: c.credential.clone(),
            })
            .collect();
        self.commit(records, deadline, |img| {
            changes.iter().all(|c| {
                let have = img
                    .scram_credentials
                    .get(&c.user)
                    .and_then(|m| m.get(&c.mechanism));
                have == c.credential.as_ref()
            })
        })
        .await
    }
}
