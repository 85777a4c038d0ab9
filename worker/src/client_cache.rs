//! The clients the worker resolved recently, with their properties, in Redis: a known customer's
//! next document needs no Jobber request to find its client and property. An entry lives an hour
//! (`TTL`), and goes as soon as Jobber refuses what it says: a `quoteCreate` or `propertyCreate`
//! refused for a cached client or property makes the worker read the client from Jobber again
//! (a client deleted, a property added or removed in Jobber meanwhile).

use std::time::Duration;

use deadpool_redis::redis::AsyncCommands;
use deadpool_redis::Pool;
use sj_shared::ids::ClientId;
use sj_shared::jobber::ops::ClientSummary;
use sj_shared::store::Keys;

/// How long a client read from Jobber is used without reading it again.
pub const TTL: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct ClientCache {
    pool: Pool,
    keys: Keys,
}

impl ClientCache {
    pub fn new(pool: Pool, keys: Keys) -> Self {
        Self { pool, keys }
    }

    fn key(&self, client_id: &ClientId) -> String {
        self.keys.key("client", client_id.as_str())
    }

    /// The cached client; a Redis failure is a miss (Jobber is asked instead).
    pub async fn get(&self, client_id: &ClientId) -> Option<ClientSummary> {
        let mut conn = self.pool.get().await.ok()?;
        let json: Option<String> = conn.get(self.key(client_id)).await.ok()?;
        json.and_then(|j| serde_json::from_str(&j).ok())
    }

    pub async fn put(&self, client: &ClientSummary) {
        let Ok(mut conn) = self.pool.get().await else { return };
        let json = serde_json::to_string(client).expect("a client serializes");
        let stored: Result<(), _> = conn.set_ex(self.key(&client.id), json, TTL.as_secs()).await;
        if let Err(e) = stored {
            tracing::debug!(client = %client.id, error = %e, "could not cache the client");
        }
    }

    pub async fn forget(&self, client_id: &ClientId) {
        if let Ok(mut conn) = self.pool.get().await {
            let _: Result<(), _> = conn.del(self.key(client_id)).await;
        }
    }
}
