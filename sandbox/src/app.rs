//! The state every handler shares, and the router that serves all four stand-ins on one port.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::faults::{Counters, Faults};
use crate::jobber;
use crate::state::Store;

/// What every handler and resolver reaches through `Arc<Shared>`.
pub struct Shared {
    pub config: Config,
    pub clock: Clock,
    /// All records. A `std` mutex: it is never held across an `.await`, and every critical
    /// section is a few map operations.
    store: Mutex<Store>,
    /// Set by every write; the persistence task saves the store when it sees it.
    dirty: AtomicBool,
    pub faults: Faults,
    pub counters: Counters,
    pub jobber: jobber::Runtime,
    /// `http://127.0.0.1:PORT`, known once the listener is bound.
    pub base_url: OnceLock<String>,
    /// Flips to `true` at shutdown so that held connections (timeout faults) let go.
    pub shutdown: watch::Receiver<bool>,
}

impl Shared {
    pub fn new(config: Config, store: Store, shutdown: watch::Receiver<bool>) -> Self {
        let clock = Clock::new(config.clock.frozen);
        let jobber = jobber::Runtime::new(&config);
        Self {
            clock,
            store: Mutex::new(store),
            dirty: AtomicBool::new(false),
            faults: Faults::default(),
            counters: Counters::default(),
            jobber,
            base_url: OnceLock::new(),
            shutdown,
            config,
        }
    }

    /// Reads the store.
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the store and marks it for saving.
    pub fn write<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let result = f(&mut self.lock());
        self.dirty.store(true, Ordering::SeqCst);
        result
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic inside a critical section leaves plain data behind; keep serving.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the dirty flag (for the persistence task).
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::SeqCst)
    }

    pub fn base_url(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or("http://127.0.0.1")
    }

    /// Resolves when the sandbox shuts down.
    pub async fn shutting_down(&self) {
        let mut rx = self.shutdown.clone();
        // An error means the sender is gone, which is shutdown too.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// A fresh opaque token (refresh tokens, codes, session tokens): 64 hex characters.
///
/// Unguessability does not matter in a sandbox; uniqueness does, and the counter in the store
/// guarantees it even across restarts with `--state`.
pub fn fresh_token(store: &mut Store, salt: &str) -> String {
    store.token_counter += 1;
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(store.token_counter.to_be_bytes())
        .chain_update(nanos.to_be_bytes())
        .chain_update(std::process::id().to_be_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// All routes. Faults and counters wrap everything except `/_admin` and the `jobberWebUri` pages.
pub fn router(shared: Arc<Shared>) -> Router {
    let services = Router::new()
        .merge(jobber::routes())
        .merge(crate::saberis::routes())
        .merge(crate::sheets::routes())
        .layer(axum::middleware::from_fn_with_state(shared.clone(), crate::faults::layer));
    Router::new()
        .merge(services)
        .merge(jobber::web::routes())
        .nest("/_admin", crate::admin::routes())
        .with_state(shared)
}
