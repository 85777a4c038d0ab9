//! `sj-alerter`: consumes the dead letters' copy in `sj.alerts` and emails operators a digest of
//! the documents that need a person (docs/operations.md, "Alerts (sj-alerter)").
//!
//! No alert is lost: a delivery is acked only once the SMTP server accepted the email that tells
//! of it. While the server is away the deliveries stay unacked in this process and the email is
//! tried again with backoff; if this process dies they return to the queue and the next one
//! sends them. Delivery is therefore at least once: a crash between the server's acceptance and
//! the acks means the same alert is emailed twice. (A lost ack alone does not: [`told`].)

//!
//! - [`startup`]: from the settings to a consuming alerter, reconnecting until shutdown;
//! - [`consume`]: one connection's life: consume, digest, email, ack (or park what the mail
//!   server refuses for good);
//! - [`alert`], [`digest`], [`mail`]: an alert read from a dead letter, the digests of a window,
//!   the email;
//! - [`told`]: what this process emailed lately (a redelivery after a lost ack is not emailed
//!   again).

pub mod alert;
pub mod consume;
pub mod digest;
pub mod mail;
pub mod startup;
pub mod told;
