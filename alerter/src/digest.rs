//! Grouping alerts into emails: pure logic, no I/O, time passed in.
//!
//! A window opens with the first alert and closes `window` later (or earlier, when a new document
//! would make it hold more than `max_per_mail`): everything that arrived meanwhile is one digest,
//! one email. The same document failing again while its digest waits is counted, not repeated.
//! A notice (a Jobber outage: [`Disposition::Notice`]) is no document: it is an email of its own,
//! sent at once, never mixed with documents.
//! Each digest keeps the delivery tokens (`T`: the AMQP acker in the process, anything in tests)
//! of every message it stands for, so they are acked together once the email was accepted.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::alert::{Alert, AlertKey, Disposition};

/// One document in a digest.
#[derive(Debug)]
pub struct Entry<T> {
    /// The latest alert about it (the newest attempts count and reason).
    pub alert: Alert,
    /// How many dead letters about it arrived while this digest was open or waiting.
    pub failures: usize,
    tokens: Vec<T>,
}

/// What one email says.
#[derive(Debug)]
pub struct Digest<T> {
    closes_at: Instant,
    entries: Vec<Entry<T>>,
}

impl<T> Digest<T> {
    pub fn entries(&self) -> &[Entry<T>] {
        &self.entries
    }

    /// The delivery tokens of every message this digest stands for.
    pub fn into_tokens(self) -> impl Iterator<Item = T> {
        self.entries.into_iter().flat_map(|e| e.tokens)
    }

    /// One digest per document: to tell which one a mail server refuses.
    pub fn split(self) -> Vec<Digest<T>> {
        let closes_at = self.closes_at;
        self.entries.into_iter().map(|entry| Digest { closes_at, entries: vec![entry] }).collect()
    }

    fn find(&mut self, key: &AlertKey) -> Option<&mut Entry<T>> {
        self.entries.iter_mut().find(|e| &e.alert.key == key)
    }
}

/// The digests of one consumer: the open one, and the closed ones waiting for the mail server.
#[derive(Debug)]
pub struct Digests<T> {
    window: Duration,
    max_per_mail: usize,
    open: Option<Digest<T>>,
    ready: VecDeque<Digest<T>>,
}

impl<T> Digests<T> {
    pub fn new(window: Duration, max_per_mail: usize) -> Self {
        assert!(max_per_mail > 0, "validated by the configuration");
        Self { window, max_per_mail, open: None, ready: VecDeque::new() }
    }

    /// Adds an alert that arrived at `now`, with its delivery token.
    pub fn add(&mut self, alert: Alert, token: T, now: Instant) {
        // The same document again, anywhere not yet sent: counted there (the newest details win,
        // so the email shows the latest attempts count).
        let mut waiting = self.ready.iter_mut().chain(self.open.as_mut());
        if let Some(entry) = waiting.find_map(|d| d.find(&alert.key)) {
            entry.failures += 1;
            entry.tokens.push(token);
            let first_failure = entry.alert.first_failure.take().or(alert.first_failure);
            entry.alert = Alert { first_failure, ..alert };
            return;
        }
        self.close_due(now);
        if alert.disposition == Disposition::Notice {
            let entry = Entry { alert, failures: 1, tokens: vec![token] };
            self.ready.push_back(Digest { closes_at: now, entries: vec![entry] });
            return;
        }
        if self.open.as_ref().is_some_and(|d| d.entries.len() >= self.max_per_mail) {
            self.ready.extend(self.open.take());
        }
        let window = self.window;
        let open = self.open.get_or_insert_with(|| Digest { closes_at: now + window, entries: Vec::new() });
        open.entries.push(Entry { alert, failures: 1, tokens: vec![token] });
    }

    /// When the open digest closes, if one is open.
    pub fn next_close(&self) -> Option<Instant> {
        self.open.as_ref().map(|d| d.closes_at)
    }

    /// Closes the open digest if its window has passed.
    pub fn close_due(&mut self, now: Instant) {
        if self.open.as_ref().is_some_and(|d| d.closes_at <= now) {
            self.ready.extend(self.open.take());
        }
    }

    /// The oldest closed digest, to send now. While it is away it takes no more repeats.
    pub fn take_ready(&mut self) -> Option<Digest<T>> {
        self.ready.pop_front()
    }

    /// Digests that could not be sent yet go back to the front, in their order.
    pub fn put_back(&mut self, digests: Vec<Digest<T>>) {
        for digest in digests.into_iter().rev() {
            self.ready.push_front(digest);
        }
    }

