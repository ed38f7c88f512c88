//! UpdateFeatures (57), UnregisterBroker (64), GetTelemetrySubscriptions (71) and PushTelemetry
//! (72) at the protocol level against real `weir` processes: a client gets the empty telemetry
//! subscription and its pushes are checked and dropped; an active broker cannot be
//! unregistered, a stopped (fenced) one can, once, and is then gone from the metadata;
//! `transaction.version` is finalized through the metadata log (downgrades only when asked,
//! unknown features refused, the level survives a restart) and ApiVersions reports it.

use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::*;
use uuid::Uuid;
use weir_test_support::cluster::{
    brokers_registered, cluster_options, start_controller_and_three_brokers,
};
use weir_test_support::raw::RawClient;
use weir_test_support::{wait_until, BrokerOptions, BrokerProcess};

fn weir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weir"))
}

#[test]
fn telemetry_gets_the_empty_subscription_and_pushes_are_checked_and_dropped() {
    let b = BrokerProcess::start(weir(), BrokerOptions::default());
    let mut c = RawClient::connect(&b.bootstrap());
    let versions: ApiVersionsResponse =
        c.call(ApiKey::ApiVersions, 2, &ApiVersionsRequest::default());
    for key in [
        ApiKey::GetTelemetrySubscriptions,
        ApiKey::PushTelemetry,
        ApiKey::UnregisterBroker,
    ] {
        assert!(
            versions.api_keys.iter().any(|k| k.api_key == key as i16),
            "{key:?} advertised"
        );
    }
    let sub: GetTelemetrySubscriptionsResponse = c.call(
        ApiKey::GetTelemetrySubscriptions,
        0,
        &GetTelemetrySubscriptionsRequest::default(),
    );
    assert_eq!(sub.error_code, 0);
    assert!(!sub.client_instance_id.is_nil(), "a new client gets an id");
    assert!(sub.requested_metrics.is_empty(), "no metrics are requested");
    assert!(sub.push_interval_ms > 0);

    let mut push = PushTelemetryRequest::default();
    push.client_instance_id = sub.client_instance_id;
    push.subscription_id = sub.subscription_id;
    push.terminating = true;
    push.metrics = bytes::Bytes::from_static(b"opaque OTLP bytes");
    let ok: PushTelemetryResponse = c.call(ApiKey::PushTelemetry, 0, &push);
    assert_eq!(ok.error_code, 0);
    push.subscription_id += 1;
    let stale: PushTelemetryResponse = c.call(ApiKey::PushTelemetry, 0, &push);
    assert_eq!(stale.error_code, 117, "UNKNOWN_SUBSCRIPTION_ID");
    push.client_instance_id = Uuid::nil();
    let anon: PushTelemetryResponse = c.call(ApiKey::PushTelemetry, 0, &push);
    assert_eq!(anon.error_code, 42, "INVALID_REQUEST");

    // The only broker is active: it cannot be unregistered; an unknown id is not registered.
    let unregister = |c: &mut RawClient, id: i32| -> UnregisterBrokerResponse {
        let mut r = UnregisterBrokerRequest::default();
        r.broker_id = BrokerId(id);
        c.call(ApiKey::UnregisterBroker, 0, &r)
    };
    assert_eq!(unregister(&mut c, 1).error_code, 42, "active broker");
    assert_eq!(
        unregister(&mut c, 9).error_code,
        102,
        "BROKER_ID_NOT_REGISTERED"
    );
}

#[test]
fn a_stopped_broker_is_unregistered_once() {
    let mut nodes = start_controller_and_three_brokers(weir(), cluster_options());
    let mut c = RawClient::connect(&nodes[1].bootstrap());
    let unregister = |c: &mut RawClient, id: i32| -> UnregisterBrokerResponse {
        let mut r = UnregisterBrokerRequest::default();
        r.broker_id = BrokerId(id);
        c.call(ApiKey::UnregisterBroker, 0, &r)
    };
    let active = unregister(&mut c, 4);
    assert_eq!(active.error_code, 42, "{:?}", active.error_message);
    nodes[3].stop();
    assert!(
        wait_until(Duration::from_secs(20), || brokers_registered(&nodes[1])
            == 2),
        "broker 4 fenced"
    );
    let done = unregister(&mut c, 4);
    assert_eq!(done.error_code, 0, "{:?}", done.error_message);
    assert_eq!(unregister(&mut c, 4).error_code, 102, "already gone");
    let mut req = DescribeClusterRequest::default();
    req.include_cluster_authorized_operations = false;
    let cluster: DescribeClusterResponse = c.call(ApiKey::DescribeCluster, 0, &req);
    let ids: Vec<i32> = cluster.brokers.iter().map(|b| b.broker_id.0).collect();
    assert!(!ids.contains(&4), "{ids:?}");
}

#[test]
fn update_features_finalizes_transaction_version_in_the_metadata() {
    let mut b = BrokerProcess::start(weir(), BrokerOptions::default());
    let describe = |c: &mut RawClient| -> i16 {
        let mut req = ApiVersionsRequest::default();
        req.client_software_name = "weir-test".into();
        req.client_software_version = "1".into();
        let resp: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &req);
        resp.finalized_features
            .iter()
            .find(|f| f.name.as_str() == "transaction.version")
            .map_or(0, |f| f.max_version_level)
    };
    let update = |c: &mut RawClient, level: i16, upgrade_type: i8| -> UpdateFeaturesResponse {
        let mut u = update_features_request::FeatureUpdateKey::default();
        u.feature = "transaction.version".into();
        u.max_version_level = level;
        u.upgrade_type = upgrade_type;
        let mut req = UpdateFeaturesRequest::default();
        req.timeout_ms = 10_000;
        req.feature_updates = vec![u];
        c.call(ApiKey::UpdateFeatures, 1, &req)
    };
    let mut c = RawClient::connect(&b.bootstrap());
    assert_eq!(describe(&mut c), 2, "the static level");
    let refused = update(&mut c, 1, 1);
    assert_eq!(refused.error_code, 95, "a downgrade typed as an upgrade");
    assert!(
        refused.results.is_empty(),
        "as Kafka: a refusal is the top-level error only"
    );
    assert_eq!(describe(&mut c), 2, "nothing applied");
    let mut unknown = UpdateFeaturesRequest::default();
    let mut u = update_features_request::FeatureUpdateKey::default();
    u.feature = "no.such.version".into();
    u.max_version_level = 1;
    u.upgrade_type = 1;
    unknown.feature_updates = vec![u];
    let r: UpdateFeaturesResponse = c.call(ApiKey::UpdateFeatures, 1, &unknown);
    assert_eq!(r.error_code, 95, "unknown feature");
    assert_eq!(update(&mut c, 1, 2).error_code, 0, "a safe downgrade");
    assert_eq!(describe(&mut c), 1);
    // The level is in the metadata log: a restart keeps it (the static config says 2).
    b.stop();
    b.restart();
    let mut c = RawClient::connect(&b.bootstrap());
    assert_eq!(describe(&mut c), 1);
}
