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
/// How long the claim of a notice that Jobber refuses a connection is kept (seconds).
const REFUSAL_NOTICE_KEEP: u64 = 30 * 24 * 3600;

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

/// What `sjctl jobber disconnect` leaves in Redis in place of the tokens: neither the configured
/// refresh token (`jobber.refresh_token`) nor a process's memory of the last tokens may bring
/// back a connection the operator ended. Only [`TokenStore::store_initial`] replaces it.
#[derive(Serialize, Deserialize)]
struct Tombstone {
    /// Unix seconds.
    disconnected_at: u64,
}

/// The Jobber connection as Redis records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenState {
    /// Tokens are stored.
    Connected(TokenSet),
    /// Ended by `sjctl jobber disconnect` at this time (Unix seconds); `sjctl jobber connect`
    /// makes a new connection.
    Disconnected { at: u64 },
    /// Nothing stored (never connected, or Redis lost it): the configured refresh token, if any,
    /// starts the connection.
    NotStored,
}

impl TokenState {
    fn read(json: Option<&str>) -> Self {
        let Some(json) = json else { return Self::NotStored };
        if let Ok(tokens) = serde_json::from_str::<TokenSet>(json) {
            return Self::Connected(tokens);
        }
        match serde_json::from_str::<Tombstone>(json) {
            Ok(tombstone) => Self::Disconnected { at: tombstone.disconnected_at },
            Err(_) => Self::NotStored,
        }
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
    /// The token store of this installation: its namespace, its Jobber app and the refresh token
    /// configured for a first start.
    pub fn from_settings(settings: &crate::config::Settings, pool: Pool, http: reqwest::Client) -> Self {
        let jobber = &settings.jobber;
        Self::new(
            pool,
            Keys::new(&settings.namespace),
            http,
            &jobber.api_url,
            &jobber.client_id,
            jobber.client_secret.clone(),
            jobber.refresh_token.clone(),
        )
    }

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

    /// The stored tokens, if any (`None` after a disconnect too: see [`Self::state`]).
    pub async fn load(&self) -> Result<Option<TokenSet>, JobberError> {
        Ok(match self.state().await? {
            TokenState::Connected(tokens) => Some(tokens),
            TokenState::Disconnected { .. } | TokenState::NotStored => None,
        })
    }

    /// What Redis holds. When it has nothing but this process knew tokens (Redis restarted
    /// without persistence), they are written back first, if no other process did so already:
    /// losing Redis must not disconnect the bridge from Jobber. A disconnect's tombstone makes
    /// this process forget the tokens it knew.
    pub async fn state(&self) -> Result<TokenState, JobberError> {
        let mut conn = self.pool.get().await.map_err(redis_error)?;
        let json: Option<String> = conn.get(self.key()).await.map_err(redis_error)?;
        let state = match TokenState::read(json.as_deref()) {
            TokenState::NotStored => match self.last_known() {
                Some(known) => {
                    let json = serde_json::to_string(&known).expect("tokens serialize");
                    let _: bool = conn.set_nx(self.key(), json).await.map_err(redis_error)?;
                    tracing::warn!("Redis had no Jobber tokens: restored the last ones this process knew");
                    let json: Option<String> = conn.get(self.key()).await.map_err(redis_error)?;
                    TokenState::read(json.as_deref())
                }
                None => TokenState::NotStored,
            },
            state => state,
        };
        match &state {
            TokenState::Connected(tokens) => self.remember(tokens),
            TokenState::Disconnected { .. } => self.forget(),
            TokenState::NotStored => {}
        }
        Ok(state)
    }

    /// Exchanges an authorization code (the OAuth callback's `code`) for the first tokens of a
    /// connection. Stores nothing: see [`Self::store_initial`].
    pub async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<TokenSet, JobberError> {
        let Some(secret) = &self.client_secret else {
            return Err(JobberError::new(
                JobberErrorKind::Invalid,
                "jobber.client_secret is not set (SJ_JOBBER__CLIENT_SECRET or jobber.client_secret_file)",
            ));
        };
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret.expose()),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        let response = self.http.post(&self.token_url).form(&form).send().await.map_err(|e| {
            JobberError::new(JobberErrorKind::Unavailable, format!("code exchange: {}", without_url(&e)))
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let kind = if status.is_server_error() || status.as_u16() == 429 {
                JobberErrorKind::Unavailable
            } else {
                JobberErrorKind::Unauthorized
            };
            return Err(JobberError::new(
                kind,
                format!("Jobber refused the authorization code (HTTP {status}: {})", oauth_error_text(&body)),
            ));
        }
        let body: TokenResponse = response.json().await.map_err(|e| {
            JobberError::new(JobberErrorKind::Invalid, format!("code exchange: unexpected response: {e}"))
        })?;
        Ok(token_set(body))
    }

    /// Stores the first tokens of a new connection (`sjctl jobber connect`), replacing whatever
    /// is stored, a disconnect's tombstone included. Written as a refresh writes them, under the
    /// refresh lock, so that a refresh in flight cannot overwrite them with the old connection's.
    pub async fn store_initial(&self, tokens: &TokenSet) -> Result<(), JobberError> {
        let lock = self.refresh_lock().await?;
        let result = self.store(tokens).await;
        lock.release(&self.pool).await;
        result
    }

    /// Ends the connection on this side (after Jobber was told, `appDisconnect`): the tokens are
    /// replaced by a tombstone, under the refresh lock, and this process forgets them. From then
    /// on every request fails with "disconnected: run sjctl jobber connect", whatever refresh
    /// token the configuration holds, until [`Self::store_initial`].
    pub async fn disconnect(&self) -> Result<(), JobberError> {
        let lock = self.refresh_lock().await?;
        let result = async {
            let json = serde_json::to_string(&Tombstone { disconnected_at: now() }).expect("serializes");
            let mut conn = self.pool.get().await.map_err(redis_error)?;
            conn.set::<_, _, ()>(self.key(), json).await.map_err(redis_error)
        }
        .await;
        lock.release(&self.pool).await;
        self.forget();
        result
    }

    /// Which connection Redis holds, as a short name that every process computes alike: a
    /// fingerprint of the stored refresh token, the time of a disconnect, or `not-stored`. The
    /// workers' notice that Jobber refuses the connection is sent once per name.
    pub async fn connection_id(&self) -> Result<String, JobberError> {
        use sha2::{Digest as _, Sha256};
        Ok(match self.state().await? {
            TokenState::Connected(tokens) => {
                let digest = Sha256::digest(tokens.refresh_token.as_bytes());
                format!("tokens-{}", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>())
            }
            TokenState::Disconnected { at } => format!("disconnected-{at}"),
            TokenState::NotStored => "not-stored".to_owned(),
        })
    }

    fn refusal_notice_key(&self, connection: &str) -> String {
        self.keys.key("jobber", &format!("refusal-told:{connection}"))
    }

    /// Claims the notice that Jobber refuses the connection `connection` ([`Self::connection_id`]):
    /// true for the one process (of all, across restarts) that should send it.
    pub async fn claim_refusal_notice(&self, connection: &str) -> Result<bool, JobberError> {
        let mut conn = self.pool.get().await.map_err(redis_error)?;
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::EX(REFUSAL_NOTICE_KEEP));
        let set: Option<String> = conn
            .set_options(self.refusal_notice_key(connection), now(), options)
            .await
            .map_err(redis_error)?;
        Ok(set.is_some())
    }

