//! Group configs (resource type GROUP, KIP-848 / KIP-932) as metadata records: the new set of
//! a group's overrides, validated by the caller, committed as `SetConfig { Group }` records.

use std::collections::BTreeMap;

use tokio::time::Instant;
use weir_meta::records::ConfigResource;

use super::topics::TopicAdmin;
use crate::error::BrokerError;

impl TopicAdmin {
    /// The overrides of `group` in the current image (empty when none).
    pub fn group_configs(&self, group: &str) -> BTreeMap<String, String> {
        self.view
            .image()
            .group_configs
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    /// Replace `group`'s overrides by `next` (already validated): one `SetConfig` record per
    /// changed key, returning once applied here (or by `deadline`).
    pub async fn set_group_configs(
        &self,
        group: &str,
        next: BTreeMap<String, String>,
        deadline: Instant,
    ) -> Result<(), BrokerError> {
        let old = self.group_configs(group);
        let resource = ConfigResource::Group(group.to_string());
        let records = super::config_records::config_changes(&resource, &old, &next);
        if records.is_empty() {
            return Ok(());
        }
        self.commit(records, deadline, |img| {
            img.group_configs.get(group).cloned().unwrap_or_default() == next
        })
        .await
    }
}
