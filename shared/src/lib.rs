//! The library every binary of the Saberis–Jobber bridge shares, in layers: a module uses only
//! modules below it, and no two modules use each other (`shared/tests/layers.rs` checks both).
//!
//! ```text
//!   runtime              start-up helpers of the binaries: may use everything below
//!   dead_letters                         the parked documents: list, replay, purge (on amqp and store)
//!   amqp   jobber   mapping              transport (carries messages, never parses) and services
//!   observe                              health and metrics, which the services report to
//!   telemetry   store                    logging and traces; Redis records, locks, the epoch
//!   config                               the typed settings (a few section types live in the module they configure)
//!   intake                               document → message: parse, normalize, sanity rules, content hash,
//!                                        the dead letter of a refused document
//!   saberis          message             the parser and model  |  the wire types; unaware of each other
//!   failure   address   template   ids   leaves: failure kinds, the postal address, the title template,
//!                                        the identifiers (content hash, Jobber ids)
//! ```
//!
//! - [`failure`]: every way a document can fail (the parser's kinds included), its stable name,
//!   its class and the operator's hint;
//! - [`address`]: the postal address, in Jobber's terms;
//! - [`ids`]: the identifiers passed around (content hash, Jobber ids), each a type of its own;
//! - [`template`]: the small template language of the quote's title and message;
//! - [`saberis`]: the Saberis order document, its parser (XML and SaberisConnect JSON), its
//!   limits and its renderer;
//! - [`message`]: the messages on the wire, `sj.quote-request.v1` (poller → workers) and
//!   `sj.rejected-document.v1` (a refused document's dead letter);
//! - [`intake`]: document → message (parse, normalize, the dealer's sanity rules, the content
//!   hash, the dead letter of a refused document);
//! - [`config`]: the typed settings, layered from a TOML file and the environment;
//! - [`telemetry`]: logging and traces, set up once for all binaries;
//! - [`store`]: Redis: crosswalk, published documents, history, locks, the epoch;
//! - [`amqp`]: the RabbitMQ topology, consuming, and publishing with confirms;
//! - [`jobber`]: the Jobber client (tokens, budget, error classes) and its operations;
//! - [`mapping`]: the customer → Jobber client mapping table (CSV or Google Sheet) and its index;
//! - [`dead_letters`]: the parked dead letters as an operator handles them (list, replay, purge),
//!   shared by `sjctl dlq` and the console;
//! - [`observe`]: `/healthz`, `/readyz` and `/metrics` of the long-running processes;
//! - [`runtime`]: what every long-running binary does the same way: start, shutdown, reconnect.

pub mod address;
pub mod amqp;
pub mod catalog_name;
pub mod config;
pub mod dead_letters;
pub mod failure;
pub mod ids;
pub mod intake;
pub mod jobber;
pub mod mapping;
pub mod message;
pub mod observe;
pub mod pricing;
pub mod runtime;
pub mod saberis;
pub mod store;
pub mod telemetry;
pub mod template;
