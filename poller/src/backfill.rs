//! The backfill (`sj-poller --once --since DATE [--until DATE] [--limit N] [--dry-run]`): what it
//! asks for, and how a document it would take is described. Documents "before the bridge" are the
//! ones the first start of an installation held back (`poller.*.start_from`): the files moved to
//! `poller.folder.before_bridge`, and the GUIDs SaberisConnect listed at the first poll, recorded
//! in Redis as "before the bridge". Each source finds its own (`folder`, `saberis_connect`); this
//! module is what they share.

use sj_shared::message::QuoteRequest;

/// What the backfill takes: documents before the bridge dated `since..=until`, oldest first, at
/// most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The first day taken (ISO `YYYY-MM-DD`).
    pub since: String,
    /// The last day taken, inclusive; `None`: up to today.
    pub until: Option<String>,
    /// At most this many documents, the oldest first (both sources together).
    pub limit: Option<usize>,
    /// Print what would be published; publish and record nothing.
    pub dry_run: bool,
}

impl Window {
    /// Whether a document dated `day` is in the window (an undated one never is).
    pub fn contains(&self, day: Option<&str>) -> bool {
        let Some(day) = day else { return false };
        day >= self.since.as_str() && self.until.as_deref().is_none_or(|until| day <= until)
    }

    /// `2025-07-01 to 2025-07-31`, `2025-07-01 on`.
    pub fn describe(&self) -> String {
        match &self.until {
            Some(until) => format!("dated {} to {until}", self.since),
            None => format!("dated {} or later", self.since),
        }
    }
}

/// One document the backfill would take, as the dry run prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `folder` or `saberis-connect`.
    pub source: &'static str,
    /// The file's name or the GUID.
    pub id: String,
    /// The document's date (ISO), or for a file without one its modification day.
    pub date: Option<String>,
    /// The customer's name, else the address, else why there is none.
    pub customer: String,
    /// The document's selling total as Saberis priced it (before the dealer's markups), or why
    /// there is none.
    pub total: String,
}

impl Candidate {
    /// From a document read (without the sanity rules, so that the dry run shows what a refused
    /// one is too).
    pub fn of(source: &'static str, id: &str, request: &QuoteRequest) -> Candidate {
        let customer = &request.customer;
        let customer = match customer.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => {
                let address = &customer.address;
                let parts: Vec<&str> = [address.street1.as_deref(), address.city.as_deref()]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                if parts.is_empty() {
                    "(no customer name or address)".to_owned()
                } else {
                    format!("(no name) {}", parts.join(", "))
                }
            }
        };
        Candidate {
            source,
            id: id.to_owned(),
            date: request.document.date.clone(),
            customer,
            total: format!("{:.2}", request.totals.selling),
        }
    }

    /// A document that could not be read: its date from elsewhere (a file's modification day).
    pub fn unreadable(source: &'static str, id: &str, date: Option<String>, why: &str) -> Candidate {
        Candidate {
            source,
            id: id.to_owned(),
            date,
            customer: format!("(unreadable: {why})"),
            total: "-".to_owned(),
        }
    }

    /// The dry run's line: source, file or GUID, date, customer, total.
    pub fn line(&self) -> String {
        format!(
            "  {:<15} {:<40} {:<10}  {}  total {}",
            self.source,
            self.id,
            self.date.as_deref().unwrap_or("(no date)"),
            self.customer,
            self.total
        )
    }
}

/// The command that takes documents before the bridge, as the logs and messages quote it.
pub const HOW_TO_TAKE: &str =
    "sj-poller --once --since YYYY-MM-DD [--until YYYY-MM-DD] [--limit N] [--dry-run] (docs/operations.md, \"Connecting for the first time\")";

/// Sorts candidates the oldest first (then by name) and keeps at most `limit` of them.
pub fn oldest_first<T>(items: &mut Vec<(Candidate, T)>, limit: Option<usize>) {
    items.sort_by(|(a, _), (b, _)| (a.date.as_deref(), &a.id).cmp(&(b.date.as_deref(), &b.id)));
    if let Some(limit) = limit {
        items.truncate(limit);
    }
}

/// The UTC day of a time, ISO.
pub fn day_of(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_inclusive_and_undated_documents_are_outside() {
        let w = Window {
            since: "2025-07-01".into(),
            until: Some("2025-07-31".into()),
            limit: None,
            dry_run: false,
        };
        assert!(w.contains(Some("2025-07-01")) && w.contains(Some("2025-07-31")));
        assert!(!w.contains(Some("2025-06-30")) && !w.contains(Some("2025-08-01")) && !w.contains(None));
        let open = Window { until: None, ..w };
        assert!(open.contains(Some("2099-01-01")));
    }

    #[test]
    fn oldest_first_then_limited() {
        let c = |id: &str, date: &str| (Candidate::unreadable("folder", id, Some(date.into()), "x"), ());
        let mut items = vec![c("b", "2025-07-02"), c("a", "2025-07-03"), c("c", "2025-07-01")];
        oldest_first(&mut items, Some(2));
        assert_eq!(items.iter().map(|(c, _)| c.id.as_str()).collect::<Vec<_>>(), ["c", "b"]);
    }
}
