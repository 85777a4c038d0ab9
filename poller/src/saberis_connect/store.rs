//! What the SaberisConnect source keeps in Redis: the GUIDs it has taken (the API keeps listing
//! documents after they were fetched, and has no acknowledge call) and the current session token.

use deadpool_redis::Pool;
use redis::AsyncCommands as _;
use sha2::{Digest as _, Sha256};
use sj_shared::config::StartFrom;
use sj_shared::store::Keys;

/// How long a taken GUID is remembered. Long enough to outlive any document in the export list;
/// should one come back after that, the published-content record or, at worst, the worker's own
/// deduplication still keeps it from becoming a second quote.
const REMEMBER_TAKEN_SECONDS: u64 = 400 * 24 * 3600;

/// How long a session token is reused before a new one is asked for anyway. The real lifetime is
/// unknown; a 401 renews it sooner when needed.
const SESSION_SECONDS: u64 = 3600;

/// GUIDs taken from SaberisConnect: published (and confirmed), refused, or recognised as a
/// re-export. A GUID is recorded only once its document is safe (confirmed or kept in
/// `rejected/`), so a crash in between means it is taken again, never lost.
#[derive(Clone)]
pub struct TakenGuids {
    pool: Pool,
    keys: Keys,
}

impl TakenGuids {
    pub fn new(pool: Pool, keys: Keys) -> Self {
        Self { pool, keys }
    }

    /// For each GUID, whether it was taken already (one round trip).
    pub async fn taken(&self, guids: &[String]) -> anyhow::Result<Vec<bool>> {
        if guids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.get().await?;
        let mut pipe = redis::pipe();
        for guid in guids {
            pipe.exists(self.key(guid));
        }
        Ok(pipe.query_async(&mut conn).await?)
    }

    /// Records a GUID as taken, with what became of it (for an operator reading Redis).
    pub async fn record(&self, guid: &str, outcome: &str) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await?;
        let () = conn.set_ex(self.key(guid), outcome, REMEMBER_TAKEN_SECONDS).await?;
        Ok(())
    }

    /// Records GUIDs as taken, all with one outcome (one round trip).
    pub async fn record_all(&self, guids: &[String], outcome: &str) -> anyhow::Result<()> {
        if guids.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.get().await?;
        let mut pipe = redis::pipe();
        for guid in guids {
            pipe.set_ex(self.key(guid), outcome, REMEMBER_TAKEN_SECONDS).ignore();
        }
        let () = pipe.query_async(&mut conn).await?;
        Ok(())
    }

    /// For each GUID, what became of it (`None`: not taken), one round trip.
    pub async fn outcomes(&self, guids: &[String]) -> anyhow::Result<Vec<Option<String>>> {
        if guids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.get().await?;
        let mut pipe = redis::pipe();
        for guid in guids {
            pipe.get(self.key(guid));
        }
        Ok(pipe.query_async(&mut conn).await?)
    }

    /// Whether any GUID was ever recorded as taken: an installation that polled before first
    /// polls held anything back (its first poll with this version is not a first connection).
    pub async fn any(&self) -> anyhow::Result<bool> {
        let mut conn = self.pool.get().await?;
        let pattern = self.key("*");
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                return Ok(true);
            }
            if next == 0 {
                return Ok(false);
            }
            cursor = next;
        }
    }

    fn key(&self, guid: &str) -> String {
        self.keys.key("saberis-taken", guid)
    }
}

/// What a GUID's record says when the first poll held its document back: it was listed before
/// the bridge's first poll. The backfill takes such documents; any other record means taken.
pub const BEFORE_BRIDGE: &str = "before the bridge";

/// Whether a GUID's record is [`BEFORE_BRIDGE`].
pub fn is_before_bridge(outcome: &str) -> bool {
    outcome.starts_with(BEFORE_BRIDGE)
}

