//! What the SaberisConnect source keeps in Redis: the GUIDs it has taken (the API keeps listing
//! documents after they were fetched, and has no acknowledge call) and the current session token.

use deadpool_redis::Pool;
use redis::AsyncCommands as _;
use sha2::{Digest as _, Sha256};
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

    fn key(&self, guid: &str) -> String {
        self.keys.key("saberis-taken", guid)
    }
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
