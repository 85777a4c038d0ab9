//! Jobber's API version, watched. Every response carries `extensions.versioning {version,
//! warning?}`; months before a version stops being served the warning appears, and after that
//! Jobber silently upgrades requests to a newer version, breaking changes included. The first
//! warning a process sees is logged once (at `warn`), and every warning is written to Redis at
//! most once a minute per process, kept for a day, so `sjctl status` shows what the workers see.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_redis::Pool;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::Keys;

/// What Jobber said about the version the bridge asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionNotice {
    /// The version asked for (`jobber.graphql_version`).
    pub requested: String,
    /// The version Jobber says it served.
    pub served: String,
    /// Jobber's warning text.
    pub warning: String,
    /// When it was seen (RFC 3339).
    pub seen_at: String,
}

impl std::fmt::Display for VersionNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jobber warns about API version {}", self.requested)?;
        if self.served != self.requested && !self.served.is_empty() {
            write!(f, " (served as {})", self.served)?;
        }
        write!(f, ": {} (seen {})", self.warning, self.seen_at)
    }
}

/// How long a stored notice lasts without being seen again.
const KEEP: Duration = Duration::from_secs(24 * 3600);
/// A process writes a notice to Redis at most this often.
const REWRITE: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub(crate) struct VersionWatch {
    pool: Pool,
    key: String,
    requested: String,
    state: Arc<Mutex<Watched>>,
}

#[derive(Default)]
struct Watched {
    logged: bool,
    last: Option<VersionNotice>,
    written: Option<Instant>,
}

impl VersionWatch {
    pub(crate) fn new(pool: Pool, keys: &Keys, requested: &str) -> Self {
        Self { pool, key: notice_key(keys), requested: requested.to_owned(), state: Arc::default() }
    }

    /// Reads a response's `extensions.versioning`: a warning is logged (the first time in this
    /// process) and recorded.
    pub(crate) async fn note(&self, reply: &Value) {
        let Some(versioning) = reply.pointer("/extensions/versioning") else { return };
        let text = |name: &str| versioning.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let warning = text("warning");
        if warning.is_empty() {
            return;
        }
        let notice = VersionNotice {
            requested: self.requested.clone(),
            served: text("version"),
            warning,
            seen_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        let write = {
            let mut state = self.state.lock().expect("not poisoned");
            if !state.logged {
                state.logged = true;
                tracing::warn!(requested = %notice.requested, served = %notice.served, warning = %notice.warning,
                    "Jobber warns about the API version the bridge asks for: move jobber.graphql_version to a \
                     supported version (docs: Jobber API version) before Jobber upgrades requests on its own");
            }
            state.last = Some(notice.clone());
            let due = state.written.is_none_or(|at| at.elapsed() >= REWRITE);
            if due {
                state.written = Some(Instant::now());
            }
            due
        };
        if write {
            if let Err(e) = store(&self.pool, &self.key, &notice).await {
                tracing::debug!(error = %e, "could not record Jobber's version warning in Redis");
            }
        }
    }

    /// The last warning this process saw, if any.
    pub(crate) fn last(&self) -> Option<VersionNotice> {
        self.state.lock().expect("not poisoned").last.clone()
    }
}

fn notice_key(keys: &Keys) -> String {
    keys.key("jobber", "version-warning")
}

async fn store(pool: &Pool, key: &str, notice: &VersionNotice) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let json = serde_json::to_string(notice).map_err(|e| e.to_string())?;
    redis::cmd("SET")
        .arg(key)
        .arg(json)
        .arg("EX")
        .arg(KEEP.as_secs())
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| e.to_string())
}

/// The last version warning any process recorded in the last day (`sjctl status`).
pub async fn recorded_notice(pool: &Pool, keys: &Keys) -> Result<Option<VersionNotice>, String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let json: Option<String> =
        redis::cmd("GET").arg(notice_key(keys)).query_async(&mut conn).await.map_err(|e| e.to_string())?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}
