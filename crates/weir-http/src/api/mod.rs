//! The console's JSON API under `/api/v1`: read-only answers from `OpsView`, plus three writes,
//! each on the path a Kafka client's request takes: topic config changes (through `TopicAdmin`,
//! as IncrementalAlterConfigs), a test message (the Produce handler) and a group offset reset
//! (a simple OffsetCommit, or AlterShareGroupOffsets for a share group; refused while the group
//! has members).
//!
//! Errors are JSON `{"error": "..."}`: 400 for malformed parameters or a refused change, 404 for
//! an unknown topic or partition, 409 for a partition without a local replica, 503 while the
//! broker is still opening.

pub mod common;
pub mod configs;
pub mod offsets;
pub mod produce;
pub mod read;
pub mod share;

use axum::routing::get;
use axum::Router;

use crate::state::HttpState;

/// The `/api/v1` routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/overview", get(read::overview))
        .route("/api/v1/topics", get(read::topics))
        .route("/api/v1/topics/{name}", get(read::topic))
        .route(
            "/api/v1/topics/{name}/messages",
            get(read::messages).post(produce::produce),
        )
        .route(
            "/api/v1/topics/{name}/configs",
            axum::routing::post(configs::alter),
        )
        .route("/api/v1/groups", get(read::groups))
        .route(
            "/api/v1/groups/{group}/offsets",
            axum::routing::post(offsets::reset),
        )
}
