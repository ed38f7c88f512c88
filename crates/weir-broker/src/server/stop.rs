//! The shutdown signal shared by the accept loops, connections and background tasks.

use tokio::sync::watch;

/// Resolves once the watched flag is true (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
