//! All integration tests, gathered into one binary so the workspace links it once.
//!
//! Each module covers one part of the product; helpers shared by several live in `support`.

mod alerter;
mod console;
mod fault_run;
mod mapping;
mod observe;
mod parser;
mod pipeline;
mod sandbox;
mod secrets;
mod sjctl;
mod support;
mod tls;
