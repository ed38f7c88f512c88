//! Resolution of dynamic over static over default broker configs.

use super::*;
use weir_meta::records::{ConfigResource, MetadataRecord};

fn set(img: &mut MetadataImage, resource: ConfigResource, key: &str, value: &str) {
    img.apply(&MetadataRecord::SetConfig {
        resource,
        key: key.into(),
        value: Some(value.into()),
    })
    .unwrap();
}

fn configured(flags: &[(&str, &str)]) -> BrokerConfig {
    let flags: Vec<(String, String)> = flags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    BrokerConfig::from_sources(None, &[], &flags).unwrap()
}

#[test]
fn per_broker_beats_cluster_default_beats_static_beats_default() {
    let config = configured(&[("log.segment.bytes", "2097152")]);
    let mut img = MetadataImage::default();
    let layers = Layers::new(&config, &img, 1);
    assert_eq!(
        layers.value("log.segment.bytes"),
        Some((Layer::Static, Some("2097152".into())))
    );
    assert_eq!(
        layers.value("log.retention.bytes"),
        Some((Layer::Default, Some("-1".into())))
    );
    set(
        &mut img,
        ConfigResource::BrokerDefault,
        "log.segment.bytes",
        "3145728",
    );
    set(
        &mut img,
        ConfigResource::Broker(2),
        "log.segment.bytes",
        "4194304",
    );
    let one = Layers::new(&config, &img, 1);
    assert_eq!(
        one.topic_default("segment.bytes"),
        Some(("3145728".into(), Layer::DynamicDefault))
    );
    assert_eq!(one.log_defaults().unwrap().segment_bytes, 3145728);
    let two = Layers::new(&config, &img, 2);
    assert_eq!(two.log_defaults().unwrap().segment_bytes, 4194304);
    let syn: Vec<(String, Layer)> = two
        .topic_synonyms("segment.bytes")
        .into_iter()
        .map(|s| (s.name, s.layer))
        .collect();
    let name = "log.segment.bytes".to_string();
    assert_eq!(
        syn,
        vec![
            (name.clone(), Layer::DynamicBroker),
            (name.clone(), Layer::DynamicDefault),
            (name.clone(), Layer::Static),
            (name, Layer::Default),
        ]
    );
}

#[test]
fn the_name_comes_before_the_layer_in_a_synonym_chain() {
    let config = configured(&[("log.retention.ms", "5000")]);
    let mut img = MetadataImage::default();
    set(
        &mut img,
        ConfigResource::BrokerDefault,
        "log.retention.hours",
        "1",
    );
    let layers = Layers::new(&config, &img, 1);
    assert_eq!(layers.log_defaults().unwrap().retention_ms, 5000);
    assert_eq!(
        layers.topic_default("retention.ms"),
        Some(("5000".into(), Layer::Static))
    );
    set(
        &mut img,
        ConfigResource::Broker(1),
        "log.retention.minutes",
        "2",
    );
    let layers = Layers::new(&config, &img, 1);
    assert_eq!(layers.log_defaults().unwrap().retention_ms, 5000, "ms wins");
    let config = configured(&[]);
    let layers = Layers::new(&config, &img, 1);
    assert_eq!(layers.log_defaults().unwrap().retention_ms, 120_000);
    assert_eq!(
        layers.topic_default("retention.ms"),
        Some(("120000".into(), Layer::DynamicBroker)),
        "in ms, from the first synonym (minutes)"
    );
}

#[test]
fn static_only_layers_give_the_start_up_defaults() {
    let config = configured(&[("log.roll.hours", "2"), ("min.insync.replicas", "2")]);
    let layers = Layers::static_only(&config);
    assert_eq!(layers.log_defaults().unwrap(), config.log_defaults);
    assert_eq!(layers.log_defaults().unwrap().segment_ms, 7_200_000);
    assert_eq!(layers.min_insync_replicas(), Some(2));
    assert_eq!(
        layers.value("log.roll.ms"),
        Some((Layer::Default, None)),
        "null default"
    );
}
