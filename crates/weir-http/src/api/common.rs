//! What the API handlers share: the error type (a status and a JSON message), the broker once
//! open, and running reads on the blocking pool.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use weir_broker::Broker;

use crate::state::HttpState;

/// An API error: a status and a message.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: &self.1 })).into_response()
    }
}

impl ApiError {
    /// 400 with `msg`.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }

    /// 404 with `msg`.
    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::NOT_FOUND, msg.into())
    }
}

/// The broker, or 503 while it is still opening.
pub fn broker(s: &HttpState) -> Result<std::sync::Arc<Broker>, ApiError> {
    s.broker.get().cloned().ok_or_else(|| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker is still starting".into(),
        )
    })
}

/// Run a read on the blocking pool (reads take partition locks and read files).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}
