//! The library every binary of the Saberis–Jobber bridge shares.
//!
//! - [`saberis`]: the Saberis order document, its parser (XML and SaberisConnect JSON) and the
//!   dealer's sanity rules;
//! - [`message`]: `sj.quote-request.v1`, the message between poller and workers, and the
//!   normalization that produces it;
//! - [`config`]: the typed settings, layered from a TOML file and the environment;
//! - [`telemetry`]: logging set up once for all binaries.

pub mod config;
pub mod message;
pub mod saberis;
pub mod telemetry;
