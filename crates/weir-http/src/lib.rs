//! weir-http: the HTTP admin listener of `weir serve`, in the broker's process and tokio
//! runtime. It reads the broker's services through [`view::OpsView`] and never writes to them.
//!
//! Dependency order: `view` (read-only view of broker state), `state` (what handlers share)
//! → `metrics` (the Prometheus recorder, scrape-time gauges, process stats), `api` (the
//! console's JSON API), `console` (embedded page assets) → `routes` (the axum router:
//! `/health`, `/ready`, `/metrics`, `/`, `/api/v1`; `auth` logs in the callers of the console
//! and the API and checks their ACLs) → this file (bind, serve, start-up). Work that scales with the number of partitions runs on the blocking
//! pool, so a scrape never stalls the Kafka listeners' tasks.

pub mod api;
pub mod auth;
pub mod console;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod state;
pub mod view;

use std::net::SocketAddr;

pub use state::{BrokerSlot, HttpState};
use weir_broker::config::{HttpListener as ListenerSetting, OpsSettings};

/// A bound HTTP listener, not yet serving.
pub struct HttpListener {
    listener: tokio::net::TcpListener,
}

impl HttpListener {
    /// Bind `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(HttpListener {
            listener: tokio::net::TcpListener::bind(addr).await?,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve the admin endpoints on the current runtime until the process ends. Errors of
    /// single connections are handled by hyper; a failure of the whole server is logged, and
    /// the broker carries on without its HTTP side.
    pub fn spawn(self, state: HttpState) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(e) = axum::serve(
                self.listener,
                routes::router(state).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            {
                tracing::warn!(error = %e, "the HTTP admin listener stopped");
            }
        })
    }
}

/// Start the HTTP side as `settings` say, before the broker opens: install the Prometheus
/// recorder, bind, serve on the current runtime. Returns the bound address, or None when the
/// listener is off — or when binding the built-in default address failed (logged as a warning:
/// another local broker may hold it). A failed bind of an explicit `http.listener` is an error.
pub async fn start(
    settings: &OpsSettings,
    broker: BrokerSlot,
) -> Result<Option<SocketAddr>, String> {
    let ListenerSetting::On { addr, explicit } = settings.http_listener else {
        return Ok(None);
    };
    let listener = match HttpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if !explicit => {
            tracing::warn!(
                "HTTP admin listener off: cannot bind the default {addr} ({e}); set \
                 --http-listener HOST:PORT or none"
            );
            return Ok(None);
        }
        Err(e) => return Err(format!("cannot bind http.listener {addr}: {e}")),
    };
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let prometheus = metrics::install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    weir_broker::metrics::enable();
    metrics::spawn_upkeep(prometheus.clone());
    listener.spawn(HttpState {
        broker,
        prometheus,
        per_partition: settings.metrics_per_partition,
        passwords: Default::default(),
    });
    tracing::info!("HTTP admin listener on http://{bound} (console /, /metrics, /health, /ready)");
    Ok(Some(bound))
}
