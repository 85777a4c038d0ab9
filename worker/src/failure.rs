//! Why a document was not written: a [`FailureKind`] (its class says whether a later attempt can
//! do better) and the reason. Below the steps that fail (resolve, write) and the consumer that
//! routes by it.

use sj_shared::failure::FailureKind;
use sj_shared::jobber::JobberError;
use sj_shared::mapping::MappingError;
use sj_shared::store::StoreError;

/// Why it did not; whether a later attempt can do better is the kind's class.
#[derive(Debug)]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
}

impl Failure {
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        Self { kind, reason: reason.into() }
    }

    /// True when a later attempt may succeed: the retry tiers.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

impl From<JobberError> for Failure {
    fn from(e: JobberError) -> Self {
        Self::new(e.kind.into(), e.message)
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
