//! The parser on real documents (../shared/fixtures) and on the project's samples.

mod fixtures;
mod samples;
