//! Produce a test message from the console (`POST /api/v1/topics/{name}/messages` with
//! `{"partition": 0, "key": "k", "value": "v", "headers": {"h": "x"}}`): one record as an
//! uncompressed batch through the broker's Produce handler (acks=all), exactly as a client's.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use serde::{Deserialize, Serialize};
use weir_log::batch::build_batch_with_headers;
use weir_meta::acl::{AclOperation, ResourceType};

use super::common::{broker, ApiError};
use crate::auth::Caller;
use crate::state::HttpState;

/// The most bytes of key + value + headers one test message may have.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Produce v9: topics by name, acks=all.
const PRODUCE_VERSION: i16 = 9;

/// One test message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Partition (default 0).
    pub partition: Option<i32>,
    /// Key as UTF-8 text; absent or null for a null key.
    pub key: Option<String>,
    /// Value as UTF-8 text.
    pub value: String,
    /// Headers as UTF-8 text.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Where it went.
#[derive(Debug, Serialize)]
pub struct Produced {
    /// Partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// Append the message; 400 with Kafka's error name when the broker refuses it (not the
/// leader, unknown topic or partition, too large, …); 403 without WRITE on the topic.
pub async fn produce(
    State(s): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<NewMessage>, JsonRejection>,
) -> Result<Json<Produced>, ApiError> {
    caller.require(AclOperation::Write, ResourceType::Topic, &name)?;
    let Json(m) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let size = m.key.as_ref().map_or(0, String::len)
        + m.value.len()
        + m.headers
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    if size > MAX_MESSAGE_BYTES {
        return Err(ApiError::bad_request(format!(
            "a test message has at most {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    let partition = m.partition.unwrap_or(0);
    let b = broker(&s)?;
    if b.view.topic(&name).is_none() {
        return Err(ApiError::not_found(format!("no topic {name}")));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let headers: Vec<(&str, Option<&[u8]>)> = m
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_bytes())))
        .collect();
    let batch = build_batch_with_headers(
        0,
        &[(
            now,
            m.key.as_deref().map(str::as_bytes),
            Some(m.value.as_bytes()),
            headers,
        )],
    );
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(Bytes::from(batch));
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(name.clone()));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 10_000;
    req.topic_data = vec![t];
    let resp =
        weir_broker::api::produce::handle(&b.replicas, &b.view, &b.verifier, PRODUCE_VERSION, req)
            .await;
    let Some(pr) = resp
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
    else {
        return Err(ApiError::bad_request("the broker gave no answer"));
    };
    if pr.error_code != 0 {
        let what = ResponseError::try_from_code(pr.error_code)
            .map_or_else(|| format!("error {}", pr.error_code), |e| format!("{e:?}"));
        let detail = pr
            .error_message
            .as_ref()
            .map(|m| format!(": {}", m.as_str()))
            .unwrap_or_default();
        return Err(ApiError::bad_request(format!("{what}{detail}")));
    }
    Ok(Json(Produced {
        partition,
        offset: pr.base_offset,
    }))
}
