//! The digest email: what it says (subject, plain text and HTML alternatives, per document the fix
//! hint and the ways back) and sending it through SMTP with lettre. A notice of a Jobber outage
//! is an email of its own, in its own words: no document, nothing to replay.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use sj_shared::config::{AlertSettings, SmtpTls};
use sj_shared::message::OutageEvent;

use crate::alert::{Alert, Disposition};
use crate::digest::{Digest, Entry};

/// What every email of one installation shares.
#[derive(Debug, Clone)]
pub struct Context {
    /// The installation's namespace (empty: none), shown in the subject so operators of several
    /// installations tell them apart.
    pub namespace: String,
    /// The parked queue's page in the RabbitMQ management UI.
    pub parked_queue_url: String,
}

impl Context {
    /// `vhost` as it appears in the AMQP URL's path (percent-encoded; empty means `/`).
    pub fn new(settings: &AlertSettings, namespace: &str, vhost: &str, parked_queue: &str) -> Self {
        let vhost = if vhost.is_empty() || vhost == "/" { "%2F" } else { vhost };
        let base = settings.rabbitmq_ui_url.trim_end_matches('/');
        Self {
            namespace: namespace.to_owned(),
            parked_queue_url: format!("{base}/#/queues/{vhost}/{parked_queue}"),
        }
    }
}

/// An email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `[sj-bridge] 3 documents need attention: 2 rejected (parse), 1 parked (mapping)`; for a
/// notice, what it says (`[sj-bridge] Jobber has been failing for every document for 12 min…`).
pub fn subject<T>(digest: &Digest<T>, context: &Context) -> String {
    if let Some(alert) = notice(digest) {
        return format!("{} {}", tag(context), notice_words(alert).subject);
    }
    let entries = digest.entries();
    let mut parts = Vec::new();
    for disposition in [Disposition::Rejected, Disposition::Parked] {
        let of_kind: Vec<&Alert> =
            entries.iter().map(|e| &e.alert).filter(|a| a.disposition == disposition).collect();
        if of_kind.is_empty() {
            continue;
        }
        let mut families: Vec<&str> = of_kind.iter().map(|a| a.family()).collect();
        families.sort_unstable();
        families.dedup();
        parts.push(format!("{} {} ({})", of_kind.len(), disposition.as_str(), families.join(", ")));
    }
    let tag = tag(context);
    let (n, verb) = match entries.len() {
        1 => ("1 document".to_owned(), "needs"),
        n => (format!("{n} documents"), "need"),
    };
    format!("{tag} {n} {verb} attention: {}", parts.join(", "))
}

/// `[sj-bridge]`, with the namespace when there is one: `[sj-bridge acme]`.
fn tag(context: &Context) -> String {
    if context.namespace.is_empty() {
        "[sj-bridge]".to_owned()
    } else {
        format!("[sj-bridge {}]", context.namespace)
    }
}

/// The notice a digest is, if it is one (a notice is always a digest of its own).
fn notice<T>(digest: &Digest<T>) -> Option<&Alert> {
    digest.entries().first().map(|e| &e.alert).filter(|a| a.disposition == Disposition::Notice)
}

/// A notice in the operators' words: the subject (without the tag) and the paragraphs, where
/// `code` is between backticks.
struct NoticeWords {
    subject: String,
    paragraphs: Vec<String>,
}

const NOTHING_LOST: &str = "Nothing is lost: documents wait in sj.quotes and are written when Jobber \
    answers; `sjctl status` shows the circuit breaker.";

fn notice_words(alert: &Alert) -> NoticeWords {
    if alert.kind == sj_shared::failure::KindName::Known(sj_shared::failure::FailureKind::JobberUnauthorized)
    {
        return unauthorized_words(alert);
    }
    let Some(outage) = &alert.outage else {
        return NoticeWords {
            subject: "Jobber is failing for every document".to_owned(),
            paragraphs: vec![
                format!("A worker says Jobber has been failing for every document ({}).", alert.reason),
                NOTHING_LOST.to_owned(),
            ],
        };
    };
    let lasted = how_long(outage.lasted());
    let since = clock(outage.since_ms, outage.at_ms);
    match outage.event {
        OutageEvent::Open => NoticeWords {
            subject: format!("Jobber has been failing for every document for {lasted}"),
            paragraphs: vec![
                format!(
                    "Jobber has been failing for every document for {lasted} (since {since}). {NOTHING_LOST}"
                ),
                "What to do: check Jobber (its status page, this installation's network or proxy, \
                 `sjctl jobber status`). No document was parked for this: none needs a person. \
                 Another email says when Jobber answers again."
                    .to_owned(),
            ],
        },
        OutageEvent::Closed => NoticeWords {
            subject: format!("Jobber answers again after {lasted}"),
            paragraphs: vec![format!(
                "Jobber answers again after {lasted} of failing for every document (since {since}, \
                 back at {}). The documents that waited in sj.quotes are being written now: nothing \
                 to do.",
                clock(outage.at_ms, outage.at_ms)
            )],
        },
    }
}

