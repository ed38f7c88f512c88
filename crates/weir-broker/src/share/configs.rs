//! Share group configs (DescribeConfigs / IncrementalAlterConfigs, resource type GROUP = 32):
//! overrides live in the metadata log as `SetConfig { resource: Group(id) }` records (Kafka
//! keeps group configs as ConfigRecords in its metadata log too), so every broker — the group
//! coordinator and every share-partition leader — sees the same values; the broker's
//! `group.share.*` configs are the defaults and bounds.

use std::collections::BTreeMap;

use weir_meta::image::MetadataImage;
use weir_share_coordinator::{ShareError, ShareGroupConfig};

use crate::config::ShareSettings;

/// The effective configs of `group` in `image` (a stored override that no longer validates,
/// e.g. after the broker's bounds were narrowed, is ignored with a warning).
pub fn group_config(
    image: &MetadataImage,
    settings: &ShareSettings,
    group: &str,
) -> ShareGroupConfig {
    let Some(overrides) = image.group_configs.get(group) else {
        return settings.defaults.clone();
    };
    match validate(settings, overrides) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(group, error = %e, "stored share group configs ignored");
            settings.defaults.clone()
        }
    }
}

/// `overrides` applied to the broker's defaults, validated against its bounds
/// (INVALID_CONFIG for unknown names and bad values).
pub fn validate(
    settings: &ShareSettings,
    overrides: &BTreeMap<String, String>,
) -> Result<ShareGroupConfig, ShareError> {
    let pairs: Vec<(&str, &str)> = overrides
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    ShareGroupConfig::parse(&settings.defaults, &pairs, &settings.bounds)
}

/// Every config of `group` as (name, value, is the default) for DescribeConfigs.
pub fn describe(
    image: &MetadataImage,
    settings: &ShareSettings,
    group: &str,
) -> Vec<(&'static str, String, bool)> {
    let overrides = image.group_configs.get(group);
    group_config(image, settings, group)
        .to_pairs()
        .into_iter()
        .map(|(k, v)| {
            let default = !overrides.is_some_and(|o| o.contains_key(k));
            (k, v, default)
        })
        .collect()
}
