//! The workers' notice that Jobber refuses the bridge's connection.

use serde::{Deserialize, Serialize};

/// A notice to operators, not a document: the workers found Jobber refusing the bridge's tokens
/// (a token refresh refused, tokens revoked, the app disconnected), so no quote can be written
/// until someone connects Jobber again. Sent once per disconnection among all workers (claimed in
/// Redis), straight to `sj.alerts`, marked by the header `sj-alert: jobber-unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobberUnauthorized {
    /// `sj.jobber-unauthorized.v1`.
    pub schema: String,
    /// Which disconnection: the same for every worker that finds it (from the refused tokens, or
    /// the time of a disconnect), another after the next connection.
    pub connection: String,
    /// When a worker found it (Unix ms).
    pub at_ms: u64,
    /// What Jobber or the token store said.
    pub reason: String,
}

impl JobberUnauthorized {
    pub const SCHEMA: &'static str = "sj.jobber-unauthorized.v1";
    /// The value of the `sj-alert` header that marks it.
    pub const ALERT: &'static str = "jobber-unauthorized";

    pub fn new(connection: &str, at_ms: u64, reason: &str) -> Self {
        Self {
            schema: Self::SCHEMA.to_owned(),
            connection: connection.to_owned(),
            at_ms,
            reason: reason.to_owned(),
        }
    }
}
