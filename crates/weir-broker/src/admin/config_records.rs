//! The metadata records of a config change, shared by the topic, group and broker config admins.

use std::collections::BTreeMap;

use weir_meta::records::{ConfigResource, MetadataRecord};

/// The SetConfig records that turn `old` into `next` for `resource`: a removal for each key
/// `next` lacks, then each new or changed value; empty when nothing changes.
pub fn config_changes(
    resource: &ConfigResource,
    old: &BTreeMap<String, String>,
    next: &BTreeMap<String, String>,
) -> Vec<MetadataRecord> {
    let set = |key: &String, value: Option<&String>| MetadataRecord::SetConfig {
        resource: resource.clone(),
        key: key.clone(),
        value: value.cloned(),
    };
    let removed = old
        .keys()
        .filter(|k| !next.contains_key(*k))
        .map(|k| set(k, None));
    let changed = next
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(v))
        .map(|(k, v)| set(k, Some(v)));
    removed.chain(changed).collect()
}
