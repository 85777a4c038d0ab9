//! Jobber's OAuth tokens, shared by every worker through Redis.
//!
//! Jobber rotates refresh tokens: each refresh returns a new one and kills the old one at once.
//! Two processes refreshing at the same time lock each other out (the most reported failure of
//! Jobber integrations). So a refresh is single-flight across all processes, under a Redis lock,
//! and the rotated tokens are stored before anything uses them. Others wait for the new tokens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use deadpool_redis::Pool;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::{JobberError, JobberErrorKind};
use crate::config::Secret;
use crate::store::{Keys, RedisLock};

/// Refresh this long before the access token expires.
const REFRESH_AHEAD: Duration = Duration::from_secs(120);
/// How long one refresh may hold the lock (then another process may try).
const REFRESH_LOCK: Duration = Duration::from_secs(20);

/// The tokens of one Jobber connection.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: String,
    /// Unix seconds, from the access token's `exp` claim.
    pub expires_at: u64,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// Where the tokens live and how they are refreshed.
#[derive(Clone)]
pub struct TokenStore {
    pool: Pool,
    keys: Keys,
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Option<Secret>,
    /// The refresh token from the configuration, for when Redis holds none.
    bootstrap: Option<Secret>,
    /// The last tokens this process saw: if Redis restarts empty, they go back (see [`Self::load`]).
    last_known: std::sync::Arc<std::sync::Mutex<Option<TokenSet>>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
}

impl TokenStore {
    pub fn new(
        pool: Pool,
        keys: Keys,
        http: reqwest::Client,
        api_url: &str,
        client_id: &str,
        client_secret: Option<Secret>,
        bootstrap: Option<Secret>,
    ) -> Self {
        Self {
            pool,
            keys,
            http,
            token_url: format!("{}/api/oauth/token", api_url.trim_end_matches('/')),
            client_id: client_id.to_owned(),
            client_secret,
            bootstrap,
            last_known: Default::default(),
        }
    }

    fn key(&self) -> String {
        self.keys.key("jobber", "tokens")
    }

    /// Stores tokens (after `sjctl jobber connect`, or in tests).
    pub async fn store(&self, tokens: &TokenSet) -> Result<(), JobberError> {
        let json = serde_json::to_string(tokens).expect("tokens serialize");
        let mut conn = self.pool.get().await.map_err(redis_error)?;
        conn.set::<_, _, ()>(self.key(), json).await.map_err(redis_error)?;
        self.remember(tokens);
        Ok(())
    }

    /// The stored tokens, if any. When Redis has none but this process knew some (Redis
    /// restarted without persistence), they are written back first, if no other process did so
    /// already: losing Redis must not disconnect the bridge from Jobber.
    pub async fn load(&self) -> Result<Option<TokenSet>, JobberError> {
        let mut conn = self.pool.get().await.map_err(redis_error)?;
        let json: Option<String> = conn.get(self.key()).await.map_err(redis_error)?;
        let tokens = match json.and_then(|j| serde_json::from_str::<TokenSet>(&j).ok()) {
            Some(tokens) => Some(tokens),
            None => match self.last_known() {
                Some(known) => {
                    let json = serde_json::to_string(&known).expect("tokens serialize");
                    let _: bool = conn.set_nx(self.key(), json).await.map_err(redis_error)?;
                    tracing::warn!("Redis had no Jobber tokens: restored the last ones this process knew");
                    let json: Option<String> = conn.get(self.key()).await.map_err(redis_error)?;
                    json.and_then(|j| serde_json::from_str(&j).ok())
                }
                None => None,
            },
        };
        if let Some(tokens) = &tokens {
            self.remember(tokens);
        }
        Ok(tokens)
    }

    fn remember(&self, tokens: &TokenSet) {
        *self.last_known.lock().expect("token memory") = Some(tokens.clone());
    }

    fn last_known(&self) -> Option<TokenSet> {
        self.last_known.lock().expect("token memory").clone()
    }

    /// A valid access token, refreshed first when it expires soon.
    pub async fn access_token(&self) -> Result<String, JobberError> {
        match self.load().await? {
            Some(tokens) if !expires_soon(tokens.expires_at) => Ok(tokens.access_token),
            Some(tokens) => Ok(self.refresh(Some(&tokens.access_token)).await?.access_token),
            None => Ok(self.refresh(None).await?.access_token),
        }
    }

