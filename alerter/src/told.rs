//! What this alerter emailed lately. A delivery comes back (`redelivered`) when its ack was lost:
//! the broker restarted, or the connection dropped, between the mail server's acceptance and the
//! ack. Such a delivery whose message this process already told of is acked without a second
//! email. Only redeliveries are looked up: a new message about the same document (a replay parked
//! again, a file refused again) is a new alert.
//!
//! The memory is this process's: an alerter killed between the email and the acks still emails
//! those alerts again from its successor (at least once, never lost).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use lapin::BasicProperties;
use sha2::{Digest as _, Sha256};

/// How long, and how many, emailed messages are remembered.
const KEEP: Duration = Duration::from_secs(24 * 3600);
const MAX: usize = 10_000;

/// A message's identity: its body, id and headers (a redelivery carries the same).
pub type Fingerprint = [u8; 32];

pub fn fingerprint(body: &[u8], properties: &BasicProperties) -> Fingerprint {
    let mut hash = Sha256::new();
    hash.update(body);
    hash.update([0]);
    if let Some(id) = properties.message_id() {
        hash.update(id.as_str().as_bytes());
    }
    hash.update([0]);
    // The message's own headers, in key order (FieldTable is a sorted map); not the broker's
    // `x-` headers, which it changes on redelivery (a quorum queue's `x-delivery-count`).
    if let Some(headers) = properties.headers() {
        for (key, value) in headers.inner().iter().filter(|(k, _)| !k.as_str().starts_with("x-")) {
            hash.update(format!("{key}={value:?};").as_bytes());
        }
    }
    hash.finalize().into()
}

#[derive(Default)]
pub struct Told {
    order: VecDeque<(Instant, Fingerprint)>,
    set: HashSet<Fingerprint>,
}

impl Told {
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers messages an email told of.
    pub fn emailed(&mut self, fingerprints: impl IntoIterator<Item = Fingerprint>, now: Instant) {
        for f in fingerprints {
            if self.set.insert(f) {
                self.order.push_back((now, f));
            }
        }
        self.forget_old(now);
    }

    /// Whether an email told of this message.
    pub fn contains(&mut self, fingerprint: &Fingerprint, now: Instant) -> bool {
        self.forget_old(now);
        self.set.contains(fingerprint)
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some((at, f)) = self.order.front().copied() {
            if self.order.len() <= MAX && now.duration_since(at) < KEEP {
                break;
            }
            self.order.pop_front();
            self.set.remove(&f);
        }
    }
}

#[cfg(test)]
mod tests {
    use lapin::types::{AMQPValue, FieldTable};

    use super::*;

    fn props(replays: i64) -> BasicProperties {
        props_delivered(replays, None)
    }

    fn props_delivered(replays: i64, delivery_count: Option<i64>) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert("sj-replay-count".into(), AMQPValue::LongLongInt(replays));
        if let Some(count) = delivery_count {
            headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(count));
        }
        BasicProperties::default().with_message_id("sha256:ab".into()).with_headers(headers)
    }

    #[test]
    fn a_redelivery_is_recognised_and_a_replay_is_not() {
        let mut told = Told::new();
        let now = Instant::now();
        let first = fingerprint(b"{}", &props(0));
        told.emailed([first], now);
        assert!(told.contains(&fingerprint(b"{}", &props(0)), now));
        // A quorum queue's redelivery carries its delivery count: still the same message.
        assert!(told.contains(&fingerprint(b"{}", &props_delivered(0, Some(1))), now));
        assert!(!told.contains(&fingerprint(b"{}", &props(1)), now), "a replay is a new message");
        assert!(!told.contains(&fingerprint(b"{ }", &props(0)), now));
    }

    #[test]
    fn old_and_surplus_entries_are_forgotten() {
        let mut told = Told::new();
        let start = Instant::now();
        told.emailed([[1; 32]], start);
        assert!(!told.contains(&[1; 32], start + KEEP));
        for i in 0..=MAX {
            let mut f = [0; 32];
            f[..8].copy_from_slice(&(i as u64).to_le_bytes());
            told.emailed([f], start);
        }
        assert_eq!(told.set.len(), MAX);
        assert!(!told.contains(&[0; 32], start), "the oldest went first");
    }

    #[test]
    fn a_redelivered_outage_notice_is_recognised_and_jobber_back_is_a_new_message() {
        use sj_shared::message::{JobberOutage, OutageEvent};
        let notice = |event, delivery_count: Option<i64>| {
            let mut headers = FieldTable::default();
            headers.insert("sj-alert".into(), sj_shared::amqp::text(JobberOutage::ALERT));
            if let Some(count) = delivery_count {
                headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(count));
            }
            let properties =
                BasicProperties::default().with_message_id("jobber-outage:1".into()).with_headers(headers);
            fingerprint(&serde_json::to_vec(&JobberOutage::new(event, 1, 2)).unwrap(), &properties)
        };
        let mut told = Told::new();
        let now = Instant::now();
        told.emailed([notice(OutageEvent::Open, None)], now);
        assert!(told.contains(&notice(OutageEvent::Open, Some(1)), now));
        assert!(!told.contains(&notice(OutageEvent::Closed, None), now));
    }
}
