//! The server: bind the client listeners, accept connections, run the background tasks, and shut
//! down cleanly (controlled shutdown first, then in-flight requests, then the logs).
//!
//! `connection` frames and pipelines one client connection, `tasks` holds the periodic
//! maintenance and coordinator timers, `stop` the shutdown signal.

pub mod connection;
pub mod frame_sink;
pub mod stop;
pub mod tasks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::security::ListenerSecurityRuntime;
use connection::ConnectionLimits;
use stop::stopped;

/// How long shutdown waits for in-flight requests (long polls included) before dropping the
/// remaining connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Open the broker (which binds the CONTROLLER listener for Raft), bind every client listener,
/// serve until `shutdown` resolves, then shut down cleanly.
pub async fn run(
    config: BrokerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BrokerError> {
    let broker = Broker::open(config).await?;
    let listeners = bind_listeners(&broker.config).await?;
    run_with_listeners(broker, listeners, shutdown).await
}

/// Bind every non-CONTROLLER listener of the config, in order (their security protocols are
/// applied per connection, see [`crate::security`]).
pub async fn bind_listeners(config: &BrokerConfig) -> Result<Vec<TcpListener>, BrokerError> {
    let mut out = Vec::new();
    for l in &config.listeners {
        if l.name.eq_ignore_ascii_case("CONTROLLER") {
            debug!(listener = %l.name, "CONTROLLER listener is served by the metadata quorum");
            continue;
        }
        let listener = TcpListener::bind((l.host.as_str(), l.port))
            .await
            .map_err(|e| {
                BrokerError::Io(std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot bind listener {}://{}:{}: {e}",
                        l.name, l.host, l.port
                    ),
                ))
            })?;
        out.push(listener);
    }
    if out.is_empty() {
        return Err(BrokerError::Config(
            "no client listener configured in listeners".into(),
        ));
    }
    Ok(out)
}

/// Serve `broker` on already-bound listeners until `shutdown` resolves (or the metadata quorum
/// member fails, which is then returned as an error after the same clean stop): accept connections,
/// run maintenance periodically, and on shutdown stop accepting, let in-flight requests finish
/// (at most [`SHUTDOWN_GRACE`]), then flush, checkpoint and write the clean-shutdown marker
/// (`LogManager::shutdown`).
pub async fn run_with_listeners(
    broker: Arc<Broker>,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BrokerError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // The listeners are bound in the order of `listeners` without CONTROLLER.
    let names: Vec<String> = broker
        .config
        .listeners
        .iter()
        .filter(|l| !l.name.eq_ignore_ascii_case("CONTROLLER"))
        .map(|l| l.name.clone())
        .collect();
    let mut addrs = Vec::new();
    let mut accept_tasks = JoinSet::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let name = names.get(i).cloned().unwrap_or_else(|| "PLAINTEXT".into());
        let security = &broker.config.security;
        let runtime = match security.listeners.get(&name) {
            Some(sec) => ListenerSecurityRuntime::build(
                sec,
                security.connections_max_reauth_ms,
                broker.view.clone(),
            )?,
            None => ListenerSecurityRuntime::plaintext(),
        };
        info!(listener = %name, protocol = ?runtime.protocol, "listener security");
        let limits = ConnectionLimits {
            listener: name,
            security: Arc::new(runtime),
            max_request_bytes: broker.config.socket_request_max_bytes,
            idle_timeout: Duration::from_millis(broker.config.connections_max_idle_ms.max(1)),
        };
        if let Ok(a) = listener.local_addr() {
            if addrs.is_empty() {
                broker.view.set_bound_port(a.port());
            }
            addrs.push(a.to_string());
        }
        accept_tasks.spawn(accept_loop(
            broker.clone(),
            listener,
            limits.clone(),
            stop_rx.clone(),
            i == 0,
        ));
    }
    let maintenance = tokio::spawn(tasks::maintenance_loop(
        broker.replicas.clone(),
        broker.config.log_retention_check_interval_ms,
        broker.config.producer_id_expiration_ms,
        stop_rx.clone(),
    ));
    let group_timers = tokio::spawn(tasks::group_timer_loop(
        broker.groups.clone(),
        stop_rx.clone(),
    ));
    let share_timers = tokio::spawn(tasks::share_timer_loop(
        broker.share_groups.clone(),
        broker.share.clone(),
        stop_rx.clone(),
    ));
    let txn_stop = stop_rx.clone();
    let marker_sender = tokio::spawn(crate::coordinators::markers::marker_sender(
        broker.txn.clone(),
        async move {
            let mut rx = txn_stop;
            stopped(&mut rx).await;
        },
    ));
    info!(
        "weir ready: listening on {} (node.id={}, cluster.id={}, log.dirs={})",
        addrs.join(", "),
        broker.config.node_id,
        broker.cluster_id,
        broker
            .replicas
            .logs()
            .log_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(",")
    );

    // Serve until asked to stop, or until the metadata quorum member dies (e.g. its log cannot
    // be written on a full disk): a broker that no longer follows the metadata log must not
    // keep answering from a stale image, so it stops (Kafka halts the process).
    // Likewise when every log dir failed (a write or an fsync): their partitions refuse every
    // append, and with its last log dir offline Kafka halts. One failed dir of several only
    // takes its partitions offline (they are reported to the controller in heartbeats).
    let logs_for_failure = broker.replicas.logs().clone();
    let fatal = tokio::select! {
        _ = shutdown => None,
        reason = broker.quorum.fatal() => {
            tracing::error!(%reason, "the metadata log failed: stopping this broker");
            Some(format!("the metadata log failed: {reason}"))
        }
        reason = logs_for_failure.failure() => {
            tracing::error!(%reason, "the log dir failed: stopping this broker");
            Some(format!("the log dir failed: {reason}"))
        }
    };
    if fatal.is_none() {
        // Move leadership away while connections are still served, so clients switch leaders
        // instead of timing out.
        broker.lifecycle.controlled_shutdown().await;
    }
    info!("shutting down: no new connections; finishing in-flight requests");
    let _ = stop_tx.send(true);
    broker.replicas.begin_shutdown();
    while accept_tasks.join_next().await.is_some() {}
    let _ = maintenance.await;
    let _ = group_timers.await;
    let _ = share_timers.await;
    let _ = marker_sender.await;
    let logs = broker.replicas.logs().clone();
    tokio::task::spawn_blocking(move || logs.shutdown())
        .await
        .map_err(|e| {
            BrokerError::Io(std::io::Error::other(format!(
                "log shutdown task failed: {e}"
            )))
        })??;
    info!("shutdown complete: logs flushed, checkpoints and clean-shutdown marker written");
    match fatal {
        None => Ok(()),
        Some(reason) => Err(BrokerError::Io(std::io::Error::other(format!(
            "stopped because {reason}"
        )))),
    }
}

