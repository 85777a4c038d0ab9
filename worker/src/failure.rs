//! Why a document was not written: a [`FailureKind`] (its class says whether a later attempt can
//! do better) and the reason. Below the steps that fail (resolve, write) and the consumer that
//! routes by it.

use sj_shared::failure::FailureKind;
use sj_shared::jobber::{JobberError, JobberErrorKind};
use sj_shared::mapping::MappingError;
use sj_shared::store::StoreError;

/// Why it did not; whether a later attempt can do better is the kind's class.
#[derive(Debug)]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
    /// The attempt had sent, or was sending, the document's write (quote or lines) to Jobber
    /// when it failed: it may have reached Jobber, and a later attempt must look for its marker.
    pub after_write: bool,
    /// Nothing was sent: the shared budget held the request back ([`JobberError::deferred`]).
    pub deferred: bool,
}

impl Failure {
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        Self { kind, reason: reason.into(), after_write: false, deferred: false }
    }

    /// The same failure, of an attempt that had sent (or was sending) the write.
    pub fn after_write(mut self) -> Self {
        self.after_write = true;
        self
    }

    /// True when a later attempt may succeed: the retry tiers.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

impl Failure {
    /// The failure of the write itself (`quoteCreate`, the lines of a PO-routed document): it
    /// may have reached Jobber unless Jobber's answer says it refused the request unexecuted
    /// (THROTTLED, 429 or the shared budget; 401; `userErrors`).
    pub fn of_write(e: JobberError) -> Self {
        let refused_unexecuted = matches!(
            e.kind,
            JobberErrorKind::Throttled | JobberErrorKind::Unauthorized | JobberErrorKind::UserError
        );
        let failure = Self::from(e);
        if refused_unexecuted {
            failure
        } else {
            failure.after_write()
        }
    }
}

impl From<JobberError> for Failure {
    fn from(e: JobberError) -> Self {
        Self { deferred: e.deferred, ..Self::new(e.kind.into(), e.message) }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::new(FailureKind::RedisUnavailable, e.to_string())
    }
}

impl From<MappingError> for Failure {
    fn from(e: MappingError) -> Self {
        Failure::new(e.kind(), e.to_string())
    }
}
