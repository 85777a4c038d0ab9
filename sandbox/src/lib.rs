//! sj-sandbox: faithful local stand-ins for Jobber (GraphQL + OAuth + webhooks), SaberisConnect
//! and Google Sheets v4, with fault injection, so the bridge can be built, tested, benchmarked and
//! demonstrated without the real services.
//!
//! Tests start it in-process:
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sandbox = sj_sandbox::spawn(sj_sandbox::Config::default()).await?;
//! let tokens = sandbox.issue_tokens();          // a grant on the default account
//! let url = sandbox.url("/api/graphql");
//! # let _ = (tokens, url);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
mod app;
pub mod clock;
pub mod config;
pub mod context;
pub mod faults;
pub mod health;
pub mod jobber;
pub mod saberis;
pub mod sheets;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;
pub use context::Shared;
pub use jobber::oauth::TokenResponse;
pub use state::Store;

/// A running sandbox. Dropping it stops the server too (without the final state save that
/// [`Sandbox::shutdown`] does).
pub struct Sandbox {
    addr: SocketAddr,
    /// Where `/healthz`, `/readyz` and `/metrics` are served, when `health.listen` is set.
    health_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    jobber: Arc<jobber::Runtime>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

/// Builds the store: from `state_file` when it exists, else fresh; then the Saberis folder.
fn initial_store(config: &Config) -> anyhow::Result<Store> {
    let mut store = match &config.state_file {
        Some(path) => Store::load(path)?.unwrap_or_else(|| Store::new(config)),
        None => Store::new(config),
    };
    if let Some(dir) = &config.saberis.docs_dir {
        let loaded = saberis::load_folder(&mut store, dir)?;
        tracing::info!(dir = %dir.display(), loaded, "loaded Saberis documents");
    }
    Ok(store)
}

/// Starts a sandbox on 127.0.0.1:`config.port` (0 picks a free port).
pub async fn spawn(config: Config) -> anyhow::Result<Sandbox> {
    let store = initial_store(&config)?;
    let ip = config.bind.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let listener = tokio::net::TcpListener::bind((ip, config.port)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let shared = Arc::new(Shared::new(config, store, stopped.clone()));
    shared.base_url.set(format!("http://{addr}")).expect("set once");

    let health_addr = match shared.config.health.listen {
        Some(listen) => Some(serve_health(&shared, listen, stopped.clone()).await?),
        None => None,
    };
    let jobber = Arc::new(jobber::Runtime::new(&shared.config));
    let app = app::router(app::AppState { shared: shared.clone(), jobber: jobber.clone() });
    let mut stopped_server = stopped.clone();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stopped_server.wait_for(|s| *s).await;
    });
    let persist = shared.clone();
    let server = tokio::spawn(async move {
        let persistence = tokio::spawn(persist_state(persist));
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "sj-sandbox server failed");
        }
        let _ = persistence.await;
    });
    Ok(Sandbox { addr, health_addr, shared, jobber, stop, server: Some(server) })
}

/// Serves the health endpoints on `listen` until the sandbox stops; writes the address file.
async fn serve_health(
    shared: &Arc<Shared>,
    listen: SocketAddr,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<SocketAddr> {
    use anyhow::Context as _;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("health endpoint: cannot listen on {listen} (health.listen)"))?;
    let addr = listener.local_addr()?;
    if let Some(file) = &shared.config.health.address_file {
        health::write_address(file, addr).with_context(|| {
            format!("health endpoint: cannot write {} (health.address_file)", file.display())
        })?;
    }
    let serve = axum::serve(listener, health::router(shared.clone())).with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    tokio::spawn(async move {
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "sj-sandbox health endpoint failed");
        }
    });
    tracing::info!(address = %addr, "health endpoints: /healthz, /readyz, /metrics");
    Ok(addr)
}

/// Saves the store to `state_file` shortly after every change, and once more at shutdown.
async fn persist_state(shared: Arc<Shared>) {
    let Some(path) = shared.config.state_file.clone() else { return };
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => false,
            _ = shared.shutting_down() => true,
        };
        if shared.take_dirty() || stopping {
            if let Err(e) = shared.read(|store| store.save(&path)) {
                tracing::error!(path = %path.display(), error = %e, "could not save the sandbox state");
            }
        }
        if stopping {
            return;
        }
    }
}

impl Sandbox {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served (`health.listen`), if they are.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url` + `path` (e.g. `/api/graphql`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Creates a grant on the default account, as a completed OAuth authorization would.
    pub fn issue_tokens(&self) -> TokenResponse {
        jobber::oauth::issue_grant(&self.shared, state::DEFAULT_ACCOUNT_ID)
    }

    /// Creates a grant on another account (created on first use with the configured setup).
    pub fn issue_tokens_for(&self, account_id: u64) -> TokenResponse {
        jobber::oauth::issue_grant(&self.shared, account_id)
    }

    /// Moves the sandbox clock forward (token expiry, bucket refill, rate windows).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Direct access to the running state, for assertions.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Jobber's machinery (limits, webhooks), for assertions.
    pub fn jobber(&self) -> &Arc<jobber::Runtime> {
        &self.jobber
    }

    /// A copy of the whole store.
    pub fn snapshot(&self) -> Store {
        self.shared.read(Store::clone)
    }

    /// Stops serving (held connections are released) and saves the state file.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
