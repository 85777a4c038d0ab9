//! The state every handler shares: settings, clock, records, faults and counters. It sits below
//! every stand-in (they all reach it); the router (`app`) puts it beside Jobber's runtime.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::faults::{Counters, Faults};
use crate::state::Store;

/// What every handler and resolver reaches through `Arc<Shared>`: the sandbox-wide world.
/// Jobber's own machinery (schema, limits, cost model, webhooks) is [`crate::jobber::Runtime`],
/// beside it in the router's state.
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
    /// `http://127.0.0.1:PORT`, known once the listener is bound.
    pub base_url: OnceLock<String>,
    /// Flips to `true` at shutdown so that held connections (timeout faults) let go.
    pub shutdown: watch::Receiver<bool>,
}

impl Shared {
    pub fn new(config: Config, store: Store, shutdown: watch::Receiver<bool>) -> Self {
        let clock = Clock::new(config.clock.frozen);
        Self {
            clock,
            store: Mutex::new(store),
            dirty: AtomicBool::new(false),
            faults: Faults::default(),
            counters: Counters::default(),
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
