//! The poller: takes Saberis exports from the watched folder and/or the SaberisConnect API and
//! publishes one quote message per document, never losing a document (docs/architecture.md). The
//! binary `sj-poller` is wiring; [`startup::run`] is the whole process.
//!
//! - [`startup`]: from the settings to the sources, one broker round after another;
//! - [`folder`], [`saberis_connect`]: the two sources, which differ only in how they list and
//!   take documents;
//! - [`publish`]: the publishing path both sources share (in-flight window, already-published
//!   check, finish, refused → dead letter);
//! - [`place`]: where a file goes once published or refused;
//! - [`backfill`]: what `--once --since` asks for and how it lists what it would take.

pub mod backfill;
pub mod folder;
pub mod place;
pub mod publish;
pub mod saberis_connect;
pub mod startup;

/// One document's span, from reading it to the broker's confirmation: the root of its trace. The
/// message's `traceparent` names it, and its `trace_id` field (logged) is set when it is published.
pub(crate) fn document_span(source: &str) -> tracing::Span {
    tracing::info_span!("document", source, trace_id = tracing::field::Empty)
}
