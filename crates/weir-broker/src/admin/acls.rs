//! ACLs as metadata records: creating one commits a `CreateAcl` record (a binding that already
//! exists is not stored twice), deleting commits a `RemoveAcl` per matching ACL; both return once
//! this broker's image shows the change (or by the deadline with a retriable error).

use tokio::time::Instant;
use uuid::Uuid;
use weir_meta::acl::{AclBinding, AclFilter};
use weir_meta::records::MetadataRecord;

use super::topics::TopicAdmin;
use crate::error::BrokerError;

impl TopicAdmin {
    /// The ACLs of the current image matching `filter`, by id.
    pub fn acls_matching(&self, filter: &AclFilter) -> Vec<(Uuid, AclBinding)> {
        self.view
            .image()
            .acls
            .iter()
            .filter(|(_, a)| filter.matches(a))
            .map(|(id, a)| (*id, a.clone()))
            .collect()
    }

    /// Store `acl` (already validated with [`AclBinding::invalid_reason`]); a binding that
    /// exists already is a success.
    pub async fn create_acl(&self, acl: AclBinding, deadline: Instant) -> Result<(), BrokerError> {
        if self.view.image().acls.values().any(|a| *a == acl) {
            return Ok(());
        }
        let record = MetadataRecord::CreateAcl {
            id: Uuid::new_v4(),
            acl: acl.clone(),
        };
        self.commit(vec![record], deadline, |img| {
            img.acls.values().any(|a| *a == acl)
        })
        .await
    }

    /// Remove every ACL matching `filter`; returns the removed bindings.
    pub async fn delete_acls(
        &self,
        filter: &AclFilter,
        deadline: Instant,
    ) -> Result<Vec<AclBinding>, BrokerError> {
        let matched = self.acls_matching(filter);
        if matched.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = matched.iter().map(|(id, _)| *id).collect();
        let records = ids
            .iter()
            .map(|id| MetadataRecord::RemoveAcl { id: *id })
            .collect();
        self.commit(records, deadline, |img| {
            ids.iter().all(|id| !img.acls.contains_key(id))
        })
        .await?;
        Ok(matched.into_iter().map(|(_, a)| a).collect())
    }
}
