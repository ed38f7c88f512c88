//! Metadata over the wire: auto-creation rules, invalid names, topic ids, listing all topics.

mod common;

use common::*;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;

fn by_name(name: &str, allow_auto: bool) -> MetadataRequest {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(topic_name(name));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = allow_auto;
    req
}

fn by_id(id: uuid::Uuid) -> MetadataRequest {
    let mut t = MetadataRequestTopic::default();
    t.name = None;
    t.topic_id = id;
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_create_rules_names_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut c = Client::connect(server.addr).await;

    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &by_name("a/b", true)).await;
    assert_eq!(resp.topics[0].error_code, 17, "INVALID_TOPIC_EXCEPTION");

    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &by_name("lazy", false)).await;
    assert_eq!(
        resp.topics[0].error_code, 3,
        "client disallowed auto-creation"
    );

    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &by_name("made", true)).await;
    assert_eq!(resp.topics[0].error_code, 0);
    let id = resp.topics[0].topic_id;
    // Asking again returns the same topic, same id.
    let again: MetadataResponse = c.call(ApiKey::Metadata, 12, &by_name("made", true)).await;
    assert_eq!(again.topics[0].topic_id, id);

    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &by_id(id)).await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].name.as_ref().unwrap().0.as_str(), "made");
    let resp: MetadataResponse = c
        .call(ApiKey::Metadata, 12, &by_id(uuid::Uuid::new_v4()))
        .await;
    assert_eq!(resp.topics[0].error_code, 100, "UNKNOWN_TOPIC_ID");

    // Null topics (v1+) and an empty list in v0 both mean "all topics".
    let mut all = MetadataRequest::default();
    all.topics = None;
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &all).await;
    let names: Vec<_> = resp
        .topics
        .iter()
        .map(|t| t.name.clone().unwrap().0.to_string())
        .collect();
    assert_eq!(names, vec!["made".to_string()]);
    let mut v0 = MetadataRequest::default();
    v0.topics = Some(vec![]);
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 0, &v0).await;
    assert_eq!(resp.topics.len(), 1);
    // An empty list in v1+ means no topics.
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &v0).await;
    assert!(resp.topics.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_config_can_disable_auto_creation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), |cfg| {
        cfg.auto_create_topics_enable = false;
        cfg.num_partitions = 3;
    })
    .await;
    let mut c = Client::connect(server.addr).await;
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &by_name("x", true)).await;
    assert_eq!(resp.topics[0].error_code, 3);
    // Metadata v3 has no allow_auto_topic_creation field; the broker setting still rules.
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 3, &by_name("x", true)).await;
    assert_eq!(resp.topics[0].error_code, 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_auto_creation_yields_one_topic_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), |cfg| cfg.num_partitions = 3).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &by_name("race", true)).await;
            assert_eq!(resp.topics[0].error_code, 0);
            assert_eq!(resp.topics[0].partitions.len(), 3, "num.partitions applies");
            resp.topics[0].topic_id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    server.stop().await;
}
