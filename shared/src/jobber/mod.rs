//! Jobber's GraphQL API: the client (tokens, HTTP, error classes) and the operations the bridge
//! uses.
//!
//! Every failure is classified once, here, as transient (retry later: network, timeouts, 5xx,
//! 429, THROTTLED, an expired or revoked connection) or permanent (Jobber refused the request:
//! userErrors, GraphQL errors). The worker only reads the class.

mod breaker;
mod budget;
mod client;
pub mod jobs;
pub mod operations;
pub mod ops;
mod tokens;
mod version;

use crate::failure::FailureKind;

pub use breaker::{Breaker, BreakerRules};
pub use budget::{CostBudget, REQUEST_LIMIT, REQUEST_WINDOW};
pub use client::JobberClient;
pub use tokens::{TokenSet, TokenState, TokenStore};
pub use version::{recorded_notice, VersionNotice};

/// Why a Jobber call failed, and whether trying again later can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct JobberError {
    pub kind: JobberErrorKind,
    pub message: String,
    /// Not sent at all: the installation's own budget said wait longer than a request may (its
    /// window spent, or its cost bucket low while other documents drew on it). Nothing reached
    /// Jobber; the document only needs to come back a little later.
    pub deferred: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobberErrorKind {
    /// Network error, timeout, HTTP 5xx: Jobber (or the way to it) is down.
    Unavailable,
    /// HTTP 429 or a THROTTLED GraphQL error: over the request or cost budget.
    Throttled,
    /// No valid token: the refresh failed or the connection was revoked (reconnect Jobber).
    Unauthorized,
    /// Jobber refused the input (`userErrors`): retrying the same document cannot help.
    UserError,
    /// The request itself was wrong (GraphQL errors, unexpected response): a bug or an API change.
    Invalid,
}

impl JobberErrorKind {
    /// Every kind.
    pub const ALL: &'static [JobberErrorKind] =
        &[Self::Unavailable, Self::Throttled, Self::Unauthorized, Self::UserError, Self::Invalid];

    /// The stable name, as put in dead-letter headers (`jobber.user-error`): [`FailureKind::name`].
    pub fn as_str(self) -> &'static str {
        FailureKind::from(self).name()
    }
}

impl From<JobberErrorKind> for FailureKind {
    fn from(kind: JobberErrorKind) -> Self {
        match kind {
            JobberErrorKind::Unavailable => FailureKind::JobberUnavailable,
            JobberErrorKind::Throttled => FailureKind::JobberThrottled,
            JobberErrorKind::Unauthorized => FailureKind::JobberUnauthorized,
            JobberErrorKind::UserError => FailureKind::JobberUserError,
            JobberErrorKind::Invalid => FailureKind::JobberInvalidRequest,
        }
    }
}

impl std::fmt::Display for JobberErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl JobberError {
    pub fn new(kind: JobberErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), deferred: false }
    }

    /// The request was held back by the shared budget, not sent ([`JobberError::deferred`]).
    pub fn deferred(message: impl Into<String>) -> Self {
        Self { deferred: true, ..Self::new(JobberErrorKind::Throttled, message) }
    }

    /// True when the same request may succeed later (the kind's [`crate::failure::Class`]).
    pub fn is_transient(&self) -> bool {
        FailureKind::from(self.kind).is_transient()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jobber_kind_is_a_failure_kind() {
        for kind in JobberErrorKind::ALL {
            assert!(
                FailureKind::ALL.contains(&FailureKind::from(*kind)),
                "{kind:?} is missing from FailureKind::ALL"
            );
        }
    }
}