/// Accept until stopped, then wait (bounded) for this listener's connections to finish.
/// Wait until the controller has unfenced this broker (at once for a controller-only node), as a
/// Kafka broker enables request processing only once unfenced: before that its Metadata would
/// name no live broker (not even itself) and clients would wait on it. Connections queue in the
/// listen backlog meanwhile. False when asked to stop first. `announce` logs the wait.
async fn await_unfenced(broker: &Broker, stop: &mut watch::Receiver<bool>, announce: bool) -> bool {
    if !broker.view.is_broker() {
        return true;
    }
    let mut images = broker.view.subscribe();
    let mut waited = false;
    loop {
        images.borrow_and_update();
        if broker.view.self_unfenced() {
            if waited && announce {
                info!("unfenced by the controller: serving clients");
            }
            return true;
        }
        if !waited && announce {
            info!("waiting for the controller to unfence this broker before serving clients");
        }
        waited = true;
        tokio::select! {
            _ = stopped(stop) => return false,
            changed = images.changed() => if changed.is_err() { return false },
        }
    }
}

/// Back-off after failed accepts: 50 ms doubling to 1 s; the first failure of a run of them is
/// logged as a warning (naming the descriptor limit for EMFILE/ENFILE), the rest at debug.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        if self.failures == 0 {
            if weir_log::fd_cache::is_fd_exhaustion(e) {
                let limit = weir_log::fd_cache::nofile_limit().map_or(0, |(soft, _)| soft);
                warn!(error = %e, rlimit_nofile = limit, "accept failed: too many open files \
                    (the process's RLIMIT_NOFILE, ulimit -n); new connections wait in the \
                    backlog until descriptors are free");
            } else {
                warn!(error = %e, "accept failed; retrying with back-off");
            }
        } else {
            debug!(error = %e, failures = self.failures + 1, "accept failed again");
        }
        self.failures = self.failures.saturating_add(1);
        Duration::from_millis(50u64 << self.failures.min(5).saturating_sub(1))
            .min(Duration::from_secs(1))
    }

    fn accepted(&mut self) {
        if self.failures > 0 {
            info!(
                failed_accepts = self.failures,
                "accepting connections again"
            );
            self.failures = 0;
        }
    }
}

async fn accept_loop(
    broker: Arc<Broker>,
    listener: TcpListener,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    announce: bool,
) {
    if !await_unfenced(&broker, &mut stop, announce).await {
        return;
    }
    let mut conns = JoinSet::new();
    let conn_stop = stop.clone();
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff.accepted();
                    debug!(%peer, "accepted connection");
                    conns.spawn(connection::serve(broker.clone(), stream, peer, limits.clone(), conn_stop.clone()));
                }
                Err(e) => {
                    // e.g. EMFILE: the pending connection stays in the backlog; waiting (longer
                    // each time, logged once) lets descriptors free up instead of spinning.
                    let wait = backoff.failed(&e);
                    tokio::select! {
                        _ = stopped(&mut stop) => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            },
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            remaining = conns.len(),
            "connections still busy after the shutdown grace period; dropping them"
        );
        conns.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_back_off_up_to_a_second_and_reset_on_success() {
        let emfile = std::io::Error::from_raw_os_error(24); // EMFILE on Linux
        let mut b = AcceptBackoff::default();
        let waits: Vec<Duration> = (0..8).map(|_| b.failed(&emfile)).collect();
        assert_eq!(waits[0], Duration::from_millis(50));
        assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(1)));
        assert!(waits[7] >= Duration::from_millis(800), "{waits:?}");
        b.accepted();
        assert_eq!(b.failed(&emfile), Duration::from_millis(50));
    }
}