    /// Alerts held (open or waiting), for the logs.
    pub fn held(&self) -> usize {
        self.ready.iter().chain(self.open.as_ref()).map(|d| d.entries.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(source: &str, attempts: i64) -> Alert {
        Alert {
            key: AlertKey {
                source: source.to_owned(),
                content_hash: Some(sj_shared::ids::ContentHash::new(format!("sha256:{source}"))),
            },
            disposition: Disposition::Parked,
            parked_id: source.to_owned(),
            customer: None,
            kind: sj_shared::failure::KindName::parse("mapping.no-customer-name"),
            reason: "no name".to_owned(),
            more_problems: Vec::new(),
            attempts,
            first_failure: Some(format!("first-{attempts}")),
            kept_at: None,
            outage: None,
        }
    }

    const WINDOW: Duration = Duration::from_secs(60);

    fn sources<T>(digest: &Digest<T>) -> Vec<&str> {
        digest.entries().iter().map(|e| e.alert.key.source.as_str()).collect()
    }

    #[test]
    fn failures_within_the_window_make_one_digest() {
        let t0 = Instant::now();
        let mut digests = Digests::new(WINDOW, 50);
        digests.add(alert("a.xml", 1), 1, t0);
        digests.add(alert("b.xml", 1), 2, t0 + Duration::from_secs(30));
        assert_eq!(digests.next_close(), Some(t0 + WINDOW));
        digests.close_due(t0 + Duration::from_secs(59));
        assert!(digests.take_ready().is_none(), "the window is still open");
        digests.close_due(t0 + WINDOW);
        let digest = digests.take_ready().expect("closed");
        assert_eq!(sources(&digest), ["a.xml", "b.xml"]);
        assert_eq!(digest.into_tokens().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(digests.next_close(), None);
    }

    #[test]
    fn a_failure_after_the_window_starts_the_next_digest() {
        let t0 = Instant::now();
        let mut digests = Digests::new(WINDOW, 50);
        digests.add(alert("a.xml", 1), 1, t0);
        digests.add(alert("b.xml", 1), 2, t0 + WINDOW + Duration::from_secs(1));
        assert_eq!(sources(&digests.take_ready().unwrap()), ["a.xml"]);
        assert_eq!(digests.next_close(), Some(t0 + 2 * WINDOW + Duration::from_secs(1)));
    }

    #[test]
    fn the_same_document_again_is_counted_not_repeated() {
        let t0 = Instant::now();
        let mut digests = Digests::new(WINDOW, 50);
        digests.add(alert("a.xml", 1), 1, t0);
        digests.add(alert("b.xml", 1), 2, t0);
        digests.add(alert("a.xml", 3), 3, t0 + Duration::from_secs(1));
        digests.close_due(t0 + WINDOW);
        let digest = digests.take_ready().unwrap();
        assert_eq!(sources(&digest), ["a.xml", "b.xml"]);
        let a = &digest.entries()[0];
        assert_eq!((a.failures, a.alert.attempts), (2, 3), "newest attempts, both failures counted");
        assert_eq!(a.alert.first_failure.as_deref(), Some("first-1"), "the first failure stays the first");
        assert_eq!(digest.into_tokens().collect::<Vec<_>>(), [1, 3, 2], "every delivery is acked with it");
    }

    #[test]
    fn one_file_name_with_two_contents_is_two_documents() {
        let t0 = Instant::now();
        let mut digests = Digests::new(WINDOW, 50);
        let mut other = alert("a.xml", 1);
        other.key.content_hash = Some(sj_shared::ids::ContentHash::new("sha256:other"));
        digests.add(alert("a.xml", 1), 1, t0);
        digests.add(other, 2, t0);
        digests.close_due(t0 + WINDOW);
        assert_eq!(digests.take_ready().unwrap().entries().len(), 2);
    }

    #[test]
    fn more_documents_than_one_mail_holds_make_several_digests() {
        let t0 = Instant::now();
        let mut digests = Digests::new(WINDOW, 2);
        for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            digests.add(alert(name, 1), i, t0);
        }
        // A repeat of a document in a full digest still joins it.
        digests.add(alert("a", 2), 99, t0);
        digests.close_due(t0 + WINDOW);
        let all: Vec<Vec<String>> = std::iter::from_fn(|| digests.take_ready())
            .map(|d| sources(&d).into_iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(all, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
    }

    #[test]
    fn a_repeat_while_the_mail_server_is_down_joins_the_waiting_digest() {
        let t0 = Instant::now();
        let mut digests = Digests::new(WINDOW, 50);
        digests.add(alert("a.xml", 1), 1, t0);
        digests.close_due(t0 + WINDOW);
        let away = digests.take_ready().unwrap();
        digests.put_back(vec![away]); // the send failed
        digests.add(alert("a.xml", 2), 2, t0 + 2 * WINDOW);
        assert_eq!(digests.next_close(), None, "no new digest for a repeat");
        let digest = digests.take_ready().unwrap();
        assert_eq!(digest.entries()[0].failures, 2);
    }

    #[test]
    fn a_digest_splits_into_one_per_document() {
        let t0 = Instant::now();
        let mut digests = Digests::new(WINDOW, 50);
        digests.add(alert("a", 1), 1, t0);
        digests.add(alert("b", 1), 2, t0);
        digests.add(alert("a", 1), 3, t0);
        digests.close_due(t0 + WINDOW);
        let parts = digests.take_ready().unwrap().split();
        let tokens: Vec<Vec<i32>> = parts.into_iter().map(|d| d.into_tokens().collect()).collect();
        assert_eq!(tokens, [vec![1, 3], vec![2]]);
    }

    fn notice(since: u64) -> Alert {
        let mut a = alert(&format!("Jobber outage since {since}"), 0);
        a.disposition = Disposition::Notice;
        a.key.content_hash = None;
        a
    }

    #[test]
    fn a_notice_is_an_email_of_its_own_at_once() {
        let t0 = Instant::now();
        let mut digests = Digests::new(WINDOW, 50);
        digests.add(alert("a.xml", 1), 1, t0);
        digests.add(notice(1), 2, t0 + Duration::from_secs(1));
        digests.add(alert("b.xml", 1), 3, t0 + Duration::from_secs(2));
        let first = digests.take_ready().expect("the notice, before the window closes");
        assert_eq!(sources(&first), ["Jobber outage since 1"]);
        assert_eq!(first.into_tokens().collect::<Vec<_>>(), [2]);
        digests.close_due(t0 + WINDOW);
        assert_eq!(sources(&digests.take_ready().unwrap()), ["a.xml", "b.xml"], "documents unmixed");
        // A second copy of the same notice while the first waits is counted, not a second email.
        digests.add(notice(7), 4, t0 + WINDOW);
        digests.add(notice(7), 5, t0 + WINDOW);
        let only = digests.take_ready().unwrap();
        assert_eq!(only.entries()[0].failures, 2);
        assert!(digests.take_ready().is_none());
    }
}
