//! The worker: consumes quote messages and writes each one to Jobber exactly once. The binary
//! `sj-worker` is wiring; [`startup::run`] is the whole process, so a test can also run a worker
//! inside its own runtime.
//!
//! - [`startup`]: from the settings to a consuming worker, reconnecting until shutdown;
//! - [`consume`]: one delivery, start to finish (ack, retry tier or dead letter);
//! - [`outage`]: Jobber failing for everyone: documents held, Jobber probed, the tiers emptied
//!   of the outage's documents when it answers (the shared circuit breaker); [`outage_notice`]:
//!   the operators told of an outage that lasts (`alerts.outage_after`), and when it ends;
//!   [`unauthorized_notice`]: told once when Jobber refuses the bridge's connection;
//! - [`pacing`]: waiting, holding no lock, for room in Jobber's budget;
//! - [`write`]: the exactly-once write of one document, with [`lookup`] deciding when Jobber must
//!   be asked whether an earlier attempt got there;
//! - [`resolve`]: the Jobber client and property of a document (mapping table, searches,
//!   creation), with [`client_cache`];
//! - [`quote`]: the dealer's pricing and presentation rules;
//! - [`write::job`]: PO routing to a job (the document's lines added to the job its PO names);
//! - [`review`]: the review gate (`review.when`): documents held for a person's approval in the
//!   console, published to `sj.review`; an approved one written as decided;
//! - [`effects`]: what a document changes besides Jobber, and the one place `--dry-run` is decided
//!   (with [`sj_shared::jobber::JobberClient::dry_run`]).

pub mod client_cache;
pub mod consume;
pub mod effects;
pub mod failure;
pub mod lookup;
pub mod outage;
pub mod outage_notice;
pub mod pacing;
pub mod quote;
pub mod resolve;
pub mod review;
pub mod scan_cache;
pub mod startup;
pub mod unauthorized_notice;
pub mod write;
