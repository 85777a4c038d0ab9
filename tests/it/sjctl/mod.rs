//! `sjctl`, run as a user runs it: arguments, stdout, stderr, exit codes.

mod dlq;
mod jobber;
mod parse;
mod status;
mod undo;
mod verify;
