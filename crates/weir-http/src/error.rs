//! The HTTP side's error type: a status and a JSON message (`{"error": ...}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

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
