//! The router: `/health`, `/ready`, `/metrics`, the console (`/` and its assets) and its API
//! (`/api/v1/...`); every other path is 404, a wrong method 405. The console and the API need a
//! login when the broker's security is on ([`crate::auth`]); `/health`, `/ready` and `/metrics`
//! never do.

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::metrics::gauges;
use crate::state::HttpState;
use crate::view::OpsView;

/// Prometheus text exposition format 0.0.4.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin endpoints.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .merge(
            crate::console::routes()
                .merge(crate::api::routes())
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    crate::auth::require_login,
                )),
        )
        .fallback(not_found)
        .with_state(state)
}

/// 200 while the process runs (a liveness probe).
async fn health() -> &'static str {
    "ok\n"
}

/// 200 once the broker is open, registered with the metadata quorum and unfenced
/// ([`OpsView::readiness`]); 503 with the reason before that.
async fn ready(State(s): State<HttpState>) -> Response {
    let verdict = match s.broker.get() {
        None => Err("starting: the broker is still opening (metadata quorum, log recovery)".into()),
        Some(b) => OpsView::new(b).readiness(),
    };
    match verdict {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

/// The Prometheus text format: scrape-time gauges are computed on the blocking pool (their cost
/// grows with the number of partitions and groups), then the recorder renders.
async fn metrics(State(s): State<HttpState>) -> Response {
    let rendered = tokio::task::spawn_blocking(move || {
        match s.broker.get() {
            Some(b) => gauges::set_all(&OpsView::new(b), s.per_partition),
            None => gauges::set_process(),
        }
        s.prometheus.render()
    })
    .await;
    match rendered {
        Ok(body) => ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering metrics failed: {e}\n"),
        )
            .into_response(),
    }
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!(
            "not found: {} (try /, /health, /ready, /metrics, /api/v1/topics)\n",
            uri.path()
        ),
    )
        .into_response()
}
