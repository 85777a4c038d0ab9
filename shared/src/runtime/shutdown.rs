//! SIGTERM / SIGINT, seen by every task of a process: each finishes what it has in flight
//! (confirms awaited, deliveries acked or returned, files moved) and returns.

use tokio::sync::watch;

/// A view of the process's shutdown request: cheap to clone, one per task that must stop.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Requests the shutdown its [`Shutdown`]s see (a signal, or a test running a process in its own
/// runtime).
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    /// A shutdown that only `trigger` requests.
    pub fn new() -> (ShutdownTrigger, Self) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Self(rx))
    }

    /// Starts listening for SIGTERM (what Docker, Kubernetes and systemd send) and SIGINT (Ctrl-C).
    pub fn listen() -> Self {
        let (trigger, shutdown) = Self::new();
        tokio::spawn(async move {
            signal().await;
            tracing::info!("shutdown requested: finishing what is in flight");
            trigger.trigger();
            // Keep the sender: receivers then always see `true`, never a closed channel.
            std::future::pending::<()>().await;
        });
        shutdown
    }

    /// Whether shutdown was requested (checked before starting new work).
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is requested (cancel-safe: use it in `select!`). A trigger dropped
    /// without requesting counts as a request: nobody could ask any more.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|requested| *requested).await;
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

async fn signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_request() {
        let (trigger, shutdown) = Shutdown::new();
        let mut other = shutdown.clone();
        assert!(!shutdown.requested());
        trigger.trigger();
        other.wait().await;
        assert!(shutdown.requested());
    }

    #[tokio::test]
    async fn a_dropped_trigger_ends_the_wait() {
        let (trigger, mut shutdown) = Shutdown::new();
        drop(trigger);
        tokio::time::timeout(std::time::Duration::from_secs(5), shutdown.wait()).await.expect("not stuck");
    }
}