    /// Gives back a claim whose notice could not be sent (another look sends it).
    pub async fn release_refusal_notice(&self, connection: &str) -> Result<(), JobberError> {
        let mut conn = self.pool.get().await.map_err(redis_error)?;
        conn.del::<_, ()>(self.refusal_notice_key(connection)).await.map_err(redis_error)
    }

    /// The refresh lock, waited for as long as one refresh may hold it.
    async fn refresh_lock(&self) -> Result<RedisLock, JobberError> {
        let lock_key = self.keys.key("lock", "jobber-refresh");
        let wait = REFRESH_LOCK + Duration::from_secs(5);
        RedisLock::acquire(&self.pool, &lock_key, REFRESH_LOCK, wait).await.map_err(redis_error)?.ok_or_else(
            || {
                JobberError::new(
                    JobberErrorKind::Unavailable,
                    "another process held the Jobber token lock too long; try again",
                )
            },
        )
    }

    fn remember(&self, tokens: &TokenSet) {
        *self.last_known.lock().expect("token memory") = Some(tokens.clone());
        crate::observe::metrics().access_token_expiry(Some(tokens.expires_at));
    }

    fn forget(&self) {
        *self.last_known.lock().expect("token memory") = None;
        crate::observe::metrics().access_token_expiry(None);
    }

