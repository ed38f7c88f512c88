//! What the HTTP handlers share.

use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::PrometheusHandle;
use weir_broker::security::passwords::PasswordVerifier;
use weir_broker::Broker;

/// The broker, once [`Broker::open`] has returned: the HTTP side starts first (so `/health`
/// answers during a long start-up and `/ready` says why it is not ready yet).
pub type BrokerSlot = Arc<OnceLock<Arc<Broker>>>;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// The broker once open.
    pub broker: BrokerSlot,
    /// Renders the Prometheus recorder.
    pub prometheus: PrometheusHandle,
    /// `metrics.per.partition`.
    pub per_partition: bool,
    /// Checks console logins (made at the first login, once the broker is open).
    pub passwords: Arc<OnceLock<Arc<PasswordVerifier>>>,
}

impl HttpState {
    /// The broker, or 503 while it is still opening.
    pub fn open_broker(&self) -> Result<Arc<Broker>, crate::error::ApiError> {
        self.broker.get().cloned().ok_or_else(|| {
            crate::error::ApiError(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the broker is still starting".into(),
            )
        })
    }
}
