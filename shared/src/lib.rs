//! The library every binary of the Saberis–Jobber bridge shares.
//!
//! - [`saberis`]: the Saberis order document, its parser (XML and SaberisConnect JSON) and the
//!   dealer's sanity rules;
//! - [`message`]: `sj.quote-request.v1`, the message between poller and workers, and the
//!   normalization that produces it;
//! - [`failure`]: every way a document can fail, its class and the operator's hint;
//! - [`config`]: the typed settings, layered from a TOML file and the environment;
//! - [`amqp`]: the RabbitMQ topology and publishing with confirms;
//! - [`telemetry`]: logging set up once for all binaries;
//! - [`observe`]: `/healthz`, `/readyz` and `/metrics` of the long-running processes;
//! - [`runtime`]: what every long-running binary does the same way: start, shutdown, reconnect;
//! - [`template`]: the small template language of the quote's title and message.

pub mod amqp;
pub mod config;
pub mod failure;
pub mod jobber;
pub mod mapping;
pub mod message;
pub mod observe;
pub mod runtime;
pub mod saberis;
pub mod store;
pub mod telemetry;
pub mod template;
