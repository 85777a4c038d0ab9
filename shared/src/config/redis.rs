//! `[redis]`: where the processes keep their shared records (Jobber's tokens, leases, the
//! mapping table's copy…).

use serde::{Deserialize, Serialize};

use super::SecretUrl;

/// `[redis]`: the processes' shared records.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port/db`. Set it with `SJ_REDIS__URL` when it holds a password;
    /// it prints as `redis://:***@…` (a [`SecretUrl`]).
    #[serde(skip_serializing)]
    pub url: SecretUrl,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self { url: SecretUrl::parse("redis://127.0.0.1:6379/0").expect("a valid URL") }
    }
}

impl RedisSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if !self.url.has_scheme(&["redis", "rediss"]) {
            problems.push(format!("redis.url: must start with redis:// or rediss:// (found {})", self.url));
        }
    }
}
