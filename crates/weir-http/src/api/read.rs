//! Read-only API handlers: overview, topics, one topic, messages, groups.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use weir_meta::acl::{AclOperation, ResourceType};

use super::common::{blocking, broker, ApiError};
use crate::auth::Caller;
use crate::state::HttpState;
use crate::view::console::{Overview, TopicDetail, TopicRow};
use crate::view::groups::GroupRow;
use crate::view::messages::{MessagePage, ReadError, Start, MAX_BYTES_LIMIT, MAX_RECORDS_LIMIT};
use crate::view::OpsView;

/// `GET /api/v1/overview`.
pub async fn overview(State(s): State<HttpState>) -> Result<Json<Overview>, ApiError> {
    let b = broker(&s)?;
    blocking(move || Ok(Json(OpsView::new(&b).overview()))).await
}

/// `GET /api/v1/topics`: the topics the caller may DESCRIBE.
pub async fn topics(
    State(s): State<HttpState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<TopicRow>>, ApiError> {
    let b = broker(&s)?;
    blocking(move || {
        let mut rows = OpsView::new(&b).topics();
        rows.retain(|t| caller.topic(AclOperation::Describe, &t.name));
        Ok(Json(rows))
    })
    .await
}

/// `GET /api/v1/topics/{name}`: needs DESCRIBE on the topic; its configs are shown with
/// DESCRIBE_CONFIGS only (else the list is empty and `configs_hidden` is set).
pub async fn topic(
    State(s): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<TopicDetail>, ApiError> {
    caller.require(AclOperation::Describe, ResourceType::Topic, &name)?;
    let b = broker(&s)?;
    blocking(move || {
        let mut t = OpsView::new(&b)
            .topic(&name)
            .ok_or_else(|| ApiError::not_found(format!("no topic {name}")))?;
        if !caller.topic(AclOperation::DescribeConfigs, &name) {
            t.configs.clear();
            t.configs_hidden = true;
        }
        Ok(Json(t))
    })
    .await
}

/// `GET /api/v1/groups`: the classic, consumer and share groups the caller may DESCRIBE, with
/// the offsets of the topics it may DESCRIBE (as ListGroups, DescribeGroups, OffsetFetch and
/// DescribeShareGroupOffsets filter).
pub async fn groups(
    State(s): State<HttpState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<GroupRow>>, ApiError> {
    let b = broker(&s)?;
    let b2 = b.clone();
    let mut rows = blocking(move || Ok(OpsView::new(&b2).groups())).await?;
    rows.extend(super::share::share_groups(&b).await);
    rows.retain(|g| caller.group(AclOperation::Describe, &g.group));
    for g in &mut rows {
        g.offsets
            .retain(|o| caller.topic(AclOperation::Describe, &o.topic));
        g.total_lag = g.offsets.iter().filter_map(|o| o.lag).sum();
    }
    Ok(Json(rows))
}

/// Query of the message browser.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// Partition (default 0).
    pub partition: Option<i32>,
    /// First offset (default: the log start).
    pub offset: Option<i64>,
    /// Or: the first record at or after this timestamp (ms since the epoch).
    pub timestamp: Option<i64>,
    /// Most records (default 50, at most [`MAX_RECORDS_LIMIT`]).
    pub limit: Option<usize>,
    /// Most bytes of batches read (default 64 KiB, at most [`MAX_BYTES_LIMIT`]).
    pub max_bytes: Option<usize>,
}

/// `GET /api/v1/topics/{name}/messages?partition=&offset=|timestamp=&limit=&max_bytes=`.
/// Needs READ on the topic (as Fetch).
pub async fn messages(
    State(s): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    query: Result<Query<MessagesQuery>, QueryRejection>,
) -> Result<Json<MessagePage>, ApiError> {
    caller.require(AclOperation::Read, ResourceType::Topic, &name)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_RECORDS_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be 1..={MAX_RECORDS_LIMIT}"
        )));
    }
    let max_bytes = q.max_bytes.unwrap_or(64 * 1024);
    if max_bytes == 0 || max_bytes > MAX_BYTES_LIMIT {
        return Err(ApiError::bad_request(format!(
            "max_bytes must be 1..={MAX_BYTES_LIMIT}"
        )));
    }
    let start = match (q.offset, q.timestamp) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give offset or timestamp, not both"))
        }
        (Some(o), None) => Start::Offset(o),
        (None, Some(ts)) => Start::Timestamp(ts),
        (None, None) => Start::LogStart,
    };
    let partition = q.partition.unwrap_or(0);
    if partition < 0 {
        return Err(ApiError::bad_request("partition must be >= 0"));
    }
    let b = broker(&s)?;
    blocking(move || {
        OpsView::new(&b)
            .read_messages(&name, partition, start, limit, max_bytes)
            .map(Json)
            .map_err(|e| match e {
                ReadError::NotFound(m) => ApiError::not_found(m),
                ReadError::NotLocal(m) => ApiError(StatusCode::CONFLICT, m),
                ReadError::TooLarge(m) => ApiError::bad_request(m),
                ReadError::Log(m) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, m),
            })
    })
    .await
}
