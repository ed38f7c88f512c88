//! Subcommands of the `weir` binary.

pub mod acls;
pub mod admin;
pub mod client_security;
pub mod cluster;
pub mod configs;
pub mod consume;
pub mod dev_cluster;
pub mod format;
pub mod groups;
pub mod leaders;
pub mod log_dirs;
pub mod perf;
pub mod produce;
pub mod quorum;
pub mod quotas;
pub mod raw;
pub mod reassign;
pub mod records;
pub mod secure_stream;
pub mod serve;
pub mod share;
pub mod topics;
pub mod transactions;
pub mod users;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag set by SIGINT or SIGTERM (which then no longer kill the process), so that a command can
/// finish cleanly: `consume --group` commits what it printed and leaves the group instead of
/// holding its partitions until its session times out; `dev-cluster` stops its nodes.
pub(crate) fn stop_on_signal() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return; // dropping ready_tx unblocks the caller; signals keep their default action
        };
        rt.block_on(async move {
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            let _ = ready_tx.send(());
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            set.store(true, Ordering::SeqCst);
        });
    });
    let _ = ready_rx.recv();
    flag
}
