//! Redis: the bridge's coordinator and cache (never its source of truth; Jobber is). Every key
//! carries the namespace, so installations and test runs share one Redis without meeting.

pub mod epoch;
mod history;
mod lock;
mod parked;
mod published;
mod quotes;

pub use epoch::RedisEpoch;
pub use history::{History, HistoryEntry, Outcome, Totals};
pub use lock::RedisLock;
pub use parked::{Claim, ParkedCopy, ParkedDocuments};
pub use published::PublishedDocuments;
pub use quotes::{Crosswalk, FilledLine, QuoteRecord, RecordedJob, ATTEMPT_KEPT};

use crate::config::RedisSettings;

/// What went wrong talking to Redis. Always transient for a document: retry later.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis connection pool: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    #[error("cannot set up the Redis pool: {0}")]
    Setup(String),
}

/// A pool of Redis connections for `settings.url`.
pub fn pool(settings: &RedisSettings) -> Result<deadpool_redis::Pool, StoreError> {
    deadpool_redis::Config::from_url(settings.url.expose())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| StoreError::Setup(e.to_string()))
}

/// Builds the bridge's Redis keys: `<namespace>:sj:<what>:<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(namespace: &str) -> Self {
        let prefix = if namespace.is_empty() { "sj".to_owned() } else { format!("{namespace}:sj") };
        Self { prefix }
    }

    pub fn key(&self, what: &str, id: &str) -> String {
        format!("{}:{what}:{id}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_namespace() {
        assert_eq!(Keys::new("").key("published", "sha256:ab"), "sj:published:sha256:ab");
        assert_eq!(Keys::new("t1").key("published", "sha256:ab"), "t1:sj:published:sha256:ab");
    }
}