/// The workers found Jobber refusing the bridge's tokens.
fn unauthorized_words(alert: &Alert) -> NoticeWords {
    let when = alert.first_failure.as_deref().map(|t| format!(" (found {t})")).unwrap_or_default();
    NoticeWords {
        subject: "Jobber refuses the bridge's connection: reconnect it".to_owned(),
        paragraphs: vec![
            "Jobber refuses the bridge's connection: reconnect it in the console (Connections) or with \
             `sjctl jobber connect`; documents wait."
                .to_owned(),
            format!("What the workers were told{when}: {}", alert.reason),
            "No quote is written until Jobber is connected again. Documents wait in sj.quotes; those \
             already in hand go through the retry tiers and are parked if the connection is not back in \
             time: replay them (the console's Parked page, or `sjctl dlq replay`) once connected. This \
             email is sent once per disconnection."
                .to_owned(),
        ],
    }
}

/// `45 s`, `12 min`, `3 h 5 min`: how long an outage lasted.
fn how_long(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=7199 => format!("{} min", s / 60),
        _ if s % 3600 / 60 == 0 => format!("{} h", s / 3600),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// `10:42 UTC` (the day of `today_ms`), else `2026-03-13 10:42 UTC`.
fn clock(ms: u64, today_ms: u64) -> String {
    let rfc = |ms: u64| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string();
    let (at, today) = (rfc(ms), rfc(today_ms));
    if at[..10] == today[..10] {
        format!("{} UTC", &at[11..16])
    } else {
        format!("{} {} UTC", &at[..10], &at[11..16])
    }
}

/// A notice as an email: its words, no document, no replay or purge.
fn render_notice(alert: &Alert, context: &Context) -> Rendered {
    let words = notice_words(alert);
    let subject = format!("{} {}", tag(context), words.subject);
    let mut text = String::new();
    for paragraph in &words.paragraphs {
        let _ = writeln!(text, "{paragraph}\n");
    }
    if alert.outage.is_some()
        || alert.kind
            != sj_shared::failure::KindName::Known(sj_shared::failure::FailureKind::JobberUnauthorized)
    {
        text.push_str("-- \nsj-alerter: a notice from the workers' circuit breaker (alerts.outage_after).\n");
    } else {
        text.push_str("-- \nsj-alerter: a notice from the workers (Jobber refused the bridge's tokens).\n");
    }
    let mut html = String::from("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n");
    for paragraph in &words.paragraphs {
        let mut p = String::new();
        for (i, part) in paragraph.split('`').enumerate() {
            if i % 2 == 1 {
                let _ = write!(p, "<code>{}</code>", escape(part));
            } else {
                p.push_str(&escape(part));
            }
        }
        let _ = writeln!(html, "<p>{p}</p>");
    }
    html.push_str("</body></html>\n");
    Rendered { subject, text, html }
}

/// One document's lines, shared by the text and HTML forms: (label, value).
fn facts<T>(entry: &Entry<T>, context: &Context) -> Vec<(&'static str, String)> {
    let alert = &entry.alert;
    let mut facts = vec![
        ("Customer", alert.customer.clone().unwrap_or_else(|| "(not known)".to_owned())),
        ("Error", alert.kind.to_string()),
        ("Reason", alert.reason.clone()),
    ];
    facts.extend(alert.more_problems.iter().map(|p| ("Also", p.clone())));
    let mut attempts = alert.attempts.to_string();
    if entry.failures > 1 {
        let _ = write!(attempts, " (failed {} times since the last email)", entry.failures);
    }
    facts.push(("Attempts", attempts));
    facts.push(("First failure", alert.first_failure.clone().unwrap_or_else(|| "(not known)".to_owned())));
    if let Some(kept_at) = &alert.kept_at {
        facts.push(("File kept at", kept_at.clone()));
    }
    facts.push(("What to do", alert.kind.hint().to_owned()));
    match alert.disposition {
        Disposition::Parked => {
            facts.push(("Replay", format!("sjctl dlq replay --id {}", alert.parked_id)));
        }
        // Not a document (a notice is rendered on its own): nothing to replay or purge.
        Disposition::Notice => {}
        Disposition::Rejected => {
            // Never a quote message: nothing to replay. The record beside the parked messages
            // only informs; it can go once the file is fixed.
            facts.push((
                "Then",
                format!("sjctl dlq purge --id {}  (its record among the dead letters)", alert.parked_id),
            ));
        }
    }
    facts.push(("Dead letters", context.parked_queue_url.clone()));
    facts
}

fn heading<T>(entry: &Entry<T>) -> String {
    let alert = &entry.alert;
    let what = match alert.disposition {
        Disposition::Rejected => "REJECTED by the poller",
        Disposition::Parked => "PARKED",
        Disposition::Notice => "NOTICE",
    };
    format!("{}: {what}", alert.key.source)
}

/// Renders a digest as an email.
pub fn render<T>(digest: &Digest<T>, context: &Context) -> Rendered {
    if let Some(alert) = notice(digest) {
        return render_notice(alert, context);
    }
    let subject = subject(digest, context);
    let intro = "These Saberis documents did not become Jobber quotes and need a person.";

    let mut text = format!("{intro}\n\n");
    for (i, entry) in digest.entries().iter().enumerate() {
        let _ = writeln!(text, "{}. {}", i + 1, heading(entry));
        for (label, value) in facts(entry, context) {
            let _ = writeln!(text, "   {:<14} {value}", format!("{label}:"));
        }
        text.push('\n');
    }
    text.push_str(
        "-- \nsj-alerter: one email per window of failures; the same document failing again is counted.\n",
    );

    let mut html = String::from("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n");
    let _ = writeln!(html, "<p>{}</p>", escape(intro));
    for (i, entry) in digest.entries().iter().enumerate() {
        let _ = writeln!(html, "<h3>{}. {}</h3>", i + 1, escape(&heading(entry)));
        html.push_str("<table cellpadding=\"3\">\n");
        for (label, value) in facts(entry, context) {
            let value = match label {
                "Replay" | "Then" => format!("<code>{}</code>", escape(&value)),
                "Dead letters" => format!("<a href=\"{0}\">{0}</a>", escape(&value)),
                _ => escape(&value),
            };
            let _ = writeln!(html, "<tr><th align=\"left\" valign=\"top\">{label}</th><td>{value}</td></tr>");
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    Rendered { subject, text, html }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Settings the mailer cannot work with; found at start (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("alerts.{key}: {value:?} is not an email address ({reason})")]
    Address { key: &'static str, value: String, reason: String },
    #[error("alerts.smtp: username and password go together (SJ_ALERTS__SMTP__PASSWORD or alerts.smtp.password_file)")]
    HalfCredentials,
    #[error("alerts.smtp: {0}")]
    Tls(String),
}

/// Why an email did not go out, classified once, here: the loop only reads the class.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server was unreachable, timed out, or answered 4xx: try again later.
    #[error("{0}")]
    Transient(String),
    /// The server refused this email for good (5xx), or it could not be built: retrying the
    /// same email cannot help.
    #[error("{0}")]
    Permanent(String),
}

/// Sends emails to the configured recipients through the configured SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Mailer {
    pub fn new(settings: &AlertSettings) -> Result<Self, MailConfigError> {
        let address = |key: &'static str, value: &str| {
            value.parse::<Mailbox>().map_err(|e| MailConfigError::Address {
                key,
                value: value.to_owned(),
                reason: e.to_string(),
            })
        };
        let from = address("from", &settings.from)?;
        let to = settings.to.iter().map(|t| address("to", t)).collect::<Result<Vec<_>, _>>()?;

        let smtp = &settings.smtp;
        type Transport = AsyncSmtpTransport<Tokio1Executor>;
        let tls_error = |e: lettre::transport::smtp::Error| MailConfigError::Tls(e.to_string());
        let builder = match smtp.tls {
            // No TLS: a relay on the same host or a private network.
            SmtpTls::None => Transport::builder_dangerous(&smtp.host),
            SmtpTls::Starttls => Transport::starttls_relay(&smtp.host).map_err(tls_error)?,
            SmtpTls::Tls => Transport::relay(&smtp.host).map_err(tls_error)?,
        };
        let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout.0));
        match (&smtp.username, &smtp.password) {
            (Some(user), Some(password)) => {
                if smtp.tls == SmtpTls::None {
                    tracing::warn!(host = %smtp.host, "alerts.smtp: sending the password without TLS");
                }
                builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
            }
            (None, None) => {}
            _ => return Err(MailConfigError::HalfCredentials),
        }
        Ok(Self { transport: builder.build(), from, to })
    }

    /// Sends one email; Ok once the server accepted it (250 after DATA).
    pub async fn send(&self, email: &Rendered) -> Result<(), SendError> {
        let mut builder = Message::builder().from(self.from.clone()).subject(&email.subject);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .map_err(|e| SendError::Permanent(format!("cannot build the email: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // 530/534/535/538: the server refuses our login, not this email. Every email would
            // fail the same way until the configuration is fixed, so the alerts wait for it
            // rather than being parked one by one.
            Err(e) if e.status().is_some_and(|code| is_login_refused(&code.to_string())) => {
                Err(SendError::Transient(format!(
                    "the SMTP server refused the login (check alerts.smtp.username and the password): {e}"
                )))
            }
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

/// SMTP codes of a refused authentication (RFC 4954): 530, 534, 535, 538.
fn is_login_refused(code: &str) -> bool {
    matches!(code, "530" | "534" | "535" | "538")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKey;
    use crate::digest::Digests;
    use sj_shared::message::JobberOutage;
    use std::time::{Duration, Instant};

    fn alert(source: &str, disposition: Disposition, kind: &str) -> Alert {
        Alert {
            key: AlertKey { source: source.to_owned(), content_hash: None },
            disposition,
            parked_id: format!("id-{source}"),
            customer: (disposition == Disposition::Parked).then(|| "Harbour Lane <Builders>".to_owned()),
            kind: sj_shared::failure::KindName::parse(kind),
            reason: format!("{kind}: it went wrong"),
            more_problems: Vec::new(),
            attempts: 1,
            first_failure: Some("2026-01-02T03:04:05Z".to_owned()),
            kept_at: (disposition == Disposition::Rejected).then(|| format!("rejected/{source}")),
            outage: None,
        }
    }

    fn context() -> Context {
        let settings = AlertSettings { rabbitmq_ui_url: "http://mq:15672/".to_owned(), ..Default::default() };
        Context::new(&settings, "", "%2f", "sj.quotes.dead")
    }

    fn digest(alerts: Vec<Alert>) -> Digest<()> {
        let t0 = Instant::now();
        let mut digests = Digests::new(Duration::from_secs(1), 50);
        for a in alerts {
            digests.add(a, (), t0);
        }
        digests.close_due(t0 + Duration::from_secs(1));
        digests.take_ready().unwrap()
    }

    #[test]
    fn the_subject_says_how_many_and_what_kind() {
        let d = digest(vec![
            alert("a.xml", Disposition::Rejected, "parse.malformed-xml"),
            alert("b.xml", Disposition::Rejected, "parse.invalid-value"),
            alert("c.json", Disposition::Parked, "mapping.no-customer-name"),
        ]);
        assert_eq!(
            subject(&d, &context()),
            "[sj-bridge] 3 documents need attention: 2 rejected (parse), 1 parked (mapping)"
        );
        let one = digest(vec![alert("a.xml", Disposition::Parked, "jobber.user-error")]);
        let ctx = Context { namespace: "acme".to_owned(), ..context() };
        assert_eq!(subject(&one, &ctx), "[sj-bridge acme] 1 document needs attention: 1 parked (jobber)");
    }

    #[test]
    fn the_dead_letters_page_is_in_the_brokers_virtual_host() {
        let settings = AlertSettings::default();
        let vhost = |url: &str| sj_shared::config::SecretUrl::parse(url).unwrap().path().to_owned();
        let context = Context::new(&settings, "", &vhost("amqp://mq:5672"), "sj.quotes.dead");
        assert_eq!(context.parked_queue_url, "http://127.0.0.1:15672/#/queues/%2F/sj.quotes.dead");
        let context = Context::new(&settings, "", &vhost("amqp://u:p@mq:5672/prod?heartbeat=30"), "q");
        assert_eq!(context.parked_queue_url, "http://127.0.0.1:15672/#/queues/prod/q");
        let context = Context::new(&settings, "", &vhost("amqp://guest:guest@127.0.0.1:5672/%2f"), "q");
        assert_eq!(context.parked_queue_url, "http://127.0.0.1:15672/#/queues/%2f/q");
    }

    fn fix_hint(kind: &str) -> &'static str {
        sj_shared::failure::KindName::parse(kind).hint()
    }

    #[test]
    fn the_fix_hint_is_the_most_specific_one() {
        assert!(fix_hint("parse.too-deep").contains("put it back in incoming/"));
        assert!(fix_hint("sanity.price-above-limit").contains("[sanity]"));
        assert!(fix_hint("mapping.no-customer-name").contains("mapping"));
        assert!(fix_hint("mapping.ambiguous-client").contains("the reason lists them"));
        assert!(fix_hint("routing.quote-missing").contains("po_quote_missing"));
    }

    #[test]
    fn a_refused_login_is_told_apart_from_a_refused_email() {
        assert!(is_login_refused("535") && is_login_refused("530"));
        assert!(!is_login_refused("550") && !is_login_refused("554"));
        assert!(fix_hint("jobber.unauthorized").contains("sjctl jobber connect"));
        assert!(fix_hint("jobber.unavailable").contains("check Jobber"));
        assert_eq!(fix_hint("something.new"), sj_shared::failure::UNKNOWN_KIND_HINT);
    }

    #[test]
    fn the_body_says_what_to_do_for_each_document_in_text_and_html() {
        let d = digest(vec![
            alert("price-slip.xml", Disposition::Rejected, "sanity.price-above-limit"),
            alert("bath.json", Disposition::Parked, "mapping.no-customer-name"),
        ]);
        let mail = render(&d, &context());
        let text = &mail.text;
        assert!(text.contains("1. price-slip.xml: REJECTED by the poller"), "{text}");
        assert!(text.contains("File kept at:  rejected/price-slip.xml"), "{text}");
        assert!(text.contains("2. bath.json: PARKED"), "{text}");
        assert!(text.contains("Customer:      Harbour Lane <Builders>"), "{text}");
        assert!(text.contains("Replay:        sjctl dlq replay --id id-bath.json"), "{text}");
        assert!(text.contains("First failure: 2026-01-02T03:04:05Z"), "{text}");
        assert!(text.contains("http://mq:15672/#/queues/%2f/sj.quotes.dead"), "{text}");
        assert!(!text.contains("failed 1 times"));
        let html = &mail.html;
        assert!(html.contains("Harbour Lane &lt;Builders&gt;"), "escaped: {html}");
        assert!(html.contains("<code>sjctl dlq replay --id id-bath.json</code>"), "{html}");
        assert!(html.contains("<a href=\"http://mq:15672/#/queues/%2f/sj.quotes.dead\">"), "{html}");
    }

    #[test]
    fn a_repeated_document_shows_its_count() {
        let a = alert("a.json", Disposition::Parked, "jobber.unavailable");
        let mail = render(&digest(vec![a.clone(), a]), &context());
        assert!(mail.text.contains("failed 2 times"), "{}", mail.text);
        assert_eq!(mail.text.matches("a.json: PARKED").count(), 1);
    }

    #[test]
    fn addresses_and_credentials_are_checked_at_start() {
        let bad = AlertSettings { to: vec!["not an address".to_owned()], ..Default::default() };
        assert!(matches!(Mailer::new(&bad), Err(MailConfigError::Address { key: "to", .. })));
        let mut half = AlertSettings::default();
        half.smtp.username = Some("me".to_owned());
        assert!(matches!(Mailer::new(&half), Err(MailConfigError::HalfCredentials)));
        assert!(Mailer::new(&AlertSettings::default()).is_ok(), "the defaults work");
    }

    /// A notice as the alerter reads it from `sj.alerts`.
    fn outage(event: OutageEvent, since_ms: u64, at_ms: u64) -> Alert {
        let mut table = lapin::types::FieldTable::default();
        table.insert(sj_shared::amqp::header::ALERT.into(), sj_shared::amqp::text(JobberOutage::ALERT));
        let properties =
            lapin::BasicProperties::default().with_type(JobberOutage::SCHEMA.into()).with_headers(table);
        let body = serde_json::to_vec(&JobberOutage::new(event, since_ms, at_ms)).unwrap();
        Alert::from_delivery(&body, &properties)
    }

    /// 2026-03-14T10:42:00Z, in Unix ms.
    const SINCE: u64 = 1_773_484_920_000;
    const MINUTE: u64 = 60_000;

    #[test]
    fn an_outage_notice_says_so_in_the_operators_words_and_never_names_a_replay() {
        let d = digest(vec![outage(OutageEvent::Open, SINCE, SINCE + 12 * MINUTE + 5_000)]);
        let ctx = Context { namespace: "acme".to_owned(), ..context() };
        let mail = render(&d, &ctx);
        assert_eq!(mail.subject, "[sj-bridge acme] Jobber has been failing for every document for 12 min");
        assert_eq!(subject(&d, &ctx), mail.subject);
        let text = &mail.text;
        assert!(
            text.starts_with(
                "Jobber has been failing for every document for 12 min (since 10:42 UTC). Nothing is lost: \
                 documents wait in sj.quotes and are written when Jobber answers; `sjctl status` shows the \
                 circuit breaker."
            ),
            "{text}"
        );
        assert!(text.contains("Another email says when Jobber answers again"), "{text}");
        for never in ["replay", "purge", "PARKED", "REJECTED", "need attention", "Dead letters"] {
            assert!(!text.contains(never) && !mail.html.contains(never), "{never}: {text}\n{}", mail.html);
        }
        assert!(mail.html.contains("<code>sjctl status</code> shows the circuit breaker"), "{}", mail.html);
    }

    #[test]
    fn a_notice_that_jobber_refuses_the_tokens_says_how_to_reconnect() {
        let notice = sj_shared::message::JobberUnauthorized::new(
            "tokens-ab12",
            SINCE,
            "Jobber refused the token refresh",
        );
        let mut table = lapin::types::FieldTable::default();
        table.insert(
            sj_shared::amqp::header::ALERT.into(),
            sj_shared::amqp::text(sj_shared::message::JobberUnauthorized::ALERT),
        );
        let properties = lapin::BasicProperties::default().with_headers(table);
        let alert = Alert::from_delivery(&serde_json::to_vec(&notice).unwrap(), &properties);
        let mail = render(&digest(vec![alert]), &context());
        assert_eq!(mail.subject, "[sj-bridge] Jobber refuses the bridge's connection: reconnect it");
        assert!(
            mail.text.starts_with(
                "Jobber refuses the bridge's connection: reconnect it in the console (Connections) or with \
                 `sjctl jobber connect`; documents wait."
            ),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("Jobber refused the token refresh"), "{}", mail.text);
        assert!(mail.html.contains("<code>sjctl jobber connect</code>"), "{}", mail.html);
        assert!(!mail.text.contains("circuit breaker") && !mail.text.contains("PARKED"), "{}", mail.text);
    }

    #[test]
    fn jobber_answering_again_is_a_notice_too() {
        let back = SINCE + 14 * MINUTE + 30_000;
        let mail = render(&digest(vec![outage(OutageEvent::Closed, SINCE, back)]), &context());
        assert_eq!(mail.subject, "[sj-bridge] Jobber answers again after 14 min");
        assert!(mail.text.contains("(since 10:42 UTC, back at 10:56 UTC)"), "{}", mail.text);
        assert!(!mail.text.contains("sjctl dlq"), "{}", mail.text);
        // An outage over a day: hours, and the day it began.
        let long =
            render(&digest(vec![outage(OutageEvent::Open, SINCE, SINCE + 26 * 60 * MINUTE)]), &context());
        assert!(long.text.contains("for 26 h (since 2026-03-14 10:42 UTC)"), "{}", long.text);
    }

    #[test]
    fn a_notice_it_cannot_read_is_still_a_notice() {
        let mut table = lapin::types::FieldTable::default();
        table.insert(sj_shared::amqp::header::ALERT.into(), sj_shared::amqp::text(JobberOutage::ALERT));
        let alert = Alert::from_delivery(
            b"{\"schema\":\"sj.jobber-outage.v9\"}",
            &lapin::BasicProperties::default().with_headers(table),
        );
        assert_eq!(alert.disposition, Disposition::Notice);
        let mail = render(&digest(vec![alert]), &context());
        assert_eq!(mail.subject, "[sj-bridge] Jobber is failing for every document");
        assert!(mail.text.contains("Nothing is lost"), "{}", mail.text);
        assert!(!mail.text.contains("sjctl dlq"), "{}", mail.text);
    }

    #[test]
    fn how_long_an_outage_lasted() {
        let s = Duration::from_secs;
        assert_eq!(how_long(s(45)), "45 s");
        assert_eq!(how_long(s(12 * 60 + 59)), "12 min");
        assert_eq!(how_long(s(119 * 60)), "119 min");
        assert_eq!(how_long(s(3 * 3600)), "3 h");
        assert_eq!(how_long(s(3 * 3600 + 5 * 60)), "3 h 5 min");
    }
}
