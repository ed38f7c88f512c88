//! Reset a consumer group's committed offsets from the console
//! (`POST /api/v1/groups/{group}/offsets` with `{"topic": "t", "to": "earliest" | "latest" | 42}`):
//! a simple (admin) OffsetCommit of every partition of the topic, which the group coordinator
//! accepts only while the group has no members — as `kafka-consumer-groups.sh --reset-offsets`.
//! For a share group it is AlterShareGroupOffsets of those partitions (the share-partitions
//! start afresh at the new start offset), also only while the group has no members — as
//! `kafka-share-groups.sh --reset-offsets`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use kafka_protocol::error::ResponseError;
use serde::{Deserialize, Serialize};
use weir_broker::groups::Committer;
use weir_log::TopicPartition;
use weir_meta::acl::{AclOperation, ResourceType};

use super::common::{broker, ApiError};
use crate::auth::Caller;
use crate::state::HttpState;

/// Where to reset to.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ResetTo {
    /// `"earliest"` (log start) or `"latest"` (high watermark).
    Named(String),
    /// This offset in every partition (clamped to log start … high watermark).
    Offset(i64),
}

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    /// The topic whose partitions are reset.
    pub topic: String,
    /// The target.
    pub to: ResetTo,
}

/// A simple (admin) commit: no member, generation -1.
fn simple_commit() -> Committer {
    Committer {
        member_id: String::new(),
        instance_id: None,
        generation_or_epoch: -1,
    }
}

/// One reset partition.
#[derive(Debug, Serialize)]
pub struct ResetRow {
    /// Partition.
    pub partition: i32,
    /// The committed offset now.
    pub offset: i64,
}

/// Commit the new offsets; 400 with the reason when the group has members (or another refusal),
/// 409 when a partition has no replica on this broker; 403 without READ on the group and on the
/// topic (as OffsetCommit).
pub async fn reset(
    State(s): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    body: Result<Json<Reset>, JsonRejection>,
) -> Result<Json<Vec<ResetRow>>, ApiError> {
    let Json(r) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    caller.require(AclOperation::Read, ResourceType::Group, &group)?;
    caller.require(AclOperation::Read, ResourceType::Topic, &r.topic)?;
    let b = broker(&s)?;
    let meta = b
        .view
        .topic(&r.topic)
        .ok_or_else(|| ApiError::not_found(format!("no topic {}", r.topic)))?;
    let logs = b.replicas.logs();
    let mut entries = Vec::new();
    for p in 0..meta.partitions {
        let log = logs
            .get(&TopicPartition::new(r.topic.clone(), p))
            .ok_or_else(|| {
                ApiError(
                    axum::http::StatusCode::CONFLICT,
                    format!(
                        "partition {p} of {} has no replica on this broker; reset from one that \
                     holds them all, or with `weir groups reset-offsets`",
                        r.topic
                    ),
                )
            })?;
        let (start, hw) = (log.log_start_offset(), log.high_watermark());
        let offset = match &r.to {
            ResetTo::Named(n) if n == "earliest" => start,
            ResetTo::Named(n) if n == "latest" => hw,
            ResetTo::Named(n) => {
                return Err(ApiError::bad_request(format!(
                    "to must be \"earliest\", \"latest\" or an offset, not {n:?}"
                )))
            }
            ResetTo::Offset(o) => (*o).clamp(start, hw),
        };
        entries.push((r.topic.clone(), p, offset, -1, String::new()));
    }
    let rows: Vec<ResetRow> = entries
        .iter()
        .map(|(_, p, o, _, _)| ResetRow {
            partition: *p,
            offset: *o,
        })
        .collect();
    if b.share_groups.is_share_group(&group) {
        let offsets: Vec<(i32, i64)> = rows.iter().map(|r| (r.partition, r.offset)).collect();
        super::share::reset(&b, &group, &r.topic, &offsets).await?;
        tracing::info!(%group, topic = %r.topic, "share group offsets reset from the console");
        return Ok(Json(rows));
    }
    let codes = b.groups.commit(&group, &simple_commit(), entries).await;
    if let Some(code) = codes.into_iter().find(|c| *c != 0) {
        let name = ResponseError::try_from_code(code)
            .map_or_else(|| format!("error {code}"), |e| format!("{e:?}"));
        let hint = if name == "UnknownMemberId" {
            ": the group has active members; stop its consumers first"
        } else {
            ""
        };
        return Err(ApiError::bad_request(format!("{name}{hint}")));
    }
    tracing::info!(%group, topic = %r.topic, "consumer group offsets reset from the console");
    Ok(Json(rows))
}
