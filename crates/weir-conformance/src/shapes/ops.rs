//! Shapes of the operator APIs: UpdateFeatures (refused and validate-only updates, so no shape
//! changes a finalized level the others rely on), UnregisterBroker (unknown ids only: the
//! single broker of each side must stay registered), AlterReplicaLogDirs (an unknown dir, the
//! replica's own dir, a partition the broker does not hold) and the client-telemetry APIs
//! GetTelemetrySubscriptions / PushTelemetry (KIP-714).

use bytes::Bytes;
use kafka_protocol::messages::*;
use uuid::Uuid;

use super::shape::{st, topic, Ctx, Shape};
use crate::names::{DATA_TOPIC, MISSING_TOPIC};

use RequestKind as R;

/// A client instance id both brokers are sent (GetTelemetrySubscriptions, then a push).
const CLIENT_INSTANCE: Uuid = Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0001);
/// Another one, for a second push: Kafka refuses a client's pushes that come faster than its
/// push interval (THROTTLING_QUOTA_EXCEEDED, which Weir does not do) before its other checks.
const OTHER_CLIENT_INSTANCE: Uuid = Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0002);
/// GetTelemetrySubscriptions' subscription id is opaque to the client (it echoes it in its
/// pushes): Kafka derives it from the subscription and the client, Weir's empty one is 0.
pub const SUBSCRIPTION_MASK: &[&str] = &["subscription_id"];
/// A log dir neither broker has.
const NO_SUCH_DIR: &str = "/nonexistent/weir-conformance";

/// One feature update at version `v`: v0 has `allow_downgrade` (set for the downgrade upgrade
/// types 2 and 3) where v1+ has the upgrade type.
fn feature(
    v: i16,
    name: &str,
    level: i16,
    upgrade_type: i8,
) -> update_features_request::FeatureUpdateKey {
    let u = update_features_request::FeatureUpdateKey::default()
        .with_feature(st(name))
        .with_max_version_level(level);
    if v == 0 {
        u.with_allow_downgrade(upgrade_type >= 2)
    } else {
        u.with_upgrade_type(upgrade_type)
    }
}

fn update(updates: Vec<update_features_request::FeatureUpdateKey>, validate_only: bool) -> R {
    R::UpdateFeatures(
        UpdateFeaturesRequest::default()
            .with_timeout_ms(30_000)
            .with_feature_updates(updates)
            .with_validate_only(validate_only),
    )
}

fn move_replica(dir: &str, t: &str, partition: i32) -> R {
    R::AlterReplicaLogDirs(AlterReplicaLogDirsRequest::default().with_dirs(vec![
        alter_replica_log_dirs_request::AlterReplicaLogDir::default()
            .with_path(st(dir))
            .with_topics(vec![
                alter_replica_log_dirs_request::AlterReplicaLogDirTopic::default()
                    .with_name(topic(t))
                    .with_partitions(vec![partition]),
            ]),
    ]))
}

/// The broker's first log dir (where the setup's topics are).
fn own_dir(ctx: &Ctx) -> String {
    ctx.log_dirs.first().cloned().unwrap_or_default()
}

fn push(instance: Uuid, subscription_id: i32, compression_type: i8) -> R {
    R::PushTelemetry(
        PushTelemetryRequest::default()
            .with_client_instance_id(instance)
            .with_subscription_id(subscription_id)
            .with_compression_type(compression_type)
            .with_metrics(Bytes::from_static(b"not-otlp")),
    )
}

/// The scenario shapes of `key` at `v`, or None when `key` is not an operator API.
pub fn shapes(key: ApiKey, v: i16) -> Option<Vec<Shape>> {
    Some(match key {
        ApiKey::UpdateFeatures => {
            let mut s = vec![
                Shape::fixed(
                    "unknown-feature",
                    update(vec![feature(v, "conf.no.such.feature", 1, 1)], false),
                ),
                Shape::fixed(
                    "level-above-supported",
                    update(vec![feature(v, "transaction.version", 99, 1)], false),
                ),
                Shape::fixed(
                    "negative-level",
                    update(vec![feature(v, "transaction.version", -1, 3)], false),
                ),
                // A downgrade to 0 without saying so (v0: allow_downgrade false; v1+: upgrade).
                Shape::fixed(
                    "downgrade-not-allowed",
                    update(vec![feature(v, "transaction.version", 0, 1)], false),
                ),
                Shape::fixed(
                    "feature-twice",
                    update(
                        vec![
                            feature(v, "conf.no.such.feature", 1, 1),
                            feature(v, "conf.no.such.feature", 1, 1),
                        ],
                        false,
                    ),
                ),
            ];
            if v >= 1 {
                s.push(Shape::fixed(
                    "unknown-upgrade-type",
                    update(vec![feature(v, "transaction.version", 2, 9)], false),
                ));
                s.push(Shape::fixed(
                    "validate-only-safe-downgrade",
                    update(vec![feature(v, "transaction.version", 0, 2)], true),
                ));
            }
            s
        }
        ApiKey::UnregisterBroker => vec![Shape::fixed(
            "unknown-broker",
            R::UnregisterBroker(UnregisterBrokerRequest::default().with_broker_id(BrokerId(999))),
        )],
        ApiKey::AlterReplicaLogDirs => vec![
            Shape::fixed("unknown-dir", move_replica(NO_SUCH_DIR, DATA_TOPIC, 0)),
            Shape::new("own-dir", |ctx: &Ctx| {
                move_replica(&own_dir(ctx), DATA_TOPIC, 0)
            }),
            Shape::new("partition-not-held", |ctx: &Ctx| {
                move_replica(&own_dir(ctx), DATA_TOPIC, 7)
            }),
            Shape::new("unknown-topic", |ctx: &Ctx| {
                move_replica(&own_dir(ctx), MISSING_TOPIC, 0)
            }),
        ],
        ApiKey::GetTelemetrySubscriptions => vec![Shape::fixed(
            "known-instance",
            R::GetTelemetrySubscriptions(
                GetTelemetrySubscriptionsRequest::default()
                    .with_client_instance_id(CLIENT_INSTANCE),
            ),
        )
        .masking(SUBSCRIPTION_MASK)],
        ApiKey::PushTelemetry => vec![
            Shape::fixed("unknown-subscription", push(CLIENT_INSTANCE, 12_345, 0)),
            Shape::fixed("unknown-compression", push(OTHER_CLIENT_INSTANCE, 0, 9)),
        ],
        _ => return None,
    })
}
