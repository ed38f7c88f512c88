//! The API's one write: change a topic's config overrides (`POST /api/v1/topics/{name}/configs`
//! with `{"retention.ms": "60000", "cleanup.policy": null}`; null removes an override), committed
//! through the metadata quorum exactly as IncrementalAlterConfigs SET / DELETE is.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use weir_broker::admin::proposal::CONFIG_CHANGE_TIMEOUT;
use weir_meta::acl::{AclOperation, ResourceType};

use super::common::{blocking, broker, ApiError};
use crate::auth::Caller;
use crate::state::HttpState;
use crate::view::console::TopicDetail;
use crate::view::OpsView;

/// At most this many configs in one change.
const MAX_CHANGES: usize = 100;

/// Apply the changes; answers the topic as it is afterwards, or 400 with the broker's reason
/// (an unknown config, a bad value); 403 without ALTER_CONFIGS on the topic.
pub async fn alter(
    State(s): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<BTreeMap<String, Option<String>>>, JsonRejection>,
) -> Result<Json<TopicDetail>, ApiError> {
    caller.require(AclOperation::AlterConfigs, ResourceType::Topic, &name)?;
    let Json(changes) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if changes.is_empty() || changes.len() > MAX_CHANGES {
        return Err(ApiError::bad_request(format!(
            "give 1..={MAX_CHANGES} configs as {{\"name\": \"value\" or null}}"
        )));
    }
    let b = broker(&s)?;
    if b.view.topic(&name).is_none() {
        return Err(ApiError::not_found(format!("no topic {name}")));
    }
    b.admin
        .alter_topic_configs(
            &name,
            changes,
            true,
            false,
            tokio::time::Instant::now() + CONFIG_CHANGE_TIMEOUT,
        )
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    tracing::info!(topic = %name, "topic configs changed from the console");
    let b2 = b.clone();
    blocking(move || {
        let mut t = OpsView::new(&b2)
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