/// Where this installation stands with its first poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineState {
    /// No record: a first connection (or Redis lost its data).
    Absent,
    /// The first poll began and has not classified every listed export yet.
    Pending,
    /// The first poll is over: every export listed since is new.
    Done,
}

/// The record of the installation's first poll: `pending …` once it began, `done …` once every
/// export it listed was published or recorded as before the bridge. Never expires (a first
/// connection happens once); gone only with Redis' data.
pub struct Baseline {
    pool: Pool,
    key: String,
    /// When this process last found the first poll done: a running poller that then finds no
    /// record knows Redis lost its data, not that the installation is new.
    seen_done: std::sync::Mutex<Option<std::time::SystemTime>>,
    /// The rule of a first poll this process began in place of `start_from` (after Redis lost
    /// its data), kept until that poll is over.
    rule: std::sync::Mutex<Option<StartFrom>>,
}

impl Baseline {
    pub fn new(pool: Pool, keys: &Keys) -> Self {
        Self {
            pool,
            key: keys.key("saberis-connect", "first-poll"),
            seen_done: std::sync::Mutex::new(None),
            rule: std::sync::Mutex::new(None),
        }
    }

    pub async fn state(&self) -> anyhow::Result<BaselineState> {
        let mut conn = self.pool.get().await?;
        let value: Option<String> = conn.get(&self.key).await?;
        let state = match value.as_deref() {
            None => BaselineState::Absent,
            Some(v) if v.starts_with("pending") => BaselineState::Pending,
            Some(_) => BaselineState::Done,
        };
        if state == BaselineState::Done {
            *self.seen_done.lock().expect("not poisoned") = Some(std::time::SystemTime::now());
        }
        Ok(state)
    }

    /// When this process last found the first poll done, if it ever did.
    pub fn last_seen_done(&self) -> Option<std::time::SystemTime> {
        *self.seen_done.lock().expect("not poisoned")
    }

    /// The rule this process began the pending first poll with, if not `start_from`.
    pub fn pending_rule(&self) -> Option<StartFrom> {
        self.rule.lock().expect("not poisoned").clone()
    }

    /// The first poll begins (unless a record exists already), with `rule` in place of
    /// `start_from` if given.
    pub async fn begin(&self, note: &str, rule: Option<StartFrom>) -> anyhow::Result<()> {
        *self.rule.lock().expect("not poisoned") = rule;
        let mut conn = self.pool.get().await?;
        let _: Option<String> = conn
            .set_options(
                &self.key,
                format!("pending since {} ({note})", now_text()),
                redis::SetOptions::default().conditional_set(redis::ExistenceCheck::NX),
            )
            .await?;
        Ok(())
    }

    /// The first poll is over.
    pub async fn done(&self, note: &str) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await?;
        let () = conn.set(&self.key, format!("done {} ({note})", now_text())).await?;
        *self.rule.lock().expect("not poisoned") = None;
        *self.seen_done.lock().expect("not poisoned") = Some(std::time::SystemTime::now());
        Ok(())
    }
}

fn now_text() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The SaberisConnect session token, shared by every run and replica of the poller. The key
/// carries a fingerprint of the base URL and auth token, so changing either never reuses a
/// session of the other account.
#[derive(Clone)]
pub struct SessionCache {
    pool: Pool,
    key: String,
}

impl SessionCache {
    pub fn new(pool: Pool, keys: &Keys, base_url: &str, auth_token: &str) -> Self {
        let digest =
            Sha256::new().chain_update(base_url).chain_update([0]).chain_update(auth_token).finalize();
        let fingerprint: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self { pool, key: keys.key("saberis-session", &fingerprint) }
    }

    pub async fn get(&self) -> anyhow::Result<Option<String>> {
        let mut conn = self.pool.get().await?;
        Ok(conn.get(&self.key).await?)
    }

    pub async fn put(&self, token: &str) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await?;
        let () = conn.set_ex(&self.key, token, SESSION_SECONDS).await?;
        Ok(())
    }
}
