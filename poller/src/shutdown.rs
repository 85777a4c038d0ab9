//! SIGTERM / SIGINT, seen by every source: each finishes what it has in flight (confirms
//! awaited, files moved, GUIDs recorded) and returns.

use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Starts listening for the signals.
    pub fn listen() -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            sj_shared::process::shutdown_signal().await;
            tracing::info!("shutdown requested: finishing what is in flight");
            let _ = tx.send(true);
            // Keep the sender: receivers then always see `true`, never a closed channel.
            std::future::pending::<()>().await;
        });
        Self(rx)
    }

    /// Whether shutdown was requested (checked before starting new work).
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is requested (cancel-safe: use it in `select!`).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|requested| *requested).await;
    }
}
