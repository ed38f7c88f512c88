//! What the API handlers share: the error type (re-exported from [`crate::error`]), the broker
//! once open, and running reads on the blocking pool.

use axum::http::StatusCode;
use weir_broker::Broker;

pub use crate::error::ApiError;
use crate::state::HttpState;

/// The broker, or 503 while it is still opening.
pub fn broker(s: &HttpState) -> Result<std::sync::Arc<Broker>, ApiError> {
    s.open_broker()
}

/// Run a read on the blocking pool (reads take partition locks and read files).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}