    fn last_known(&self) -> Option<TokenSet> {
        self.last_known.lock().expect("token memory").clone()
    }

    /// A valid access token, refreshed first when it expires soon.
    pub async fn access_token(&self) -> Result<String, JobberError> {
        match self.state().await? {
            TokenState::Connected(tokens) if !expires_soon(tokens.expires_at) => Ok(tokens.access_token),
            TokenState::Connected(tokens) => Ok(self.refresh(Some(&tokens.access_token)).await?.access_token),
            TokenState::Disconnected { at } => Err(disconnected(at)),
            TokenState::NotStored => Ok(self.refresh(None).await?.access_token),
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
            match self.state().await? {
                TokenState::Connected(tokens)
                    if Some(tokens.access_token.as_str()) != stale && !expires_soon(tokens.expires_at) =>
                {
                    return Ok(tokens)
                }
                TokenState::Disconnected { at } => return Err(disconnected(at)),
                _ => {}
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
        let current = match self.state().await? {
            TokenState::Connected(tokens) => Some(tokens),
            TokenState::Disconnected { at } => return Err(disconnected(at)),
            TokenState::NotStored => None,
        };
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
                    "Jobber refused the token refresh (HTTP {status}: {body}); reconnect the Jobber account \
                     (sjctl jobber connect)"
                ),
            ));
        }
        let body: TokenResponse = response.json().await.map_err(|e| {
            JobberError::new(JobberErrorKind::Invalid, format!("token refresh: unexpected response: {e}"))
        })?;
        let tokens = token_set(body);
        // Stored before anyone uses it: the old refresh token is already dead.
        self.store(&tokens).await?;
        tracing::info!(expires_at = tokens.expires_at, "Jobber tokens refreshed");
        Ok(tokens)
    }
}

fn token_set(body: TokenResponse) -> TokenSet {
    TokenSet {
        expires_at: jwt_expiry(&body.access_token).unwrap_or_else(|| now() + 3600),
        access_token: body.access_token,
        refresh_token: body.refresh_token,
    }
}

/// Why every request fails after `sjctl jobber disconnect`.
fn disconnected(at: u64) -> JobberError {
    let when = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(at));
    JobberError::new(
        JobberErrorKind::Unauthorized,
        format!(
            "disconnected: run sjctl jobber connect (sjctl jobber disconnect ended the Jobber connection \
             at {when} and revoked its tokens)"
        ),
    )
}

/// `error: error_description` of an OAuth error body, else the body (shortened).
fn oauth_error_text(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name)?.as_str().map(str::to_owned));
    match (field("error"), field("error_description")) {
        (Some(error), Some(description)) => format!("{error}: {description}"),
        (Some(error), None) => error,
        _ => body.chars().take(200).collect(),
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
    fn tokens_tombstone_or_nothing() {
        let t = TokenSet { access_token: "a.b.c".into(), refresh_token: "r".into(), expires_at: 5 };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(TokenState::read(Some(&json)), TokenState::Connected(t));
        assert_eq!(TokenState::read(Some(r#"{"disconnected_at":7}"#)), TokenState::Disconnected { at: 7 });
        assert_eq!(TokenState::read(Some("garbage")), TokenState::NotStored);
        assert_eq!(TokenState::read(None), TokenState::NotStored);
        let text = disconnected(0).to_string();
        assert!(text.contains("disconnected: run sjctl jobber connect"), "{text}");
    }

    #[test]
    fn debug_hides_the_tokens() {
        let t = TokenSet { access_token: "a.b.c".into(), refresh_token: "r3fr3sh".into(), expires_at: 5 };
        let printed = format!("{t:?}");
        assert!(!printed.contains("r3fr3sh") && !printed.contains("a.b.c"), "{printed}");
    }
}