    /// Refreshes the tokens unless someone already replaced `stale` (the access token that just
    /// failed or is about to expire). Single-flight across processes.
    pub async fn refresh(&self, stale: Option<&str>) -> Result<TokenSet, JobberError> {
        let lock_key = self.keys.key("lock", "jobber-refresh");
        let deadline = tokio::time::Instant::now() + REFRESH_LOCK + Duration::from_secs(5);
        loop {
            if let Some(lock) =
                RedisLock::try_acquire(&self.pool, &lock_key, REFRESH_LOCK).await.map_err(redis_error)?
            {
                let result = self.refresh_holding_lock(stale).await;
                lock.release(&self.pool).await;
                return result;
            }
            // Someone else is refreshing: wait for the new tokens.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(tokens) = self.load().await? {
                if Some(tokens.access_token.as_str()) != stale && !expires_soon(tokens.expires_at) {
                    return Ok(tokens);
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(JobberError::new(
                    JobberErrorKind::Unauthorized,
                    "timed out waiting for another process's token refresh",
                ));
            }
        }
    }

    async fn refresh_holding_lock(&self, stale: Option<&str>) -> Result<TokenSet, JobberError> {
        let current = self.load().await?;
        if let Some(tokens) = &current {
            if Some(tokens.access_token.as_str()) != stale && !expires_soon(tokens.expires_at) {
                return Ok(tokens.clone()); // refreshed by another process meanwhile
            }
        }
        let refresh_token = match (&current, &self.bootstrap) {
            (Some(tokens), _) => tokens.refresh_token.clone(),
            (None, Some(bootstrap)) => bootstrap.expose().to_owned(),
            (None, None) => {
                return Err(JobberError::new(
                    JobberErrorKind::Unauthorized,
                    "Jobber is not connected: no tokens in Redis and no jobber.refresh_token configured",
                ))
            }
        };
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", self.client_id.clone()),
            ("refresh_token", refresh_token),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose().to_owned()));
        }
        let response = self.http.post(&self.token_url).form(&form).send().await.map_err(|e| {
            JobberError::new(JobberErrorKind::Unavailable, format!("token refresh: {}", without_url(&e)))
        })?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(JobberError::new(
                JobberErrorKind::Unavailable,
                format!("token refresh: HTTP {status}"),
            ));
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(JobberError::new(
                JobberErrorKind::Unauthorized,
                format!(
                    "Jobber refused the token refresh (HTTP {status}: {body}); reconnect the Jobber account"
                ),
            ));
        }
        let body: TokenResponse = response.json().await.map_err(|e| {
            JobberError::new(JobberErrorKind::Invalid, format!("token refresh: unexpected response: {e}"))
        })?;
        let tokens = TokenSet {
            expires_at: jwt_expiry(&body.access_token).unwrap_or_else(|| now() + 3600),
            access_token: body.access_token,
            refresh_token: body.refresh_token,
        };
        // Stored before anyone uses it: the old refresh token is already dead.
        self.store(&tokens).await?;
        tracing::info!(expires_at = tokens.expires_at, "Jobber tokens refreshed");
        Ok(tokens)
    }
}

fn expires_soon(expires_at: u64) -> bool {
    expires_at <= now() + REFRESH_AHEAD.as_secs()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The `exp` claim of a JWT, without checking its signature (we are not its audience; Jobber
/// checks it).
pub(crate) fn jwt_expiry(jwt: &str) -> Option<u64> {
    let payload = jwt.split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

/// A reqwest error's text without the URL (which could carry a query string).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!(
        "{kind}: {}",
        std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_else(|| e.to_string())
    )
}

fn redis_error(e: impl std::fmt::Display) -> JobberError {
    JobberError::new(JobberErrorKind::Unavailable, format!("Redis (token store): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_exp_claim() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1767225600,"sub":"1"}"#);
        assert_eq!(jwt_expiry(&format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")), Some(1767225600));
        assert_eq!(jwt_expiry("not-a-jwt"), None);
    }

    #[test]
    fn debug_hides_the_tokens() {
        let t = TokenSet { access_token: "a.b.c".into(), refresh_token: "r3fr3sh".into(), expires_at: 5 };
        let printed = format!("{t:?}");
        assert!(!printed.contains("r3fr3sh") && !printed.contains("a.b.c"), "{printed}");
    }
}
