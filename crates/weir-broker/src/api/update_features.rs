//! UpdateFeatures (key 57): change the finalized level of a cluster feature in the metadata log
//! (`FeatureLevel` records), which ApiVersions (Kafka's DescribeFeatures) then reports. Weir's
//! only feature is `transaction.version` (0–2). As Kafka's controller: a feature Weir does not
//! know, a level outside its supported range or below 0, and a downgrade without the SAFE or
//! UNSAFE downgrade type (v0: `allow_downgrade`) and an unknown upgrade type are
//! INVALID_UPDATE_VERSION; a feature named twice INVALID_REQUEST. The updates apply all at once
//! or not at all: on the first refusal the answer carries that error at the top level only (no
//! per-feature results, as Kafka); a success lists every feature (v0–v1) with no error.
//! `validate_only` (v1+) changes nothing.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::update_features_request::FeatureUpdateKey;
use kafka_protocol::messages::update_features_response::UpdatableFeatureResult;
use kafka_protocol::messages::{UpdateFeaturesRequest, UpdateFeaturesResponse};
use kafka_protocol::protocol::StrBytes;
use weir_meta::image::MetadataImage;

use super::api_versions::{finalized_level, SUPPORTED_FEATURES};
use crate::admin::proposal::deadline_of;
use crate::admin::topics::TopicAdmin;
use crate::error::BrokerError;

/// Validate and commit the updates.
pub async fn handle(
    admin: &TopicAdmin,
    transaction_version: i16,
    version: i16,
    req: UpdateFeaturesRequest,
) -> UpdateFeaturesResponse {
    let image = admin.image();
    let outcome = match levels(&image, transaction_version, version, &req.feature_updates) {
        Ok(_) if req.validate_only => Ok(()),
        Ok(levels) => {
            admin
                .set_feature_levels(levels, deadline_of(req.timeout_ms))
                .await
        }
        Err(e) => Err(e),
    };
    let mut resp = UpdateFeaturesResponse::default();
    let (code, message) = match &outcome {
        Ok(()) => (0, None),
        Err(e) => (e.code(), Some(StrBytes::from_string(e.message()))),
    };
    resp.error_code = code;
    resp.error_message = message.clone();
    if version < 2 && code == 0 {
        resp.results = req
            .feature_updates
            .iter()
            .map(|u| {
                let mut r = UpdatableFeatureResult::default();
                r.feature = u.feature.clone();
                r.error_code = code;
                r.error_message = message.clone();
                r
            })
            .collect();
    }
    resp
}

/// The new (feature, level) pairs, or the first refusal.
fn levels(
    image: &MetadataImage,
    transaction_version: i16,
    version: i16,
    updates: &[FeatureUpdateKey],
) -> Result<Vec<(String, i16)>, BrokerError> {
    let invalid = |name: &str, level: i16, why: &str| {
        BrokerError::kafka(
            ResponseError::InvalidUpdateVersion,
            format!("Invalid update version {level} for feature {name}. {why}"),
        )
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for u in updates {
        let name = u.feature.as_str();
        let level = u.max_version_level;
        if !seen.insert(name) {
            return Err(BrokerError::kafka(
                ResponseError::InvalidRequest,
                format!("Feature {name} appears more than once in the request"),
            ));
        }
        // v0 has `allow_downgrade`; v1+ the upgrade type (1 upgrade, 2 safe, 3 unsafe downgrade).
        let downgrade_ok = if version == 0 {
            u.allow_downgrade
        } else {
            match u.upgrade_type {
                1 => false,
                2 | 3 => true,
                t => return Err(invalid(name, level, &format!("Unknown upgrade type {t}."))),
            }
        };
        let Some(&(_, min, max)) = SUPPORTED_FEATURES.iter().find(|(n, ..)| *n == name) else {
            return Err(invalid(
                name,
                level,
                "The controller does not support the given feature.",
            ));
        };
        if level < 0 {
            return Err(invalid(
                name,
                level,
                "A feature version cannot be less than 0.",
            ));
        }
        if level != 0 && !(min..=max).contains(&level) {
            return Err(invalid(
                name,
                level,
                &format!("Weir supports versions {min}-{max}."),
            ));
        }
        let current = finalized_level(transaction_version, image, name);
        if level < current && !downgrade_ok {
            return Err(invalid(
                name,
                level,
                "Can't downgrade the version of this feature without setting the upgrade type \
                 to either safe or unsafe downgrade.",
            ));
        }
        out.push((name.to_string(), level));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(name: &str, level: i16, upgrade_type: i8) -> FeatureUpdateKey {
        let mut u = FeatureUpdateKey::default();
        u.feature = StrBytes::from_string(name.to_string());
        u.max_version_level = level;
        u.upgrade_type = upgrade_type;
        u
    }

    #[test]
    fn updates_are_validated_as_kafka_validates_them() {
        let img = MetadataImage::default();
        let check = |u: Vec<FeatureUpdateKey>| levels(&img, 2, 1, &u).map_err(|e| e.code());
        assert_eq!(
            check(vec![update("transaction.version", 2, 1)]),
            Ok(vec![("transaction.version".into(), 2)])
        );
        let iuv = ResponseError::InvalidUpdateVersion.code();
        assert_eq!(check(vec![update("transaction.version", 1, 1)]), Err(iuv));
        assert_eq!(
            check(vec![update("transaction.version", 1, 2)]),
            Ok(vec![("transaction.version".into(), 1)]),
            "a safe downgrade"
        );
        assert_eq!(check(vec![update("transaction.version", 3, 1)]), Err(iuv));
        assert_eq!(check(vec![update("transaction.version", -1, 3)]), Err(iuv));
        assert_eq!(check(vec![update("no.such.version", 1, 1)]), Err(iuv));
        assert_eq!(check(vec![update("transaction.version", 2, 9)]), Err(iuv));
        let ir = ResponseError::InvalidRequest.code();
        assert_eq!(
            check(vec![
                update("transaction.version", 2, 1),
                update("transaction.version", 2, 1)
            ]),
            Err(ir)
        );
        // v0: allow_downgrade instead of the upgrade type.
        let mut down = update("transaction.version", 0, 0);
        assert_eq!(
            levels(&img, 2, 0, &[down.clone()]).map_err(|e| e.code()),
            Err(iuv)
        );
        down.allow_downgrade = true;
        assert!(levels(&img, 2, 0, &[down]).is_ok());
    }
}
