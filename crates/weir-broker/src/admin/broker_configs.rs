//! Dynamic broker configs (BROKER resources "N" and "") as metadata records: the new set of a
//! target's dynamic configs, validated as a whole, committed as one proposal of `SetConfig`
//! records (all or nothing), returning once this broker has applied it; UnregisterBroker and UpdateFeatures, the other cluster-level changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::time::Instant;
use weir_meta::image::MetadataImage;
use weir_meta::records::MetadataRecord;

use super::topics::TopicAdmin;
use crate::config::dynamic::{self, BrokerTarget};
use crate::config::BrokerConfig;
use crate::error::BrokerError;

impl TopicAdmin {
    /// The metadata image this broker has applied.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.view.image()
    }

    /// Remove the registration of fenced broker `id` (UnregisterBroker), returning once
    /// applied here: BROKER_ID_NOT_REGISTERED when unknown, INVALID_REQUEST while it is active.
    pub async fn unregister_broker(&self, id: i32, deadline: Instant) -> Result<(), BrokerError> {
        // The same check as the state machine's, answered without a proposal.
        let mut probe = (*self.view.image()).clone();
        probe.apply(&MetadataRecord::UnregisterBroker { id })?;
        tracing::info!(broker = id, "unregistering a fenced broker");
        self.commit(
            vec![MetadataRecord::UnregisterBroker { id }],
            deadline,
            |img| !img.brokers.contains_key(&id),
        )
        .await
    }

    /// Finalize feature levels (UpdateFeatures, already validated): one proposal of
    /// `FeatureLevel` records, returning once applied here.
    pub async fn set_feature_levels(
        &self,
        levels: Vec<(String, i16)>,
        deadline: Instant,
    ) -> Result<(), BrokerError> {
        if levels.is_empty() {
            return Ok(());
        }
        tracing::info!(?levels, "finalizing feature levels");
        let records = levels
            .iter()
            .map(|(name, level)| MetadataRecord::FeatureLevel {
                name: name.clone(),
                level: *level,
            })
            .collect();
        self.commit(records, deadline, |img| {
            levels
                .iter()
                .all(|(n, l)| img.finalized_features.get(n).copied().unwrap_or(0) == *l)
        })
        .await
    }

    /// The dynamic configs of `target` in the current image (empty when none).
    pub fn broker_configs(&self, target: BrokerTarget) -> BTreeMap<String, String> {
        target.current(&self.view.image())
    }

    /// Replace `target`'s dynamic configs by `next`: validated first (unknown name →
    /// INVALID_CONFIG, read-only name → INVALID_REQUEST, bad value → INVALID_CONFIG; nothing
    /// is committed then, nor when `validate_only`), then one proposal of a `SetConfig` record
    /// per changed key.
    pub async fn set_broker_configs(
        &self,
        config: &BrokerConfig,
        target: BrokerTarget,
        next: BTreeMap<String, String>,
        validate_only: bool,
        deadline: Instant,
    ) -> Result<(), BrokerError> {
        let image = self.view.image();
        dynamic::validate(config, &image, target, &next)?;
        if validate_only {
            return Ok(());
        }
        let old = target.current(&image);
        let resource = target.resource();
        let records = super::config_records::config_changes(&resource, &old, &next);
        if records.is_empty() {
            return Ok(());
        }
        tracing::info!(?target, configs = ?next, "dynamic broker configs change");
        self.commit(records, deadline, |img| target.current(img) == next)
            .await
    }
}
